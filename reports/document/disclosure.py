"""Disclosure control of the whole report: the small-cell rule, the linear relations between the
counts a report publishes, an audit of what those relations reveal, and secondary suppression.

A count about people ``c`` is *sensitive* when ``0 < c < min_cell``
(:func:`toh.analyses.levels.small_count`, the rule's one place);
a sensitive count is never printed (primary suppression).  Printing the other counts can still
give it back by arithmetic: a table's margin is the sum of its cells, a stratum's count is its
total minus the other strata, the numbers at risk by group add up to the overall number, the
migration sites add up to the migrations, a share's complement is its denominator minus its
numerator.  Such facts are declared as :class:`Relation` s between :class:`Cell` s.

The audit (:func:`audit`) solves, for every hidden count and each direction, the linear program

    minimise / maximise  x_k
    subject to           A_eq x = b_eq,  A_ub x <= b_ub,  lower <= x <= upper

whose variables ``x`` are the hidden counts and whose (in)equalities are the declared relations
with the published values substituted (``scipy.optimize.linprog``, method ``"highs"``; each
program holds only the hidden counts that relations link to ``x_k``, a count in no relation
takes its bounds without one, and :func:`protect` solves each distinct program once).  The
bounds are what the printed text tells a reader: a sensitive count shows "<min_cell", so it lies
in ``[1, min_cell - 1]``; a count hidden by secondary suppression shows "not shown" and is at
least ``min_cell`` (zeros are never hidden that way); a count never printed (a complement) lies
in ``[0, upper]``.  The result ``[lo, hi]`` is the range a reader can narrow the hidden count to.
Counts are integers, but integer programming is not needed: the range of the linear relaxation
contains every integer solution, so ``[ceil(lo), floor(hi)]`` is a valid outer bound of what a
reader who knows the counts are integers can learn.

A sensitive count is *exposed* when that range, cut to 1 to ``min_cell - 1`` (the count is
small), is narrower than half of what "<min_cell" says (:func:`protection_width`: at least three
possible values for ``min_cell`` 5, so "1 or 2" is exposed and "2 to 4" is not; a count pinned
exactly is the extreme case).  The labels have to be read: with bounds ``[0, inf)`` for every
hidden count the plainer rule "no hidden count's range is narrower than min_cell" is met by
patterns that give counts back, because "<5" beside "not shown" tells the reader which hidden
count is small: in a registry of 7 patients printed as "7 | not shown | <5", the women are
7 - men <= 2.  A sum of hidden small counts is at least 2, which the rule lets pass.

Secondary suppression (:func:`protect`): while a sensitive count is exposed, one more published
count is hidden and the audit is run again.  The candidates are the counts about people of
``min_cell`` or more reachable from the exposed one through the relations, breadth first (the
relations holding it, then those of the hidden counts they link to), ranked inner cells before
margins (a margin is printed in many places and hiding it rarely protects: in a 2 x 2 table with
margins the three other inner cells are what protects one), nearer before farther, smaller
before larger, then in the order the cells were declared.  Of the first :data:`LOOKAHEAD` in
rank, the first whose hiding leaves the exposed count unexposed is hidden, or when none does,
the one that leaves it the widest range (the first in rank among equals).  Every round hides one
more cell of a finite set, so it ends.  A count that stays exposed once nothing more can be
hidden is usually given away by its own label: in a registry of 7 patients (a total every report
prints) with "not shown" men, "<5" women are 7 minus at least 5.  Such counts are *masked*: shown
as "not shown" too, so that no label says which hidden count is small; from then on the audit
reads every "not shown" as anything from 0 up (as statistical offices do with one symbol for
every suppressed cell), and suppression goes on.  What stays exposed even so is reported in
:attr:`Protection.residual`.  The same cells and relations, declared in
the same order, give the same pattern.

Counts that are not about people (warnings, validation rules, files, bootstrap draws) are
declared with ``people=False`` and never hidden.  Summary statistics of a group smaller than
``min_cell`` are not shown (:func:`summary_shown`), and category levels resting on fewer than
``min_cell`` patients are folded into "other" (:func:`fold_levels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from toh.analyses.levels import OTHER, fold_levels, small_count
from toh.reports.document._programs import Program as _Program
from toh.reports.document._programs import groups as _groups, program as _program, solve as _solve

__all__ = ["Cell", "Relation", "Protection", "sensitive", "total_of", "at_most", "complement_of", "audit",
           "protect", "small_range", "protection_width", "summary_shown", "fold_levels", "OTHER"]

_TOL = 1e-7


@dataclass(frozen=True)
class Cell:
    """One count of the report.

    Attributes
    ----------
    key
        Unique name of the count (the same count printed twice is one cell).
    value
        The true count.
    published
        False for a count the report never prints but which a reader can derive (a share's
        complement, the patients not in any listed level): it is a variable of every audit.
    people
        False for counts that are not about people (warnings, rules, files): never hidden.
    upper
        A known upper bound, if any (otherwise the relations alone bound it).
    fixed
        Always printed, whatever its size: the number of patients the report describes (a
        report has to say it; it is the registry's size, not a group's).  Never hidden, never
        a target of the audit.
    """

    key: str
    value: float
    published: bool = True
    people: bool = True
    upper: float | None = None
    fixed: bool = False


@dataclass(frozen=True)
class Relation:
    """A linear relation ``sum(coefficient * cell) == 0`` (``kind`` "eq") or ``<= 0`` ("le").

    Attributes
    ----------
    group
        Name of the relation (the table, variable and column it belongs to).
    terms
        ``(cell key, coefficient)`` pairs.
    kind
        "eq" or "le".
    """

    group: str
    terms: tuple[tuple[str, float], ...]
    kind: str = "eq"

    def keys(self) -> tuple[str, ...]:
        """The cells of the relation, in order."""
        return tuple(k for k, _ in self.terms)


def total_of(group: str, total: str, parts: Sequence[str]) -> Relation:
    """``total == sum(parts)``: a margin, a stratum set against its total, sites against migrations."""
    return Relation(group, ((total, 1.0), *((p, -1.0) for p in parts)))


def at_most(group: str, part: str, whole: str) -> Relation:
    """``part <= whole``: a numerator against its denominator."""
    return Relation(group, ((part, 1.0), (whole, -1.0)), "le")


def complement_of(group: str, complement: str, numerator: str, denominator: str) -> Relation:
    """``complement == denominator - numerator``."""
    return Relation(group, ((complement, 1.0), (numerator, 1.0), (denominator, -1.0)))


def sensitive(cell: Cell, min_cell: int) -> bool:
    """True for a count about people with ``0 < value < min_cell`` (not the report's fixed total)."""
    return cell.people and not cell.fixed and small_count(cell.value, min_cell)


def summary_shown(n: float | None, min_cell: int) -> bool:
    """Whether the median, IQR, mean, sd, min or max of a group of ``n`` may be shown: not for a
    group of 1 to ``min_cell - 1`` (they would give its members' values back)."""
    return n is not None and not small_count(n, min_cell)


def _check(cells: Sequence[Cell], relations: Sequence[Relation]) -> dict[str, Cell]:
    by_key: dict[str, Cell] = {}
    for cell in cells:
        if cell.key in by_key and by_key[cell.key].value != cell.value:
            raise ValueError(f"cell {cell.key!r} declared with two values ({by_key[cell.key].value}, {cell.value})")
        by_key.setdefault(cell.key, cell)
    for relation in relations:
        if relation.kind not in {"eq", "le"}:
            raise ValueError(f"relation {relation.group!r}: kind must be 'eq' or 'le', not {relation.kind!r}")
        unknown = [k for k in relation.keys() if k not in by_key]
        if unknown:
            raise ValueError(f"relation {relation.group!r} names undeclared cells {unknown}")
        total = sum(c * by_key[k].value for k, c in relation.terms)
        if (relation.kind == "eq" and abs(total) > 1e-6) or (relation.kind == "le" and total > 1e-6):
            raise ValueError(f"relation {relation.group!r} does not hold for the true counts ({total:g})")
    return by_key


def audit(cells: Sequence[Cell], relations: Sequence[Relation], hidden: Iterable[str],
          targets: Iterable[str] | None = None, min_cell: int | None = None,
          masked: Iterable[str] = ()) -> dict[str, tuple[float, float]]:
    """The range ``[lo, hi]`` of each hidden count that is consistent with everything published.

    Parameters
    ----------
    cells, relations
        The report's counts and the relations between them.
    hidden
        Keys of the counts not printed (unpublished cells are always hidden).
    targets
        The hidden counts whose range is wanted (default: all of them).
    min_cell
        When given, what the report prints in place of a hidden count is part of what the reader
        knows: a sensitive count shows "<min_cell", so it lies in ``[1, min_cell - 1]``; any
        other hidden count shows "not shown" and lies in ``[min_cell, upper]`` (a zero is never
        hidden by secondary suppression).  Without it every hidden count lies in ``[0, upper]``.
    masked
        Sensitive counts shown as "not shown" instead of "<min_cell" (:func:`protect`).  When
        there are any, "not shown" no longer tells the reader a count is large: every count
        shown so lies in ``[0, upper]``, and only the counts still shown as "<min_cell" in
        ``[1, min_cell - 1]``.

    Returns
    -------
    dict
        key -> (lo, hi); ``hi`` is ``inf`` when nothing bounds the count from above.
    """
    return _audit(_check(cells, relations), relations, hidden, targets, min_cell, masked, {})


def _audit(by_key: Mapping[str, Cell], relations: Sequence[Relation], hidden: Iterable[str],
           targets: Iterable[str] | None, min_cell: int | None, masked: Iterable[str],
           memo: dict[_Program, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """:func:`audit` of checked cells; ``memo`` holds the ranges of the programs solved before.

    The hidden counts fall into groups that no relation links (the connected components of the
    relations, published values substituted): a count's range depends on its group alone, so
    each target's program holds its group's counts and relations only, a count in no relation
    takes its bounds without a program, and a program solved before (a group that the cell
    hidden since did not touch, in :func:`protect`'s rounds) is not solved again.
    """
    hide = {k for k in hidden} | {k for k, c in by_key.items() if not c.published}
    variables = [k for k in by_key if k in hide]
    index = {k: i for i, k in enumerate(variables)}
    rows: dict[str, tuple[list[np.ndarray], list[float]]] = {"eq": ([], []), "le": ([], [])}
    for relation in relations:
        row = np.zeros(len(variables))
        rhs = 0.0
        for key, coefficient in relation.terms:
            if key in index:
                row[index[key]] += coefficient
            else:
                rhs -= coefficient * by_key[key].value
        if np.any(row != 0):
            rows[relation.kind][0].append(row)
            rows[relation.kind][1].append(rhs)
    masked = frozenset(masked)

    def bound(cell: Cell) -> tuple[float, float | None]:
        if min_cell is None or not cell.published:
            return (0.0, cell.upper)
        if sensitive(cell, min_cell) and cell.key not in masked:
            return (1.0, float(min_cell - 1))
        return (0.0, cell.upper) if masked else (float(min_cell), cell.upper)

    bounds = [bound(by_key[k]) for k in variables]
    group = _groups(len(variables), [r for kind in ("eq", "le") for r in rows[kind][0]])
    held = {kind: [int(group[np.flatnonzero(r)[0]]) for r in rows[kind][0]] for kind in ("eq", "le")}
    wanted = variables if targets is None else [k for k in variables if k in set(targets)]
    out: dict[str, tuple[float, float]] = {}
    for key in wanted:
        label = group[index[key]]
        members = np.flatnonzero(group == label)
        mine = {kind: [i for i, g in enumerate(held[kind]) if g == label] for kind in ("eq", "le")}
        if not mine["eq"] and not mine["le"]:
            low, high = bounds[index[key]]
            out[key] = (low, np.inf if high is None else high)  # what linprog gives for a free-standing count
            continue
        program = _program(members, index[key], bounds, rows, mine)
        if program not in memo:
            memo[program] = _solve(program, len(members), key)
        out[key] = memo[program]
    return out


@dataclass(frozen=True)
class Protection:
    """The suppression pattern of a report and its audit.

    Attributes
    ----------
    min_cell
        The rule's threshold.
    primary
        Published sensitive counts (hidden, shown as "<min_cell").
    secondary
        Published counts hidden so that the relations do not give a sensitive count back.
    ranges
        Audit of the final pattern: key -> (lo, hi) for every hidden sensitive count.
    residual
        Sensitive counts still exposed when nothing more could be hidden or masked.
    masked
        Sensitive counts shown as "not shown" like the secondary ones, because no further count
        could be hidden to protect them while their label said "<min_cell".
    """

    min_cell: int
    primary: frozenset[str]
    secondary: frozenset[str]
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    residual: tuple[str, ...] = ()
    masked: frozenset[str] = frozenset()

    @property
    def hidden(self) -> frozenset[str]:
        """Every published count that is not printed."""
        return self.primary | self.secondary

    def narrowest(self) -> float:
        """The smallest :func:`small_range` of a hidden sensitive count (inf when none is hidden)."""
        return min((small_range(lo, hi, self.min_cell) for lo, hi in self.ranges.values()), default=float("inf"))


def protection_width(min_cell: int) -> int:
    """The narrowest range a sensitive count may be left in: half the width of what "<min_cell"
    says (1 to ``min_cell - 1``), rounded up; 2 for ``min_cell`` 5, i.e. at least three values."""
    return max(0, -(-(min_cell - 2) // 2))


def small_range(lo: float, hi: float, min_cell: int) -> float:
    """Width of the integer range ``[ceil(lo), floor(hi)]`` within 1 to ``min_cell - 1`` (what a
    reader who also knows the count is small can place it in)."""
    return float(min(np.floor(hi + _TOL), min_cell - 1) - max(np.ceil(lo - _TOL), 1))


def _exposed(ranges: Mapping[str, tuple[float, float]], min_cell: int) -> list[str]:
    """Sensitive counts the reader can place in a range narrower than :func:`protection_width`."""
    return [k for k, (lo, hi) in ranges.items() if small_range(lo, hi, min_cell) < protection_width(min_cell)]


def _margins(relations: Sequence[Relation]) -> set[str]:
    """Cells that are the total of an equality of three or more terms (the one term whose sign
    differs from all the others')."""
    out = set()
    for relation in relations:
        if relation.kind != "eq" or len(relation.terms) < 3:
            continue
        for key, coefficient in relation.terms:
            if all(np.sign(c) != np.sign(coefficient) for k, c in relation.terms if k != key):
                out.add(key)
    return out


def _candidates(key: str, by_key: Mapping[str, Cell], relations: Sequence[Relation], hidden: set[str],
                min_cell: int, order: Mapping[str, int], margins: set[str]) -> list[str]:
    """The published counts that may be hidden next for the exposed ``key``, best first.

    Breadth first through the relations: layer 0 is the relations holding ``key``, layer 1 those
    of the hidden counts they link to, and so on.  Candidates are published counts about people
    of ``min_cell`` or more (a zero is never hidden: "not shown" tells the reader the count is at
    least ``min_cell``); an inner cell (not a margin) at any layer comes before a margin, then
    the nearer layer, then the smaller count, then the order of declaration.
    """
    seen, frontier, layer_no, options = {key}, [key], 0, {}
    while frontier:
        layer = [r for r in relations if set(r.keys()) & set(frontier)]
        for k in (k for r in layer for k in r.keys()):
            c = by_key[k]
            if k not in hidden and c.published and c.people and not c.fixed and c.value >= min_cell and k not in options:
                options[k] = (k in margins, layer_no, c.value, order[k])
        frontier = sorted({k for r in layer for k in r.keys() if (k in hidden or not by_key[k].published)} - seen,
                          key=order.__getitem__)
        seen |= set(frontier)
        layer_no += 1
    return sorted(options, key=options.__getitem__)


#: How many of the best-ranked candidates :func:`protect` tries before it chooses.
LOOKAHEAD = 8


def _choose(key: str, options: list[str], by_key: Mapping[str, Cell], relations: Sequence[Relation],
            hidden: set[str], min_cell: int, masked: set[str], memo: dict[_Program, tuple[float, float]]) -> str:
    """Of the first :data:`LOOKAHEAD` candidates, the first in rank whose hiding leaves ``key``
    unexposed; when none does, the one that leaves it the widest range (the first in rank among
    equals)."""
    widths = []
    for option in options[:LOOKAHEAD]:
        lo_hi = _audit(by_key, relations, hidden | {option}, [key], min_cell, masked, memo)
        if not _exposed(lo_hi, min_cell):
            return option
        widths.append(small_range(*lo_hi[key], min_cell))
    return options[widths.index(max(widths))]


def protect(cells: Sequence[Cell], relations: Sequence[Relation], min_cell: int) -> Protection:
    """Primary and secondary suppression of a report's counts, audited.

    Parameters
    ----------
    cells
        Every count of the report (the first declaration of a key gives its order).
    relations
        The linear relations between them.
    min_cell
        Counts about people from 1 to ``min_cell - 1`` are sensitive; 0 or 1 hides nothing.

    Returns
    -------
    Protection
    """
    by_key = _check(cells, relations)
    order = {k: i for i, k in enumerate(by_key)}
    primary = {k for k, c in by_key.items() if c.published and sensitive(c, min_cell)}
    if min_cell <= 1:
        return Protection(min_cell, frozenset(), frozenset())
    targets = [k for k, c in by_key.items() if sensitive(c, min_cell)]
    hidden, masked = set(primary), set()
    margins = _margins(relations)
    memo: dict[_Program, tuple[float, float]] = {}  # one program, one solve, whatever round asks
    while True:
        ranges = _audit(by_key, relations, hidden, targets, min_cell, masked, memo)
        extra, residual = None, set()
        for key in sorted(_exposed(ranges, min_cell), key=order.__getitem__):
            options = _candidates(key, by_key, relations, hidden, min_cell, order, margins)
            if options:
                extra = _choose(key, options, by_key, relations, hidden, min_cell, masked, memo)
                break
            residual.add(key)
        if extra is not None:
            hidden.add(extra)
        elif (residual & primary) - masked:
            masked |= residual & primary  # their "<min_cell" is what gives them away: say "not shown"
        else:
            break
    return Protection(min_cell, frozenset(primary), frozenset(hidden - primary), ranges,
                      tuple(sorted(residual, key=order.__getitem__)), frozenset(masked))
