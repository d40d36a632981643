"""Report sections about the data: what was read and validated, attrition, the cohort (Table 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from toh.analyses.baseline import COLUMNS
from toh.reports.document._writer import Num, ReportTable, Section, Text, Writer
from toh.reports.document.tables import HIDDEN, TableOneEntry, entry_text, table_one_layout

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.baseline import BaselineResult
    from toh.cohort.derive import DerivedCohort
    from toh.cohort.validate import ValidationReport

__all__ = ["data_section", "attrition_section", "cohort_section", "frame_table"]

_TABLE_WORDS = {"patients": "patients", "episodes": "episodes", "imaging": "imaging examinations",
                "events": "events"}


def frame_table(frame: pd.DataFrame, name: str, caption: str, note: str = "") -> ReportTable:
    """A table of ready-made strings (one cell = one text fragment)."""
    rows = tuple(tuple((str(v),) for v in row) for row in frame.itertuples(index=False))
    return ReportTable(name, caption, tuple(map(str, frame.columns)), rows, note)


def _records(w: Writer, n: Any) -> Num:
    """A count of the export's rows (read, failing a rule, left out of an analysis): it says how
    complete the data are, nothing about the people in the cohort, so it is never suppressed;
    the patients in the cohort are the report's total (:meth:`Writer.total`)."""
    return w.count(n, people=False)


def data_section(report: ValidationReport, w: Writer) -> Section:
    """What was read, from which files, and what validation found (no example values shown)."""
    rows = report.rows
    parts: list[Any] = [f"The export was validated on {report.validation_date.isoformat()}: "]
    read = [(_records(w, n), f" {_TABLE_WORDS.get(t, t)}") for t, n in rows.items() if t not in report.absent]
    for i, (num, word) in enumerate(read):
        parts += [num, word, ", " if i < len(read) - 2 else " and " if i == len(read) - 2 else ""]
    errors, warnings = len(report.errors), len(report.warnings)
    parts += [" were read", *([f"; the export has no {' and no '.join(sorted(report.absent))} table, so the "
                               "estimates that need it are not estimable (an empty table, with a header and no "
                               "rows, would count as zero)"] if report.absent else []),
              ". Validation found ", w.count(errors, people=False), " error(s) and ", w.count(warnings, people=False),
              " warning(s); warnings do not stop the analysis (an extra column, an optional table absent)."]
    files = ReportTable(
        "validation_files", "Tables read", ("table", "file", "rows"),
        tuple(((t,), (report.files.get(t, "absent: not in the export"),),
               ("not read",) if t in report.absent else (_records(w, n),)) for t, n in rows.items()))
    summary = report.summary
    tables = [files]
    if len(summary):
        tables.append(ReportTable(
            "validation_summary", "Validation findings by rule (values are not shown in the report)",
            ("severity", "table", "column", "rule", "rows"),
            tuple(((r.severity,), (r.table,), (str(r.column),), (r.rule,), (_records(w, r.n),))
                  for r in summary.itertuples(index=False))))
    return Section("data", "Data and validation", (tuple(parts),), tables=tuple(tables))


def attrition_section(derived: DerivedCohort, rows_in: dict[str, int], w: Writer) -> Section:
    """Every row that does not reach an analysis, with its reason, reconciled with the rows read."""
    summary = derived.attrition_summary(rows_in)
    patients = summary[(summary["table"] == "patients")]
    read = int(patients.loc[patients["stage"] == "read", "n"].sum())
    cohort = int(patients.loc[patients["stage"] == "in_cohort", "n"].sum())
    text: Text = (w.total(cohort), " of ", _records(w, read), " patients read have an index ",
                  derived.definitions.index_joint, " episode and form the cohort. Every row that does not "
                  "reach an analysis is counted below with its reason; the counts reconcile with the rows read.")
    cells = tuple(((r.table,), (r.stage.replace("_", " "),), (r.description,),
                   (w.total(r.n) if (r.table, r.stage) == ("patients", "in_cohort") else _records(w, r.n),))
                  for r in summary.itertuples(index=False))
    table = ReportTable("attrition", "Attrition: rows read, rows in the cohort and rows left out of an analysis",
                        ("table", "stage", "reason", "rows"), cells)
    return Section("attrition", "Attrition", (text,), tables=(table,))


def _table_one_cell(entry: TableOneEntry, w: Writer, column: str) -> Text:
    """A Table 1 entry as a fragment: a count is a :class:`Num` (audited), a summary text (not
    shown where the column's patients are hidden: a summary shown for one sex only would say
    which hidden count is the small one)."""
    if entry.kind == "summary" and w.hidden_cell(f"table1.patients.{column}"):
        return (Num(HIDDEN, suppressed=True),)
    if entry.kind == "count":
        fixed = entry.cell in w.cells and w.cells[entry.cell].fixed
        small = w.small(entry.n) and not fixed
        secondary = (w.hidden_cell(entry.cell) and not small) or w.masked(entry.cell)
        text = entry_text(entry, w.min_cell, secondary)
        return (Num(text, value=entry.n, suppressed=small or secondary, kind="count", cell=entry.cell),)
    text = entry_text(entry, w.min_cell)
    return (Num(text, suppressed=True),) if entry.kind == "summary" and text == HIDDEN else (text,)


def cohort_section(baseline: BaselineResult, w: Writer, ages: bool = True) -> Section:
    """Table 1 and the age distribution by sex; every count of Table 1 declared to the audit
    (``ages`` False: the sentence leaves the median ages out, for counts without values)."""
    layout = table_one_layout(baseline, w.min_cell)
    for cell in layout.cells:
        if cell.fixed:
            w.total(cell.value)
        else:
            w.declare(cell.key, cell.value, cell.published)
    w.relate(*layout.relations)
    h = w.headline
    size = {c: w.cells[f"table1.patients.{c}"].value for c in ("all", "men", "women")}

    def patients(key: str, column: str) -> Num:  # the same count as Table 1's, when it is
        same = h.get(key) is not None and float(h[key]) == size[column]
        return w.count(h.get(key), key, cell=f"table1.patients.{column}" if same else None)

    def hidden(column: str) -> bool:
        return w.summary_hidden(size[column]) or w.hidden_cell(f"table1.patients.{column}")

    def age(column: str, word: str) -> Text:
        stats = [w.num(f"demographics.age.{column}.{s}", 1, hide=hidden(column)) for s in ("median_years", "q1_years", "q3_years")]
        if hidden(column):
            return (stats[0], f" in {word} (a group of fewer than {w.min_cell}, or one whose size is not shown)")
        return (stats[0], f" years in {word} (IQR ", stats[1], " to ", stats[2], ")")

    men = patients("demographics.sex_ratio.men", "men")
    women = patients("demographics.sex_ratio.women", "women")
    split: Text = (((" (men: ", men, "; women: ", women, ")") if men.suppressed or women.suppressed
                    else (": ", men, " men and ", women, " women")))
    text: Text = (
        "The cohort has ", patients("demographics.sex_ratio.n", "all"), " patients", *split, ".",
        *((" The median age at onset was ", *age("men", "men"), "; ", *age("women", "women"), ".") if ages else ()),
    )
    rows = []
    previous = None
    for label, level, entries in layout.rows:
        rows.append((("" if label == previous else label,), (level,),
                     *(_table_one_cell(e, w, c) for e, c in zip(entries, COLUMNS))))
        previous = label
    note = (f"n (%) of patients with the characteristic recorded; median [IQR]. Counts from 1 to {w.min_cell - 1} "
            f"are shown as <{w.min_cell}; '{HIDDEN}' marks a count hidden because the table's totals would give a "
            f"small count back, and the median [IQR] of a group of fewer than {w.min_cell}; treatments of fewer "
            f"than {w.min_cell} patients are counted as 'other'." if w.min_cell > 1 else "n (%); median [IQR].")
    table = ReportTable("table1", "Table 1. Baseline characteristics of the index episodes, by sex",
                        ("characteristic", "level", "All", "Men", "Women"), tuple(rows), note=note)
    return Section("cohort", "Cohort description", (text,), tables=(table,))
