"""The small-cell rule (:func:`small_count`) and category levels resting on few patients,
pooled into "other": the one place of both in the package.

The report folds small levels of Table 1, the migration sites and the Cox model with it
(:mod:`toh.reports.document.disclosure` re-exports it), so a level of fewer than ``min_cell`` patients
is never printed on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["OTHER", "fold_levels", "small_count"]

#: The label of the folded levels.
OTHER = "other"


def small_count(n: float, min_cell: int) -> bool:
    """True for a count of people the small-cell rule hides: from 1 to ``min_cell - 1`` (0 is
    shown: nobody is described by it).  Every layer asks this function (the report's
    disclosure audit, its figures, a site's bundle), so the rule is written once."""
    return 0 < n < min_cell


def fold_levels(counts: Mapping[str, int], min_cell: int) -> dict[str, list[str]]:
    """Levels of a category, with those resting on fewer than ``min_cell`` patients folded into
    :data:`OTHER`.

    Levels with a count from 1 to ``min_cell - 1`` are folded; while "other" is itself from 1 to
    ``min_cell - 1`` (one small level folded alone is as small as before) the smallest remaining
    level is folded too, as long as one level stays apart.  A level already named "other" takes
    the folded ones in; a zero level stays apart.  What is left can still be small (every level
    small); its count goes through the audit like any other.

    Returns
    -------
    dict
        Shown label -> the levels it counts, in the order of ``counts`` with "other" last.
    """
    order = list(counts)
    small = [lv for lv in order if small_count(counts[lv], min_cell)]
    folded = set(small) | ({OTHER} if small and OTHER in counts else set())
    rest = sorted((lv for lv in order if lv not in folded and counts[lv] > 0),
                  key=lambda lv: (counts[lv], order.index(lv)))
    while folded and small_count(sum(counts[lv] for lv in folded), min_cell) and len(rest) > 1:
        folded.add(rest.pop(0))
    if len(folded) == 1 and OTHER not in counts:
        folded = set()  # "other" of one level is that level: nothing gained by the name
    out = {lv: [lv] for lv in order if lv not in folded}
    if folded:
        out[OTHER] = [lv for lv in order if lv in folded]
    return out
