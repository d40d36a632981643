"""Helpers of the report tests: the demo export, a quick configuration, hostile texts."""

from __future__ import annotations

import datetime as dt
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
    building the report folder."""
    from toh.analyses.baseline import analyse_baseline
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort
    from toh.cohort.derive import derive_cohort
    from toh.cohort.validate import validate_export
    from toh.reports.document import build_document
    from toh.reports.manifest import provenance

    report = validate_export(export, validation_date=REPORT_DAY)
    derived = derive_cohort(report.tables)
    analysis = analyse_cohort(derived, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0)))
    return build_document("t", report, derived, analysis, analyse_baseline(derived),
                          provenance(export, report.files, None, {}), {}, min_cell)
