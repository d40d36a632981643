"""Report sections about the data: what was read and validated, attrition, the cohort (Table 1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from toh.reports._document import Num, ReportTable, Section, Text, Writer
from toh.reports.tables import HIDDEN, TableOneEntry, entry_text, table_one_layout

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


def data_section(report: ValidationReport, w: Writer) -> Section:
    """What was read, from which files, and what validation found (no example values shown)."""
    rows = report.rows
    parts: list[Any] = [f"The export was validated on {report.validation_date.isoformat()}: "]
    read = [(w.count(n), f" {_TABLE_WORDS.get(t, t)}") for t, n in rows.items() if t not in report.absent]
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
               ("not read",) if t in report.absent else (w.count(n),)) for t, n in rows.items()))
    summary = report.summary()
    tables = [files]
    if len(summary):
        tables.append(ReportTable(
            "validation_summary", "Validation findings by rule (values are not shown in the report)",
            ("severity", "table", "column", "rule", "rows"),
            tuple(((r.severity,), (r.table,), (str(r.column),), (r.rule,), (w.count(r.n),))
                  for r in summary.itertuples(index=False))))
    return Section("data", "Data and validation", (tuple(parts),), tables=tuple(tables))


def attrition_section(derived: DerivedCohort, rows_in: dict[str, int], w: Writer) -> Section:
    """Every row that does not reach an analysis, with its reason, reconciled with the rows read."""
    summary = derived.attrition_summary(rows_in)
    patients = summary[(summary["table"] == "patients")]
    read = int(patients.loc[patients["stage"] == "read", "n"].sum())
    cohort = int(patients.loc[patients["stage"] == "in_cohort", "n"].sum())
    text: Text = (w.count(cohort), " of ", w.count(read), " patients read have an index ",
                  derived.definitions.index_joint, " episode and form the cohort. Every row that does not "
                  "reach an analysis is counted below with its reason; the counts reconcile with the rows read.")
    cells = tuple(((r.table,), (r.stage.replace("_", " "),), (r.description,), (w.count(r.n),))
                  for r in summary.itertuples(index=False))
    table = ReportTable("attrition", "Attrition: rows read, rows in the cohort and rows left out of an analysis",
                        ("table", "stage", "reason", "rows"), cells)
    return Section("attrition", "Attrition", (text,), tables=(table,))


def _table_one_cell(entry: TableOneEntry, w: Writer) -> Text:
    """A Table 1 entry as a fragment: a count is a :class:`Num` (audited), a summary text."""
    if entry.kind == "count":
        small, secondary = w.small(entry.n), w.hidden_cell(entry.cell) and not w.small(entry.n)
        text = entry_text(entry, w.min_cell, secondary)
        return (Num(text, value=entry.n, suppressed=small or secondary, kind="count", cell=entry.cell),)
    text = entry_text(entry, w.min_cell)
    return (Num(text, suppressed=True),) if entry.kind == "summary" and text == HIDDEN else (text,)


def cohort_section(baseline: BaselineResult, w: Writer) -> Section:
    """Table 1 and the age distribution by sex; every count of Table 1 declared to the audit."""
    layout = table_one_layout(baseline, w.min_cell)
    for cell in layout.cells:
        w.declare(cell.key, cell.value, cell.published)
    w.relate(*layout.relations)
    h = w.headline
    size = {c: w.cells[f"table1.patients.{c}"].value for c in ("all", "M", "F")}

    def patients(key: str, column: str) -> Num:  # the same count as Table 1's, when it is
        same = h.get(key) is not None and float(h[key]) == size[column]
        return w.count(h.get(key), key, cell=f"table1.patients.{column}" if same else None)

    def age(column: str, stat: str) -> Num:
        return w.num(f"demographics.age.{column}.{stat}", 1, hide=w.summary_hidden(size[column]))

    text: Text = (
        "The cohort has ", patients("demographics.sex_ratio.n", "all"), " patients: ",
        patients("demographics.sex_ratio.men", "M"), " men and ", patients("demographics.sex_ratio.women", "F"),
        " women. The median age at onset was ", age("M", "median"), " years in men (IQR ", age("M", "q1"), " to ",
        age("M", "q3"), ") and ", age("F", "median"), " years in women (IQR ", age("F", "q1"), " to ", age("F", "q3"),
        ").",
    )
    rows = []
    previous = None
    for label, level, entries in layout.rows:
        rows.append((("" if label == previous else label,), (level,), *(_table_one_cell(e, w) for e in entries)))
        previous = label
    note = (f"n (%) of patients with the characteristic recorded; median [IQR]. Counts from 1 to {w.min_cell - 1} "
            f"are shown as <{w.min_cell}; '{HIDDEN}' marks a count hidden because the table's totals would give a "
            f"small count back, and the median [IQR] of a group of fewer than {w.min_cell}; treatments of fewer "
            f"than {w.min_cell} patients are counted as 'other'." if w.min_cell > 1 else "n (%); median [IQR].")
    table = ReportTable("table1", "Table 1. Baseline characteristics of the index episodes, by sex",
                        ("characteristic", "level", "All", "Men", "Women"), tuple(rows), note=note)
    return Section("cohort", "Cohort description", (text,), tables=(table,))
