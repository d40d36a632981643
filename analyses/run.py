"""Run every analysis on one derived cohort: the Python API behind ``toh analyze``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from toh.analyses._bootstrap import send_ahead
from toh.analyses.result import AnalysisResult, blank_not_estimable, reason_for
from toh.analyses.baseline import BaselineResult, analyse_baseline
from toh.analyses.claims import ClaimsResult, check_claims
from toh.analyses.claimsfile import load_claims
from toh.analyses.complications import ComplicationsResult, analyse_complications
from toh.analyses.demographics import DemographicsOptions, DemographicsResult, analyse_demographics
from toh.analyses.imaging import ImagingResult, analyse_imaging
from toh.analyses.migration import MigrationOptions, MigrationResult, analyse_migration
from toh.analyses.radiographic import RadiographicOptions, RadiographicResult, start_radiographic
from toh.analyses.recurrence import RecurrenceOptions, RecurrenceResult, analyse_recurrence
from toh.analyses.resolution import ResolutionOptions, ResolutionResult, analyse_resolution
from toh.cohort.columns import ExtraColumn, check_columns
from toh.cohort.definitions import Definitions
from toh.cohort.derive import DerivedCohort

__all__ = ["AnalysisOptions", "CohortAnalysis", "analyse_cohort"]


@dataclass(frozen=True)
class AnalysisOptions:
    """The options of every analysis (each documented on its own class).

    ``claims`` is a claims file of one's own (:mod:`toh.analyses.claimsfile`): its claims are
    checked besides the bundled ones, and replace those with the same id (None: the bundled
    claims only).

    ``columns`` declares the export's extra columns the analyses may use
    (:class:`toh.cohort.columns.ExtraColumn`: table and type, checked at validation by
    :func:`toh.analyses.pipeline.analyse_export`); ``resolution.cox_covariates``,
    ``resolution.cox_strata`` and ``resolution.strata`` may then name them.
    """

    demographics: DemographicsOptions = field(default_factory=DemographicsOptions)
    radiographic: RadiographicOptions = field(default_factory=RadiographicOptions)
    resolution: ResolutionOptions = field(default_factory=ResolutionOptions)
    recurrence: RecurrenceOptions = field(default_factory=RecurrenceOptions)
    migration: MigrationOptions = field(default_factory=MigrationOptions)
    claims: str | Path | None = None
    columns: tuple[ExtraColumn, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", check_columns(self.columns))
        self.resolution.check_names(self.columns)


@dataclass(frozen=True)
class CohortAnalysis:
    """Every result for one cohort, Table 1's data (``baseline``) included.  ``repr`` shows the
    claims check."""

    demographics: DemographicsResult
    radiographic: RadiographicResult
    resolution: ResolutionResult
    recurrence: RecurrenceResult
    migration: MigrationResult
    complications: ComplicationsResult
    imaging: ImagingResult
    claims: ClaimsResult
    baseline: BaselineResult
    definitions: Definitions
    options: AnalysisOptions

    def results(self) -> list[AnalysisResult]:
        """The results in report order."""
        return [self.demographics, self.radiographic, self.resolution, self.recurrence, self.migration,
                self.complications, self.imaging, self.claims]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every tidy table, by its stable name (the CSV file names of ``toh analyze``)."""
        out: dict[str, pd.DataFrame] = {}
        for result in self.results():
            out.update(result.tables())
        out["not_estimable"] = pd.DataFrame(list(self.not_estimable.items()), columns=["key", "reason"])
        return out

    @property
    def not_estimable(self) -> dict[str, str]:
        """results-key prefix -> why the estimates under it cannot be made (absent tables, empty
        denominators, a comparison with one group), sorted by key."""
        out: dict[str, str] = {}
        for result in self.results():
            out.update(result.not_estimable)
        return dict(sorted(out.items()))

    def reason(self, *keys: str) -> str:
        """Why none of the estimates under ``keys`` (results keys or prefixes) can be made; '' when
        at least one can.  With several keys the reasons are joined when they differ."""
        found = [reason_for(key, self.not_estimable) for key in keys]
        return "" if not all(found) else "; ".join(dict.fromkeys(found))

    def headline(self) -> dict[str, float | int | str | None]:
        """Every headline number under its stable key, sorted by key.  An estimate that cannot be
        made is null, with the reason under ``<prefix>.not_estimable``; never a zero."""
        out: dict[str, float | int | str | None] = {}
        for result in self.results():
            out.update(blank_not_estimable(result.headline(), result.not_estimable))
        return dict(sorted(out.items()))

    def __repr__(self) -> str:
        return repr(self.claims)

    def _repr_html_(self) -> str:
        return self.claims._repr_html_()


def analyse_cohort(cohort: DerivedCohort, options: AnalysisOptions | None = None) -> CohortAnalysis:
    """Run every analysis of the mission on ``cohort``.

    Parameters
    ----------
    cohort
        Derived cohort tables (:func:`toh.cohort.derive.derive_cohort`).
    options
        Options of each analysis (and a claims file of one's own); definitions come from
        ``toh.cohort.definitions``.

    Returns
    -------
    CohortAnalysis

    Raises
    ------
    ConfigError
        A malformed claims file, or one naming a results key this run does not have.
    """
    from threadpoolctl import threadpool_limits

    options = options or AnalysisOptions()
    claim_set = load_claims(options.claims)  # first: a broken file stops the run before any work
    # The radiographic fits are made here and its bootstrap draws are shared with a forked
    # worker (when they pay for one); every other analysis is a task of the worker's, the
    # longest first, which it takes before it draws.  So the worker imports scipy.stats and
    # lifelines (about 0.9 s; during validation when analyse_export forked it ahead) while this
    # process fits and draws, and this process never needs them.  A worker forked ahead gets
    # the tasks now (send_ahead), before this process fits the NPMLE and the Weibull (0.9 s at
    # 100,000 patients, which it waited through before).  A task's result and warnings
    # (raised here in the tasks' order) are those it gives in this process.  One BLAS thread in
    # each process: a second OpenBLAS thread only competed with the other process (every table
    # identical at 400 to 100,000 patients; 100k 6.9 -> 5.5 s), and a result has the same bits
    # in either.
    tasks = (partial(analyse_resolution, cohort, options.resolution), partial(analyse_imaging, cohort),
             partial(analyse_recurrence, cohort, options.recurrence), partial(analyse_migration, cohort, options.migration),
             partial(analyse_demographics, cohort, options.demographics), partial(analyse_baseline, cohort),
             partial(analyse_complications, cohort))
    with threadpool_limits(limits=1):
        pending = start_radiographic(cohort, options.radiographic, send_ahead(tasks))
        try:
            radiographic = pending.result()
            resolution, imaging, recurrence, migration, demographics, baseline, complications = pending.beside()
        finally:
            pending.cancel()  # no worker outlives an error or an interruption
    claims = check_claims((demographics, radiographic, resolution, recurrence, migration, complications, imaging),
                          claim_set, conf=cohort.definitions.confidence)
    return CohortAnalysis(demographics=demographics, radiographic=radiographic, resolution=resolution,
                          recurrence=recurrence, migration=migration, complications=complications, imaging=imaging,
                          claims=claims, baseline=baseline, definitions=cohort.definitions, options=options)
