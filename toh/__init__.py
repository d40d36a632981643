"""toh-cohort: registry exports of transient osteoporosis of the hip in, validated cohort tables,
estimates, figures and reports out.

The package is one namespace, ``toh``; its layers are subpackages that may only import to their
left: :mod:`toh.schemas` <- :mod:`toh.cohort` <- :mod:`toh.analyses` <- :mod:`toh.reports`.
The export contract and the estimand definitions are in ``docs/`` (shipped as :mod:`toh.docs`).

Every name below is imported on first use, so ``import toh`` stays light (no pandas, lifelines
or matplotlib until a function that needs them is called).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it (each module's own ``__all__`` lists it).
_API: dict[str, str] = {
    # load, validate, derive
    "validate_export": "toh.cohort.validate",
    "load_valid_export": "toh.cohort.validate",
    "ValidationReport": "toh.cohort.validate",
    "derive_cohort": "toh.cohort.derive",
    "DerivedCohort": "toh.cohort.derive",
    "Definitions": "toh.cohort.definitions",
    "ExtraColumn": "toh.cohort.columns",
    "DEFAULT_DEFINITIONS": "toh.cohort.definitions",
    "simulate_registry": "toh.cohort.simulate",
    "demo_export": "toh.cohort.demo",
    "analyse_export": "toh.analyses.pipeline",
    "PipelineRun": "toh.analyses.pipeline",
    "write_registry": "toh.cohort.simulate",
    # analyse
    "analyse_cohort": "toh.analyses.run",
    "AnalysisOptions": "toh.analyses.run",
    "CohortAnalysis": "toh.analyses.run",
    "analyse_baseline": "toh.analyses.baseline",
    # building blocks: the estimators on any data, with R's conventions
    **{name: "toh.analyses.estimators" for name in (
        "kaplan_meier", "turnbull", "cumulative_incidence", "gray_test", "clopper_pearson", "wilson",
        "poisson_rate", "KMCurve", "Quantile", "TurnbullFit", "CIFCurve", "GrayTest", "Proportion", "Rate")},
    # figures, tables, reports
    "write_figures": "toh.reports.figures",
    "table_one": "toh.reports.document.tables",
    "render_table": "toh.reports.document.tables",
    "build_report": "toh.reports.cli.build",
    "ReportConfig": "toh.reports.config",
    # errors and warnings
    "TohError": "toh.cohort.errors",
    "ConfigError": "toh.cohort.errors",
    "InvalidDataError": "toh.cohort.errors",
    "UnreadableDataError": "toh.cohort.errors",
    "StatisticalWarning": "toh.cohort.errors",
}

__all__ = sorted([*_API, "__version__"])


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("toh-cohort")
        except PackageNotFoundError:  # a source tree that is not installed
            return "unknown"
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'toh' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what a type checker and an IDE see; never imported at run time
    from toh.analyses.baseline import analyse_baseline
    from toh.analyses.pipeline import PipelineRun, analyse_export
    from toh.cohort.demo import demo_export
    from toh.analyses.estimators import (
        CIFCurve, GrayTest, KMCurve, Proportion, Quantile, Rate, TurnbullFit, clopper_pearson,
        cumulative_incidence, gray_test, kaplan_meier, poisson_rate, turnbull, wilson,
    )
    from toh.analyses.run import AnalysisOptions, CohortAnalysis, analyse_cohort
    from toh.cohort.definitions import DEFAULT_DEFINITIONS, Definitions
    from toh.cohort.derive import DerivedCohort, derive_cohort
    from toh.cohort.errors import ConfigError, InvalidDataError, StatisticalWarning, TohError, UnreadableDataError
    from toh.cohort.simulate import simulate_registry, write_registry
    from toh.cohort.validate import ValidationReport, load_valid_export, validate_export
    from toh.reports.cli.build import build_report
    from toh.reports.config import ReportConfig
    from toh.reports.figures import write_figures
    from toh.reports.document.tables import render_table, table_one
