"""Export in, analysis out: validate, derive, analyse, written once for every command and the API.

``toh analyze``, ``toh figures``, ``toh report`` (and ``toh demo``) and a notebook's
:func:`analyse_export` run the same three steps with the same rules: validation collects every
failure and stops the run when the export is invalid (:class:`toh.cohort.errors.InvalidDataError`
carries the report), derivation follows the definitions, and the estimators' statistical warnings
are collected, each once, as the run's cautions (the report lists them; the command line prints
them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager

from toh.cohort.errors import InvalidDataError, StatisticalWarning

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import AnalysisOptions, CohortAnalysis
    from toh.cohort.columns import ExtraColumn
    from toh.cohort.derive import DerivedCohort
    from toh.cohort.mapping import ColumnMapping
    from toh.cohort.validate import ValidationReport

__all__ = ["PipelineRun", "analyse_export", "derive_export", "Step"]

#: A step wrapper: called with the step's name ("validate", "derive", "analyse"), it returns a
#: context manager around the step that yields a dict the step fills with a one-line detail.
Step = Callable[[str], ContextManager[dict[str, str]]]


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[dict[str, str]]:
    yield {}


@dataclass(frozen=True)
class PipelineRun:
    """One run of the pipeline: the validation report, the derived cohort, every analysis
    (Table 1's data included, ``analysis.baseline``) and the cautions the estimators raised."""

    report: ValidationReport
    derived: DerivedCohort
    analysis: CohortAnalysis
    cautions: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"<PipelineRun: {self.report.export}, {len(self.derived.index):,} patients, "
                f"{len(self.cautions)} caution(s)>")


def derive_export(
    export: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    validation_date: dt.date | None = None,
    step: Step | None = None,
    on_validated: Callable[[ValidationReport], Any] | None = None,
    columns: tuple[ExtraColumn, ...] = (),
) -> tuple[ValidationReport, DerivedCohort]:
    """The first two steps of :func:`analyse_export`: validate, then derive the cohort
    (parameters and errors as there; ``columns`` are the declared extra columns,
    :attr:`toh.analyses.run.AnalysisOptions.columns`)."""
    from toh.cohort.derive import derive_cohort
    from toh.cohort.validate import validate_export

    step = step or _quiet
    with step("validate") as note:
        report = validate_export(export, mapping, validation_date=validation_date, columns=columns)
        note["text"] = (f"{sum(report.rows.values()):,} rows; {len(report.errors):,} error(s), "
                        f"{len(report.warnings):,} warning(s)")
    if on_validated is not None:
        on_validated(report)
    if not report.is_valid:
        raise InvalidDataError(f"the export {export} is invalid: {len(report.errors):,} error(s)", report)
    with step("derive") as note:
        derived = derive_cohort(report.tables, columns=report.columns)
        note["text"] = f"{len(derived.index):,} patients in the cohort"
    return report, derived


def analyse_export(
    export: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    options: AnalysisOptions | None = None,
    validation_date: dt.date | None = None,
    step: Step | None = None,
    on_validated: Callable[[ValidationReport], Any] | None = None,
) -> PipelineRun:
    """Validate ``export``, derive the cohort and run every analysis.

    Parameters
    ----------
    export
        Folder of CSV/Parquet files or an Excel workbook.
    mapping
        Mapping file (or parsed mapping) of an export with its own names and codes.
    options
        Options of each analysis (bootstrap draws, seed, strata, covariates...) and the export's
        extra columns declared for them (``options.columns``, typed at validation); default
        :class:`toh.analyses.run.AnalysisOptions`.
    validation_date
        The day no date may lie after (default: today).
    step
        Wraps each step (the report build logs its time); default: nothing.
    on_validated
        Called with the validation report before the run stops or goes on (the command line
        prints its summary and writes the failure CSV here).

    Returns
    -------
    PipelineRun

    Raises
    ------
    InvalidDataError
        The export breaks the contract (``exc.report`` holds every failure).
    ConfigError
        The export or mapping cannot be found or read.
    """
    from toh.analyses._bootstrap import warm_worker
    from toh.analyses.run import AnalysisOptions, analyse_cohort

    radiographic = (options or AnalysisOptions()).radiographic
    # the bootstrap's worker is forked first: it imports scipy.stats and lifelines while this
    # process validates and derives (it then takes the analyses that need them)
    drawn = radiographic.bootstrap_draws > 0 and radiographic.workers in (None, 2)
    with warm_worker() if drawn else contextlib.nullcontext():
        report, derived = derive_export(export, mapping, validation_date=validation_date, step=step,
                                        on_validated=on_validated, columns=options.columns if options else ())
        step = step or _quiet
        with step("analyse") as note:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                analysis = analyse_cohort(derived, options)
            cautions = _cautions(caught)
            note["text"] = (f"{radiographic.bootstrap_draws:,} bootstrap draws, seed {radiographic.seed}"
                            + (f"; {len(cautions)} caution(s)" if cautions else ""))
    return PipelineRun(report, derived, analysis, cautions)


def _cautions(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """The statistical warnings, each once; any other warning is passed on as it came."""
    found = []
    for item in caught:
        if issubclass(item.category, StatisticalWarning):
            found.append(str(item.message))
        else:  # not ours to judge
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return tuple(dict.fromkeys(found))
