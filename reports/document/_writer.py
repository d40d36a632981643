"""The report as data: sections of sentences, tables and figures, before any rendering.

A sentence is a tuple of fragments: plain text and :class:`Num`.  A :class:`Num` carries the
text shown, and, where the number is a headline of ``results.json``, its key, the raw value and
the scale and digits used to show it, so the HTML renderer can mark it and a test can check
every number in the report against ``results.json``.  Small-cell suppression happens here, once,
for every renderer: a count below ``min_cell`` is a :class:`Num` whose text is ``"<min_cell"``.
Counts that take part in a declared relation (a margin, a stratum against its total) carry the
name of their audit cell.  A document is written twice: the first pass collects every declared
count and relation, :func:`toh.reports.document.disclosure.protect` audits them over the whole report, and
the second pass, with that :class:`~toh.reports.document.disclosure.Protection` in its :class:`Writer`,
shows the further counts it hides, and the shares resting on them, as "not shown".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from toh.analyses.levels import small_count
from toh.reports.document.disclosure import Cell, Protection, Relation, at_most, complement_of, summary_shown

__all__ = ["Num", "Fragment", "Text", "ReportTable", "ReportFigure", "Section", "ReportDocument", "Writer",
           "plain_text", "SECONDARY", "TOTAL"]

#: What a count hidden by secondary suppression shows (a total would give a small one back), and
#: a small count whose "<min_cell" would give it away (:attr:`toh.reports.document.disclosure.Protection.masked`).
SECONDARY = "not shown"

#: The audit cell of the number of patients the report describes (Table 1's "Patients, n", All).
TOTAL = "table1.patients.all"


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
        "count" (of people), "record" (a count that is not about people: rows, rules, draws;
        never hidden), "number" or "p" (a p-value: below 0.001 shown as "<0.001").
    cell
        For a count in a declared relation: its cell in the disclosure audit (its relations,
        each with a group name, are :attr:`ReportDocument.relations`).
    """

    text: str
    key: str | None = None
    value: float | None = None
    scale: float = 1.0
    digits: int = 0
    suppressed: bool = False
    kind: str = "number"
    cell: str | None = None


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
    """A figure by file stem (written by :func:`toh.reports.figures.write_figures`); ``numbers``
    are the counts it prints that the disclosure audit knows, as ``((row, column), Num)``;
    ``not_drawn`` the groups (strata) it leaves out because they are small or their size is hidden."""

    name: str
    caption: str
    alt: str
    numbers: tuple[tuple[tuple[str, int], Num], ...] = ()
    not_drawn: tuple[str, ...] = ()


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
    """The whole report.

    ``relations`` are the linear relations between the counts of the document (by audit cell);
    ``implied`` the counts a reader can derive but the document never prints (cell -> value);
    ``protection`` the suppression pattern applied.
    """

    title: str
    subtitle: str
    sections: tuple[Section, ...]
    min_cell: int
    relations: tuple[Relation, ...] = ()
    implied: tuple[tuple[str, float], ...] = ()
    protection: Protection | None = field(default=None, compare=False)

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
    not_estimable
        key -> reason of the estimates that cannot be made.
    protection
        The audited pattern of the first pass (None in the first pass: only the primary rule).
    """

    def __init__(self, headline: Mapping[str, Any], min_cell: int, confidence: float = 0.95,
                 not_estimable: Mapping[str, str] | None = None, protection: Protection | None = None) -> None:
        self.headline = headline
        self.min_cell = min_cell
        self.level = f"{100 * confidence:g}%"
        self.not_estimable = dict(not_estimable or {})
        self.protection = protection
        self.cells: dict[str, Cell] = {}
        self.relations: list[Relation] = []
        self.key_cells: dict[str, str] = {}

    def hidden_cell(self, cell: str | None) -> bool:
        """True when the audit cell is not printed: small, hidden by secondary suppression, or a
        small count the report does not print (never the report's fixed total)."""
        if cell is None or cell not in self.cells:
            return False
        c = self.cells[cell]
        if c.fixed:
            return False
        return self.small(c.value) or (self.protection is not None and cell in self.protection.secondary)

    def masked(self, cell: str | None) -> bool:
        """True for a small count the audit shows as "not shown" rather than "<min_cell"."""
        return cell is not None and self.protection is not None and cell in self.protection.masked

    def total(self, n: Any, key: str | None = None) -> Num:
        """The number of patients the report describes (index episodes): one audit cell,
        always printed (:attr:`toh.reports.document.disclosure.Cell.fixed`)."""
        known = self.cells.get(TOTAL)
        if known is None or not known.fixed:
            self.cells[TOTAL] = Cell(TOTAL, float(n), fixed=True)
        elif known.value != float(n):
            raise ValueError(f"the report's total declared with {known.value:g} and {float(n):g}")
        if key is not None:
            self.key_cells[key] = TOTAL
        return Num(f"{int(n):,}", key=key, value=float(n), kind="count", cell=TOTAL)

    def summary_hidden(self, n: Any) -> bool:
        """True when a summary (median, IQR, mean, sd, min, max) of a group of ``n`` is not shown."""
        return not _isnan(n) and not summary_shown(float(n), self.min_cell)

    def declare(self, cell: str, value: Any, published: bool = True) -> str | None:
        """Declare a count about people to the audit (the first declaration of a cell counts;
        a second with another value is an error).  Returns the cell, None for a missing value."""
        if _isnan(value):
            return None
        known = self.cells.get(cell)
        if known is not None and known.value != float(value):
            raise ValueError(f"audit cell {cell!r} declared with {known.value:g} and {float(value):g}")
        if known is None or (published and not known.published and not known.fixed):
            self.cells[cell] = Cell(cell, float(value), published)
        return cell

    def same(self, cell: str, value: Any) -> str | None:
        """``cell`` when it is declared with ``value`` (the same count printed elsewhere), else None."""
        known = self.cells.get(cell)
        return cell if known is not None and not _isnan(value) and known.value == float(value) else None

    def implied(self, cell: str, value: Any) -> str | None:
        """A count the report does not print but a reader can derive (a complement, the rest of
        a total); None when it is zero, which the relations then state exactly."""
        if _isnan(value) or float(value) == 0:
            return None
        if cell in self.cells:
            return cell
        return self.declare(cell, value, published=False)

    def relate(self, *relations: Relation) -> None:
        """Declare relations between declared cells (terms naming no cell are dropped)."""
        for relation in relations:
            terms = tuple((k, c) for k, c in relation.terms if k is not None)
            self.relations.append(Relation(relation.group, terms, relation.kind))

    def missing(self, key: str | None) -> Num | None:
        """"not estimable" for a key whose estimate cannot be made (an absent table, an empty
        denominator); None otherwise."""
        if key is None:
            return None
        from toh.analyses.result import reason_for

        return Num("not estimable", key=key) if reason_for(key, self.not_estimable) else None

    def reason_of(self, key: str) -> str:
        """Why the estimate under ``key`` cannot be made ("" when it can)."""
        from toh.analyses.result import reason_for

        return reason_for(key, self.not_estimable) or ""

    def reason(self, *keys: str) -> str:
        """Why none of the estimates under ``keys`` can be made ('' when one can), as
        :meth:`toh.analyses.run.CohortAnalysis.reason` says it, from the reasons this writer was
        given (the analysis's are gathered once per document, not once per question)."""
        found = [self.reason_of(key) for key in keys]
        return "" if not all(found) else "; ".join(dict.fromkeys(found))

    def small(self, n: Any) -> bool:
        """True when the count ``n`` must be hidden."""
        return not _isnan(n) and small_count(float(n), self.min_cell)

    def compares_small(self, *sizes: Any) -> bool:
        """True when a statistic comparing groups (a test, a hazard ratio) compares one of fewer
        than ``min_cell`` patients (``sizes``: the groups', or the smallest's): it is that small
        group's statistic, not shown."""
        return any(self.small(n) for n in sizes)

    def curve_rule(self, events: str) -> str:
        """A curve figure's caption on how the small-cell rule draws it
        (:func:`toh.reports.figures._common.drawn_steps`); '' when the rule hides nothing."""
        if self.min_cell <= 1:
            return ""
        return (f" Each drawn step holds at least {self.min_cell} {events} (steps in between are merged and drawn at "
                f"the time of the last), and a curve ends before a step after which fewer than {self.min_cell} "
                f"would remain at risk, and at the last number at risk shown before one the report hides.")

    def hidden(self) -> Num:
        """The text shown for a hidden count."""
        return Num(f"<{self.min_cell}", suppressed=True)

    def count(self, n: Any, key: str | None = None, cell: str | None = None, people: bool = True,
              suffix: str = "") -> Num:
        """A count, hidden when small.

        ``cell`` declares it to the disclosure audit; ``people=False`` marks a count that is not
        about people (warnings, rules, files, draws), never hidden; ``suffix`` is shown after
        a count that is not hidden (a percentage).
        """
        if _isnan(n):
            return self.missing(key) or Num("NA", key=key)
        if not people:
            return Num(f"{int(round(float(n))):,}", key=key, value=float(n), kind="record")
        if cell is not None:
            self.declare(cell, n)
            if key is not None:
                self.key_cells[key] = cell
            if self.cells[cell].fixed:
                return Num(f"{int(round(float(n))):,}{suffix}", key=key, value=float(n), kind="count", cell=cell)
        if self.small(n):
            text = SECONDARY if self.masked(cell) else f"<{self.min_cell}"
            return Num(text, key=key, value=float(n), suppressed=True, kind="count", cell=cell)
        if cell is not None and self.hidden_cell(cell):
            return Num(SECONDARY, key=key, value=float(n), suppressed=True, kind="count", cell=cell)
        return Num(f"{int(round(float(n))):,}{suffix}", key=key, value=float(n), kind="count", cell=cell)

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

    def share_hidden(self, x: Any, n: Any, cells: tuple[str | None, ...] = ()) -> bool:
        """True when x of n, or its complement n - x, is a small count (a share would reveal it),
        or when one of the audit ``cells`` it rests on is hidden."""
        if any(self.hidden_cell(c) for c in cells):
            return True
        if _isnan(x) or _isnan(n):
            return False
        return self.small(x) or self.small(float(n) - float(x))

    def cells_of(self, *keys: str) -> tuple[str | None, ...]:
        """The audit cells of headline keys (None for a key no audited count was printed under)."""
        return tuple(self.key_cells.get(k) for k in keys)

    def share_cells(self, group: str, x: Any, n: Any, x_cell: str | None = None,
                    n_cell: str | None = None, keys: tuple[str, ...] = ()) -> tuple[str | None, str | None]:
        """Declare the numerator and denominator of a share printed as "x of n" to the audit
        (as ``x_cell`` and ``n_cell`` where the same counts are printed elsewhere, else
        ``group.x`` and ``group.n``), with ``x <= n`` and the complement ``n - x`` (which a
        reader can derive) as relations; ``keys`` are headline keys of the numerator and the
        denominator, in pairs, for :meth:`cells_of`.  Returns the two cells."""
        if _isnan(x) or _isnan(n):
            return None, None
        xc, nc = self.declare(x_cell or f"{group}.x", x), self.declare(n_cell or f"{group}.n", n)
        for i, key in enumerate(keys):
            self.key_cells[key] = (xc, nc)[i % 2]
        rest = self.implied(f"{group}.n-x", float(n) - float(x))
        self.relate(at_most(group, xc, nc), complement_of(group, rest, xc, nc) if rest else
                    Relation(group, ((xc, 1.0), (nc, -1.0))))
        return xc, nc

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

