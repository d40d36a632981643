"""Plain-text summaries the command line prints (no colour codes, readable in a cron mail)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toh.reports.safe_text import neutralise

if TYPE_CHECKING:  # pragma: no cover
    from toh.cohort.derive import DerivedCohort
    from toh.cohort.validate import ValidationReport

__all__ = ["validation_summary", "cohort_summary"]

_MAX_RULE_LINES = 40


def _clip(value: object, width: int = 30) -> str:
    """A value from the export as the terminal may show it: escape sequences, bidi and other
    control characters made visible (they could recolour or reorder the terminal), line ends
    as ``\\n``, at most ``width`` characters."""
    text = "" if value is None or value != value else str(value)  # noqa: PLR0124 (NaN)
    text = neutralise(text.replace("\r", "\\r").replace("\n", "\\n"))
    return text if len(text) <= width else text[: width - 1] + "…"


def validation_summary(report: ValidationReport) -> str:
    """What was read, and every failing rule with its count and one example."""
    lines = [f"Export: {report.export}"]
    for table, n in report.rows.items():
        if table in report.absent:
            lines.append(f"  {table:<9} {'absent: not in the export':<40} {'':>9} (estimates that need it: not estimable)")
            continue
        lines.append(f"  {table:<9} {_clip(report.files.get(table, ''), 40):<40} {n:>9,} rows")
    errors, warnings = len(report.errors), len(report.warnings)
    verdict = "VALID" if report.is_valid else "INVALID"
    lines.append(
        f"Validation on {report.validation_date.isoformat()}: {verdict}: "
        f"{errors:,} error(s), {warnings:,} warning(s)"
    )
    summary = report.summary
    if len(summary):
        lines.append("")
        lines.append(f"  {'severity':<8} {'table':<9} {'column':<26} {'rule':<30} {'n':>7}  example")
        for row in summary.head(_MAX_RULE_LINES).itertuples(index=False):
            lines.append(
                f"  {row.severity:<8} {row.table:<9} {_clip(row.column, 26):<26} "
                f"{_clip(row.rule):<30} {row.n:>7,}  {_clip(row.example)}"
            )
        if len(summary) > _MAX_RULE_LINES:
            lines.append(f"  ... and {len(summary) - _MAX_RULE_LINES} more rule(s): see the failure file")
    return "\n".join(lines)


def cohort_summary(derived: DerivedCohort) -> str:
    """Who is in the cohort and how their episodes relate to the index episode."""
    index, episodes = derived.index, derived.episodes
    n = len(index)
    men = int((index["sex"] == "M").sum())
    lines = [
        f"Cohort: {n:,} patients with an index {derived.definitions.index_joint} episode "
        f"({men:,} men, {n - men:,} women); {len(episodes):,} episodes in all",
    ]
    relations = episodes["relation"].value_counts(sort=False)
    lines.append("  episodes by relation: " + ", ".join(f"{k} {v:,}" for k, v in relations.items() if v))
    films = int(index["xr_films"].gt(0).sum())
    lines.append(f"  index episodes with a decisive plain film: {films:,}; resolved: {int(index['resolved'].sum()):,}")
    out = derived.attrition[derived.attrition["stage"] == "cohort"]
    if len(out):
        counts = out.groupby("table").size()
        lines.append("  left out of the cohort: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()))
    return "\n".join(lines)
