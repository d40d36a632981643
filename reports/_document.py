"""The report as data: sections of sentences, tables and figures, before any rendering.

A sentence is a tuple of fragments: plain text and :class:`Num`.  A :class:`Num` carries the
text shown, and, where the number is a headline of ``results.json``, its key, the raw value and
the scale and digits used to show it, so the HTML renderer can mark it and a test can check
every number in the report against ``results.json``.  Small-cell suppression happens here, once,
for every renderer: a suppressed count is a :class:`Num` whose text is ``"<min_cell"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["Num", "Fragment", "Text", "ReportTable", "ReportFigure", "Section", "ReportDocument", "Writer",
           "plain_text"]


@dataclass(frozen=True)
class Num:
    """A number shown in the report.

    Attributes
    ----------
    text
        What is shown ("6.1", "<5", "NA").
    key
        Its key in ``results.json`` (None for numbers that are not headlines).
    value
        The raw value (None when not a number).
    scale, digits
        ``text == f"{value * scale:.{digits}f}"`` unless suppressed or NA.
    suppressed
        True when a small count (or a share that would reveal one) is hidden.
    kind
        "count", "number" or "p" (a p-value: below 0.001 shown as "<0.001").
    """

    text: str
    key: str | None = None
    value: float | None = None
    scale: float = 1.0
    digits: int = 0
    suppressed: bool = False
    kind: str = "number"


Fragment: TypeAlias = "str | Num"
Text: TypeAlias = "tuple[str | Num, ...]"


def plain_text(text: Text | str) -> str:
    """The fragments joined as plain text."""
    if isinstance(text, str):
        return text
    return "".join(f if isinstance(f, str) else f.text for f in text)


@dataclass(frozen=True)
class ReportTable:
    """A rendered table: header, rows of cells (each a Text) and an optional note.

    Text fragments longer than :data:`toh.reports.safe_text.LONGEST_CELL` (a free-text value
    typed into a code column of the export) are cut here, once, for every renderer.
    """

    name: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Text, ...], ...]
    note: str = ""

    def __post_init__(self) -> None:
        from toh.reports.safe_text import shorten

        rows = tuple(tuple(tuple(shorten(f) if isinstance(f, str) else f for f in cell) for cell in row)
                     for row in self.rows)
        object.__setattr__(self, "rows", rows)


@dataclass(frozen=True)
class ReportFigure:
    """A figure by file stem (written by :func:`toh.reports.figures.write_figures`)."""

    name: str
    caption: str
    alt: str


@dataclass(frozen=True)
class Section:
    """One section: an id (HTML anchor), a title, sentences, figures and tables."""

    id: str
    title: str
    paragraphs: tuple[Text, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    tables: tuple[ReportTable, ...] = ()


@dataclass(frozen=True)
class ReportDocument:
    """The whole report."""

    title: str
    subtitle: str
    sections: tuple[Section, ...]
    min_cell: int

    def figure_names(self) -> list[str]:
        """Every figure the report shows, in order."""
        return [f.name for s in self.sections for f in s.figures]


#: Said where an estimate exists but its confidence interval does not (R's NA limits, e.g. a
#: Kaplan-Meier curve at 0 or 1).
NO_INTERVAL = "no interval"


def _isnan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class Writer:
    """Makes :class:`Num` fragments from headline numbers, applying the small-cell rule.

    Parameters
    ----------
    headline
        The ``results`` mapping of ``results.json`` (key -> number or text).
    min_cell
        Counts from 1 to ``min_cell - 1`` are shown as ``"<min_cell"``.
    confidence
        Level of the intervals, for labels ("95%").
    """

    def __init__(self, headline: Mapping[str, Any], min_cell: int, confidence: float = 0.95,
                 not_estimable: Mapping[str, str] | None = None) -> None:
        self.headline = headline
        self.min_cell = min_cell
        self.level = f"{100 * confidence:g}%"
        self.not_estimable = dict(not_estimable or {})

    def missing(self, key: str | None) -> Num | None:
        """"not estimable" for a key whose estimate cannot be made (an absent table, an empty
        denominator); None otherwise."""
        if key is None:
            return None
        from toh.analyses.result import reason_for

        return Num("not estimable", key=key) if reason_for(key, self.not_estimable) else None

    def small(self, n: Any) -> bool:
        """True when the count ``n`` must be hidden."""
        return not _isnan(n) and 0 < float(n) < self.min_cell

    def hidden(self) -> Num:
        """The text shown for a hidden count."""
        return Num(f"<{self.min_cell}", suppressed=True)

    def count(self, n: Any, key: str | None = None) -> Num:
        """A count, hidden when small."""
        if _isnan(n):
            return self.missing(key) or Num("NA", key=key)
        if self.small(n):
            return Num(f"<{self.min_cell}", key=key, value=float(n), suppressed=True, kind="count")
        return Num(f"{int(round(float(n))):,}", key=key, value=float(n), kind="count")

    def number(self, value: Any, digits: int, scale: float = 1.0, key: str | None = None,
               hide: bool = False) -> Num:
        """A number shown with ``digits`` decimals after multiplying by ``scale``."""
        if hide:
            return Num("not shown", key=key, value=None if _isnan(value) else float(value), suppressed=True)
        if _isnan(value):
            return self.missing(key) or Num("NA", key=key)
        return Num(f"{float(value) * scale:.{digits}f}", key=key, value=float(value), scale=scale, digits=digits)

    def p(self, value: Any, key: str | None = None, hide: bool = False) -> Num:
        """A p-value with 3 decimals, "<0.001" below 0.001."""
        num = self.number(value, 3, 1.0, key, hide)
        if not num.suppressed and num.value is not None and num.value < 0.001:
            return Num("<0.001", key=key, value=num.value, digits=3, kind="p")
        return Num(num.text, num.key, num.value, num.scale, num.digits, num.suppressed, "p")

    def n(self, key: str) -> Num:
        """The headline count under ``key``."""
        return self.count(self.headline.get(key), key)

    def num(self, key: str, digits: int, scale: float = 1.0, hide: bool = False) -> Num:
        """The headline number under ``key``."""
        return self.number(self.headline.get(key), digits, scale, key, hide)

    def ci(self, est: str, lower: str, upper: str, digits: int, scale: float = 1.0, unit: str = "",
           hide: bool = False) -> Text:
        """"estimate unit (95% CI lower to upper unit)" from three headline keys."""
        level = self.level
        if hide:
            return (Num("not shown (small count)", key=est, suppressed=True),)
        if _isnan(self.headline.get(est)) and self.missing(est):
            return (Num("not estimable", key=est),)
        if _isnan(self.headline.get(est)):
            return (Num("not estimable", key=est),)
        if _isnan(self.headline.get(lower)) and _isnan(self.headline.get(upper)):
            return (self.num(est, digits, scale), unit, f" ({level} CI {NO_INTERVAL})")
        return (self.num(est, digits, scale), unit, f" ({level} CI ", self.num(lower, digits, scale), " to ",
                self.num(upper, digits, scale), f"{unit})")

    def share_hidden(self, x: Any, n: Any) -> bool:
        """True when x of n, or its complement n - x, is a small count (a share would reveal it)."""
        if _isnan(x) or _isnan(n):
            return False
        return self.small(x) or self.small(float(n) - float(x))

    def cell_ci(self, est: Any, lower: Any, upper: Any, digits: int, scale: float = 1.0, hide: bool = False,
                keys: tuple[str | None, str | None, str | None] = (None, None, None)) -> Text:
        """A table cell "estimate (lower to upper)"; "not estimable" without an estimate, and the
        estimate alone, saying so, where the interval is not defined (R's NA: S at 0 or 1)."""
        if hide:
            return (self.number(est, digits, scale, keys[0], hide=True),)
        if _isnan(est):
            return (self.missing(keys[0]) or Num("not estimable", key=keys[0]),)
        if _isnan(lower) and _isnan(upper):
            return (self.number(est, digits, scale, keys[0]), f" ({NO_INTERVAL})")
        return (self.number(est, digits, scale, keys[0]), " (", self.number(lower, digits, scale, keys[1]), " to ",
                self.number(upper, digits, scale, keys[2]), ")")
