"""Publication tables: Table 1 and result tables formatted as journals print them, with
small-cell suppression, rendered to HTML, CSV and LaTeX.

Formatting is applied here, at render time; the numbers come from :mod:`analyses` untouched.
Counts from 1 to ``min_cell - 1`` are shown as "<min_cell" (zeros are shown); the relations of
Table 1 (each column's levels against its patients, men and women against all) are audited by
:mod:`toh.reports.document.disclosure`, which hides further counts ("not shown") until none of the small
ones can be recovered to a range narrower than ``min_cell``.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from typing import TYPE_CHECKING

from toh.analyses.baseline import COLUMNS, BaselineResult
from toh.analyses.levels import small_count
from toh.cohort.safe_csv import write_csv
from toh.reports.document.disclosure import Cell, Relation, fold_levels, protect, summary_shown, total_of
from toh.reports.safe_text import neutralise

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import CohortAnalysis

__all__ = ["table_one", "table_one_layout", "entry_text", "TableOneEntry", "TableOneLayout", "format_estimate",
           "render_table", "LABELS", "HIDDEN"]

#: A count or summary hidden by the disclosure audit (not small itself, or a summary of a small group).
HIDDEN = "not shown"

#: Row labels of Table 1.
LABELS: dict[str, str] = {
    "age_at_onset_years": "Age at onset, years, median [IQR]",
    "age_group": "Age group, years, n (%)",
    "side": "Index hip, n (%)",
    "pregnancy": "Pregnancy status at onset (women), n (%)",
    "trimester": "Trimester (pregnant women), n (%)",
    "treatment": "Treatment, n (%)",
    "bilateral": "Bilateral presentation, n (%)",
    "followup_months": "Follow-up, months, median [IQR]",
    "resolved": "Resolved during follow-up, n (%)",
}
_HEADERS = {"all": "All", "men": "Men", "women": "Women"}


def _number(value: float, digits: int = 1) -> str:
    return "NA" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_estimate(estimate: float, lower: float, upper: float, digits: int = 2, scale: float = 1.0) -> str:
    """"estimate (lower to upper)", NA where a bound does not exist (journals' estimate (95% CI))."""
    return f"{_number(estimate * scale, digits)} ({_number(lower * scale, digits)} to {_number(upper * scale, digits)})"


#: A median [IQR] of values that were never gathered in one place (a pool: the sites' bundles
#: carry counts, no values).
NOT_SUMMARISED = "not pooled"


@dataclass(frozen=True)
class TableOneEntry:
    """One cell of Table 1 before suppression: a count "n (%)" with its audit cell, a summary
    "median [q1, q3]" of ``n`` values, or nothing (a column the variable does not have)."""

    kind: str
    cell: str | None = None
    n: float = math.nan
    denominator: float = math.nan
    summary: str = ""


@dataclass(frozen=True)
class TableOneLayout:
    """Table 1's rows (label, level, one entry per column of :data:`COLUMNS`), its counts and the
    relations between them (margins by column, men and women against all, the levels of a
    variable against its group), for the disclosure audit."""

    rows: tuple[tuple[str, str, tuple[TableOneEntry, ...]], ...]
    cells: tuple[Cell, ...]
    relations: tuple[Relation, ...]


def _folded(group: pd.DataFrame, variable: str, min_cell: int) -> pd.DataFrame:
    """Treatment levels resting on fewer than ``min_cell`` patients (all column) folded into "other"."""
    if variable != "treatment" or min_cell <= 1:
        return group
    overall = group[group["stratum"] == "all"].set_index("level")["n"].astype(int)
    folding = fold_levels(overall.to_dict(), min_cell)
    rename = {level: label for label, levels in folding.items() for level in levels}
    folded = group.assign(level=group["level"].map(rename))
    summed = folded.groupby(["level", "stratum"], sort=False, as_index=False)["n"].sum()
    first = folded.drop_duplicates(["level", "stratum"]).drop(columns="n")
    return first.merge(summed, on=["level", "stratum"])[group.columns]


def table_one_layout(baseline: BaselineResult, min_cell: int = 5) -> TableOneLayout:
    """Table 1's entries, counts and relations (see :class:`TableOneLayout`)."""
    frame = baseline.table
    cells: dict[str, Cell] = {}
    relations: list[Relation] = []

    def declare(key: str, value: float, published: bool = True) -> str | None:
        if not published and value == 0:
            return None  # a zero the reader can derive: the relation states it exactly
        cells.setdefault(key, Cell(key, float(value), published))
        return key

    def relate(group: str, total: str, parts: list[str | None]) -> None:
        relations.append(total_of(group, total, [p for p in parts if p is not None]))

    age = frame[frame["variable"] == "age_at_onset_years"].set_index("stratum")
    size = {c: int(age["n"].get(c, 0) + age["missing"].get(c, 0)) for c in COLUMNS}
    patients = {c: declare(f"table1.patients.{c}", size[c]) for c in COLUMNS}
    cells["table1.patients.all"] = Cell("table1.patients.all", float(size["all"]), fixed=True)  # always printed
    relate("table1 patients", patients["all"],
           [patients["men"], patients["women"],
            declare("table1.patients.other", size["all"] - size["men"] - size["women"], False)])
    rows: list[tuple[str, str, tuple[TableOneEntry, ...]]] = [
        ("Patients, n", "", tuple(TableOneEntry("count", patients[c], size[c]) for c in COLUMNS))]
    for variable, group in frame.groupby("variable", sort=False):
        label = LABELS.get(variable, variable)
        group = _folded(group, variable, min_cell)
        columns = list(dict.fromkeys(group["stratum"]))
        levels = list(dict.fromkeys(group["level"]))
        first = group.drop_duplicates("stratum").set_index("stratum")
        missing = {c: int(first.loc[c, "missing"]) for c in columns}
        shown_missing = sum(missing.values()) > 0
        miss = {c: declare(f"table1.{variable}.missing.{c}", missing[c], shown_missing) for c in columns}
        counted = {}
        for c in columns:
            total = int(first.loc[c, "denominator"]) + missing[c]
            pregnant = cells.get(f"table1.pregnancy.pregnant.{c}")
            owner = (patients[c] if total == size[c] else f"table1.pregnancy.pregnant.{c}"
                     if variable == "trimester" and pregnant is not None and pregnant.value == total
                     else f"table1.{variable}.group.{c}")
            cells.setdefault(owner, Cell(owner, float(total), False))  # a group the table does not print
            if first.loc[c, "kind"] == "continuous":
                relate(f"table1 {variable} {c}", owner,
                       [declare(f"table1.{variable}.n.{c}", int(first.loc[c, "n"]), False), miss[c]])
                continue
            parts = group[group["stratum"] == c].set_index("level")["n"].astype(int)
            counted[c] = {lv: declare(f"table1.{variable}.{lv}.{c}", parts[lv]) for lv in levels}
            rest = declare(f"table1.{variable}.rest.{c}", int(first.loc[c, "denominator"]) - int(parts.sum()), False)
            relate(f"table1 {variable} {c}", owner, [*counted[c].values(), rest, miss[c]])
        if set(columns) == set(COLUMNS):
            for lv, all_cell in ((lv, counted["all"][lv]) for lv in (levels if counted else [])):
                value = cells[all_cell].value - cells[counted["men"][lv]].value - cells[counted["women"][lv]].value
                relate(f"table1 {variable} {lv} by sex", all_cell,
                       [counted["men"][lv], counted["women"][lv], declare(f"table1.{variable}.{lv}.other", value, False)])
            if shown_missing:
                relate(f"table1 {variable} missing by sex", miss["all"],
                       [miss["men"], miss["women"], declare(f"table1.{variable}.missing.other",
                                                          missing["all"] - missing["men"] - missing["women"], False)])
        for lv in levels:
            entries = []
            for c in COLUMNS:
                if c not in columns:
                    entries.append(TableOneEntry("blank"))
                    continue
                row = group[(group["stratum"] == c) & (group["level"] == lv)].iloc[0]
                if row["kind"] == "continuous":
                    summary = ("NA" if not row["n"] else NOT_SUMMARISED if row["median"] != row["median"]
                               else f"{row['median']:.1f} [{row['q1']:.1f}, {row['q3']:.1f}]")
                    entries.append(TableOneEntry("summary", n=float(row["n"]), summary=summary))
                else:
                    entries.append(TableOneEntry("count", counted[c][lv], float(row["n"]), float(row["denominator"])))
            rows.append((label, lv, tuple(entries)))
        if shown_missing:
            rows.append((label, "missing", tuple(TableOneEntry("count", miss[c], missing[c]) if c in columns
                                                  else TableOneEntry("blank") for c in COLUMNS)))
    return TableOneLayout(tuple(rows), tuple(cells.values()), tuple(relations))


def entry_text(entry: TableOneEntry, min_cell: int, secondary: bool = False) -> str:
    """The text of a Table 1 entry: "<min_cell" for a small count, "not shown" for a count
    hidden by secondary suppression (or a small one whose label the audit masks) or a summary of
    fewer than ``min_cell`` values; the patients of the All column always."""
    if entry.kind == "blank":
        return ""
    if entry.kind == "summary":
        return entry.summary if summary_shown(entry.n, min_cell) else HIDDEN
    if secondary:
        return HIDDEN
    if small_count(entry.n, min_cell) and entry.cell != "table1.patients.all":
        return f"<{min_cell}"
    if math.isnan(entry.denominator):
        return f"{int(entry.n)}"
    if not entry.denominator:  # nobody to take a share of (no pregnant woman, say): the count alone
        return f"{int(entry.n)}"
    return f"{int(entry.n)} ({_number(100 * entry.n / entry.denominator)})"


def table_one(baseline: BaselineResult | CohortAnalysis, min_cell: int = 5) -> pd.DataFrame:
    """Table 1 as strings: one row per variable and level, columns All / Men / Women.

    ``baseline`` is Table 1's data, or a whole analysis (:func:`toh.analyse_cohort`), whose
    ``baseline`` it is.

    Counts are "n (%)" of the patients with the variable recorded; continuous variables are
    "median [q1, q3]"; a "missing" row follows a variable that has missing values.  Counts from
    1 to ``min_cell - 1`` show as "<min_cell"; the counts the audit of the table's relations
    (:func:`toh.reports.document.disclosure.protect`) hides besides, and summaries of fewer than
    ``min_cell`` values, show as "not shown" (and the summaries of a column whose patients are
    hidden: shown for one sex alone, they would say which hidden count is the small one);
    treatments of fewer than ``min_cell`` patients are folded into "other".  The patients of
    the All column are always shown.
    """
    layout = table_one_layout(getattr(baseline, "baseline", baseline), min_cell)
    protection = protect(layout.cells, layout.relations, min_cell)
    secondary = protection.secondary | protection.masked
    group_hidden = {c: f"table1.patients.{c}" in protection.hidden for c in COLUMNS}
    rows = [(label, level, *[HIDDEN if e.kind == "summary" and group_hidden[c] else
                             entry_text(e, min_cell, e.cell in secondary) for e, c in zip(entries, COLUMNS)])
            for label, level, entries in layout.rows]
    return pd.DataFrame(rows, columns=["characteristic", "level", *[_HEADERS[c] for c in COLUMNS]])


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex_escape(text: str) -> str:
    """Every LaTeX special character replaced in one pass (so no replacement is escaped again);
    bidi and control characters made visible, and line ends (a blank line would end the table's
    paragraph) written as spaces."""
    text = re.sub(r"\r\n?|\n", " ", neutralise(text))
    return "".join(_LATEX.get(char, char) for char in text)


def render_table(table: pd.DataFrame, fmt: str, path: str | Path | None = None, caption: str = "") -> str:
    """Render a formatted table as "html" (escaped), "csv" (formula cells defused) or "latex".

    Returns the text; also writes it to ``path`` when given.
    """
    if fmt == "csv":
        if path is None:
            from toh.cohort.safe_csv import defuse

            return defuse(table).to_csv(index=False, lineterminator="\n")
        write_csv(table, path)
        return Path(path).read_text(encoding="utf-8")
    if fmt == "html":
        head = "".join(f"<th>{html.escape(neutralise(str(c)))}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(neutralise(str(v)))}</td>" for v in row) + "</tr>"
                       for row in table.itertuples(index=False))
        cap = f"<caption>{html.escape(neutralise(caption))}</caption>" if caption else ""
        text = f'<table class="toh-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
    elif fmt == "latex":
        spec = "l" * len(table.columns)
        lines = [r"\begin{table}", r"\centering"]
        if caption:
            lines.append(r"\caption{" + _latex_escape(caption) + "}")
        lines += [r"\begin{tabular}{" + spec + "}", r"\hline",
                  " & ".join(_latex_escape(str(c)) for c in table.columns) + r" \\", r"\hline"]
        lines += [" & ".join(_latex_escape(str(v)) for v in row) + r" \\" for row in table.itertuples(index=False)]
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        text = "\n".join(lines) + "\n"
    else:
        raise ValueError(f"unknown table format {fmt!r}: html, csv or latex")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
