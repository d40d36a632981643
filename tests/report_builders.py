"""Helpers of the report tests: the demo export, a quick configuration, hostile texts."""

from __future__ import annotations

import datetime as dt
import functools
from importlib.resources import files
from pathlib import Path

from toh.reports.document._writer import ReportDocument
from toh.reports.config import ReportConfig

#: Validation day of the report tests (the demo export ends on 2025-12-31).
REPORT_DAY = dt.date(2026, 1, 1)
#: Text an attacker could put in an export: markup, script, a spreadsheet formula.
HOSTILE_COLUMN = '<script>alert("toh")</script>'
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_FORMULA = '=HYPERLINK("http://example.invalid","x")'


def demo_export() -> Path:
    """The bundled demo registry."""
    return Path(str(files("toh.cohort.demo")))


def report_config(export: Path, out: Path, **values: object) -> ReportConfig:
    """A quick configuration: 20 bootstrap draws, validated on REPORT_DAY."""
    base = dict(export=export, out=out, bootstrap_draws=20, validation_date=REPORT_DAY,
                machine_readable=True)  # the content tests compare the report with data/results.json
    base.update(values)
    return ReportConfig(**base)  # type: ignore[arg-type]


def report_document(export: Path, min_cell: int = 5) -> ReportDocument:
    """The report document of ``export`` (no bootstrap, validated on REPORT_DAY), without
    building the report folder.  The demo's validation, cohort and analyses are computed once per
    session (:func:`_analysed`); the document, with its disclosure audit, is built at each call."""
    from toh.reports.document import build_document

    report, derived, analysis, baseline, provenance = (_analysed(export) if export == demo_export()
                                                       else _analysed.__wrapped__(export))
    return build_document("t", report, derived, analysis, baseline, provenance, {}, min_cell)


@functools.lru_cache(maxsize=None)
def _analysed(export: Path) -> tuple:
    """(validation report, derived cohort, analysis, Table 1's data, provenance) of ``export``;
    cached for the demo only, which no test changes (build_document reads them, never writes)."""
    from toh.analyses.baseline import analyse_baseline
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort
    from toh.cohort.derive import derive_cohort
    from toh.cohort.validate import validate_export
    from toh.reports.manifest import provenance

    report = validate_export(export, validation_date=REPORT_DAY)
    derived = derive_cohort(report.tables)
    analysis = analyse_cohort(derived, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0)))
    return report, derived, analysis, analyse_baseline(derived), provenance(export, report.files, None, {})
