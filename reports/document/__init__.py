"""Assemble the report document from one run: validation, derived cohort, analyses, provenance.

The document (:class:`toh.reports.document._writer.ReportDocument`) is data: every renderer (HTML, PDF,
Markdown) draws the same sections, sentences, tables and figures from it, with small counts
already suppressed.  It is written twice: the first pass declares every audited count and the
relations between them, :func:`toh.reports.document.disclosure.protect` audits them over the whole report,
and the second pass hides what that audit says to hide.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from toh.reports.document._writer import Num, ReportDocument, Section, Writer
from toh.reports.document._sections_analyses import (
    complications_section,
    demographics_section,
    imaging_section,
    radiographic_section,
    recurrence_migration_section,
)
from toh.reports.document._sections_resolution import resolution_section
from toh.reports.document._sections_data import attrition_section, cohort_section, data_section
from toh.reports.document._claims_text import HIDDEN_VERDICT, hidden_claims
from toh.reports.document._sections_methods import claims_section, manifest_section, methods_section
from toh.reports.document.disclosure import Protection, protect
from toh.reports.figures.names import CLAIMS_FOREST, FIGURE_NEEDS

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.baseline import BaselineResult
    from toh.analyses.claims import ClaimsResult
    from toh.analyses.run import CohortAnalysis
    from toh.cohort.derive import DerivedCohort
    from toh.cohort.validate import ValidationReport

__all__ = ["build_document", "claims_for_figure", "figure_hidden"]


def build_document(
    title: str,
    report: ValidationReport,
    derived: DerivedCohort,
    analysis: CohortAnalysis,
    baseline: BaselineResult,
    provenance: Mapping[str, Any],
    config: Mapping[str, Any],
    min_cell: int,
    cautions: tuple[str, ...] = (),
) -> ReportDocument:
    """The report of one run, section by section.

    Parameters
    ----------
    title
        Title of the report.
    report, derived, analysis, baseline
        Validation report, derived cohort, every analysis and Table 1's data of the run.
    provenance
        :func:`toh.reports.manifest.provenance` of the run.
    config
        The report configuration as plain values (:meth:`toh.reports.config.ReportConfig.as_dict`).
    min_cell
        Smallest count shown.
    cautions
        Statistical warnings the estimators raised (stated in the methods).

    Returns
    -------
    ReportDocument
    """
    def sections(w: Writer, cautions: tuple[str, ...]) -> tuple[Section, ...]:
        return (
            data_section(report, w),
            attrition_section(derived, report.rows, w),
            cohort_section(baseline, w),
            demographics_section(analysis, w),
            _estimable(radiographic_section, analysis, w),
            resolution_section(analysis, w),
            recurrence_migration_section(analysis, w),
            _estimable(complications_section, analysis, w),
            _estimable(imaging_section, analysis, w),
            claims_section(analysis, w),
            methods_section(analysis, min_cell, cautions),
            manifest_section(provenance, config),
        )

    headline, reasons = analysis.headline(), analysis.not_estimable  # each gathered once: both passes read them

    def writer(protection: Protection | None = None) -> Writer:
        return Writer(headline, min_cell, analysis.definitions.confidence, reasons, protection)

    first = writer()
    sections(first, cautions)  # the first pass declares every audited count and relation
    protection = protect(list(first.cells.values()), first.relations, min_cell)
    w = writer(protection)
    residual = len(protection.residual)
    written = sections(w, cautions + ((f"{residual} small count(s) of this registry can still be narrowed to "
                                       f"fewer than half of the values <{min_cell} allows from what the report "
                                       "prints, and no further count could be hidden to prevent it",)
                                      if residual else ()))
    subtitle = (f"{len(derived.index):,} patients; validated on {report.validation_date.isoformat()}; "
                f"toh-cohort {provenance.get('software', {}).get('toh-cohort', '')}")
    implied = tuple((c.key, c.value) for c in w.cells.values() if not c.published)
    return ReportDocument(title, subtitle, written, min_cell, tuple(w.relations), implied, protection)


def _estimable(make: Callable[[CohortAnalysis, Writer], Section], analysis: CohortAnalysis, w: Writer) -> Section:
    """The section ``make`` builds, or, when none of its estimates can be made from this export
    (:data:`toh.reports.figures.FIGURE_NEEDS` of its figures), the section with the reason alone:
    no figure, no table of blanks."""
    section = make(analysis, w)
    needs = [need for f in section.figures for need in FIGURE_NEEDS.get(f.name, ())]
    reason = w.reason(*needs) if needs else ""
    if not reason:
        return section
    return Section(section.id, section.title, ((f"Not estimable: {reason}.",),))


def claims_for_figure(analysis: CohortAnalysis, min_cell: int, also: Collection[str] = ()) -> ClaimsResult:
    """The claims with estimates that would reveal a small count blanked (with a ``note`` saying
    so), for the forest plot; ``also`` names claims the document's disclosure audit hides
    (:func:`figure_hidden`)."""
    from dataclasses import replace

    import numpy as np

    hidden = hidden_claims(Writer(analysis.headline(), min_cell, not_estimable=analysis.not_estimable),
                           analysis.claims) | set(also)
    claims = analysis.claims.claims.copy()
    rows = claims["key"].isin(sorted(hidden))
    claims.loc[rows, [c for c in claims.columns if c == "estimate" or c.startswith(("lower_", "upper_"))]] = np.nan
    claims.loc[rows, "verdict"] = HIDDEN_VERDICT  # where the interval lies is what the hidden estimate says
    claims["note"] = np.where(rows, f"not shown: a count below {min_cell}", "")
    return replace(analysis.claims, claims=claims)


def figure_hidden(doc: ReportDocument) -> dict[str, frozenset[tuple[str, int]]]:
    """Figure stem -> ``(row, column)`` of the counts it prints that the document hides (the
    numbers at risk of the Kaplan-Meier figures), and ``(claim, 0)`` of the claims whose
    estimate the claims table hides, for :func:`toh.reports.figures.write_figures`."""
    from toh.reports.figures._common import NOT_DRAWN

    out = {f.name: frozenset([*(where for where, num in f.numbers if num.suppressed),
                              *((group, NOT_DRAWN) for group in f.not_drawn)])
           for s in doc.sections for f in s.figures if f.numbers or f.not_drawn}
    claims = [f for s in doc.sections for t in s.tables if t.name == "claims" for row in t.rows for c in row
              for f in c if isinstance(f, Num) and f.suppressed and f.key and f.key.startswith("claims.")]
    out[CLAIMS_FOREST] = frozenset((f.key.split(".")[1], 0) for f in claims)
    return out
