"""A site's sufficient statistics, their sum over sites, and the estimates made from the sum.

Each analysis that can be pooled computes its estimates from counts (events and censorings per
distinct time, counts per distinct interval, events and person-time, x and n); one cohort's
analysis and a pool of sites call the same functions on those counts, so a pooled estimate
equals the estimate the concatenated rows would have given.  Nothing here holds a row, an
identifier, a date or free text: only package-defined labels, times in days from onset and
counts.  :func:`site_aggregates` makes a site's counts, :func:`pool` sums sites' counts and
:func:`pooled_analysis` estimates from them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from toh.analyses.baseline import analyse_baseline
from toh.analyses.claims import ClaimsResult, check_claims
from toh.analyses.complications import ComplicationsResult, complication_counts, complications_from_counts
from toh.analyses.demographics import proportion_counts, proportion_table, sex_ratio_table, share_headline
from toh.analyses.meta import MetaAnalysis, meta_analyse
from toh.analyses.migration import SITES, MigrationResult, site_table
from toh.analyses.radiographic import RadiographicResult, interval_counts, radiographic_from_counts
from toh.analyses.recurrence import RecurrenceResult
from toh.analyses.resolution import curve_headline, curve_tables, survival_counts
from toh.analyses.result import blank_not_estimable, clean_number
from toh.analyses._second_episode import (GRAY_COLUMNS, STRATA_COUNT_COLUMNS, incidence_counts,
                                          incidence_from_counts, incidence_strata_counts)
from toh.analyses.site_cox import COEFFICIENT_COLUMNS, COVARIANCE_COLUMNS, site_cox
from toh.analyses.stratified import LOGRANK_COLUMNS, NOT_COMPARED, gray_by_site, logrank_by_site
from toh.analyses._strata import fewer_than_two_groups
from toh.analyses.run import AnalysisOptions
from toh.cohort.coarsen import coarsen_cohort
from toh.cohort.definitions import Definitions
from toh.cohort.errors import ConfigError
from toh.cohort.derive import DerivedCohort

__all__ = ["SiteAggregates", "PooledAnalysis", "site_aggregates", "pool", "pooled_analysis", "shared_options",
           "CODE_PATTERN", "POOLED_PREFIXES", "BASELINE_COUNT_COLUMNS"]

#: A treatment level leaves a site only when it looks like a code (letters, digits, ``_ - . + /``
#: and spaces, at most 40 characters); other levels may be free text and are not written (their
#: patients still count in the overall curve and every other estimate).
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_ .+/-]{0,39}")

#: results.json key prefixes a pool estimates under ``toh analyze``'s keys (the rest of those
#: keys need rows or one model over all rows: the unstratified log-rank and Gray's tests, the Cox
#: model, ages, imaging findings), the claims checked on those estimates among them.  Beside
#: them, ``meta.*`` (random-effects meta-analysis of the sites' estimates and Cox hazard ratios,
#: :mod:`toh.analyses.meta`) and ``sites.*`` (each site's patients and own estimates; the tests
#: stratified by site, :mod:`toh.analyses.stratified`).
POOLED_PREFIXES = ("resolution", "recurrence", "migration", "radiographic", "complications", "demographics",
                   "claims")


#: Columns of a site's (or a pool's) Table 1 counts.
BASELINE_COUNT_COLUMNS = ["variable", "level", "kind", "stratum", "n", "denominator", "missing"]


def shared_options(options: AnalysisOptions) -> dict[str, Any]:
    """The analysis options a bundle records and sites must share (the bootstrap's draws, seed
    and workers are chosen when pooling, so they are left out)."""
    out = dataclasses.asdict(options)
    for name in ("bootstrap_draws", "seed", "workers"):
        out["radiographic"].pop(name)
    return out


@dataclass(frozen=True)
class SiteAggregates:
    """Sufficient statistics of one site (or of several, summed).

    Attributes
    ----------
    survival
        Resolution: ``variable, stratum, time, n_event, n_censor``.
    recurrence, migration
        ``time, censored, event, death`` (death competing).
    intervals
        Radiographic change: ``lower, upper, n`` (upper inf: never abnormal).
    complications
        ``outcome, group, events, n, days`` (days at risk).
    proportions
        ``quantity, description, x, n, method`` of the demographic shares.
    migration_sites
        ``site, n``: where the first migration went.
    patients
        Patients (index episodes).
    absent
        Tables a site's export does not have.
    withheld_levels
        Treatment levels (and levels of declared category columns) not written because they do
        not look like codes.
    cox, cox_covariance
        The site's Cox model of resolution (:func:`toh.analyses.site_cox.site_cox`):
        ``term, reference, coef, n, events`` and ``term, other, covariance``; empty in a sum.
    recurrence_strata, migration_strata
        ``variable, stratum, time, censored, event, death``: the counts of ``recurrence`` and
        ``migration`` within each stratum level (for Gray's test stratified by site).
    baseline
        Table 1's counts (:data:`BASELINE_COUNT_COLUMNS`): patients per level of each
        characteristic, its denominator and missing, overall and by sex; no median or quartile
        (they are not sums, and they are values of the site's patients).
    """

    survival: pd.DataFrame
    recurrence: pd.DataFrame
    migration: pd.DataFrame
    intervals: pd.DataFrame
    complications: pd.DataFrame
    proportions: pd.DataFrame
    migration_sites: pd.DataFrame
    patients: int
    absent: frozenset[str] = frozenset()
    withheld_levels: int = 0
    cox: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COEFFICIENT_COLUMNS))
    cox_covariance: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COVARIANCE_COLUMNS))
    recurrence_strata: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STRATA_COUNT_COLUMNS))
    migration_strata: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STRATA_COUNT_COLUMNS))
    baseline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BASELINE_COUNT_COLUMNS))

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its member name in a bundle."""
        return {"resolution_km": self.survival, "recurrence_cif": self.recurrence, "migration_cif": self.migration,
                "radiographic_intervals": self.intervals, "complications": self.complications,
                "proportions": self.proportions, "migration_sites": self.migration_sites,
                "cox_coefficients": self.cox, "cox_covariance": self.cox_covariance,
                "recurrence_cif_strata": self.recurrence_strata, "migration_cif_strata": self.migration_strata,
                "baseline": self.baseline}


def site_aggregates(cohort: DerivedCohort, options: AnalysisOptions | None = None,
                    time_unit: str = "day", min_cell: int = 0) -> SiteAggregates:
    """The sufficient statistics of ``cohort`` after coarsening its times to ``time_unit``
    (:func:`toh.cohort.coarsen.coarsen_cohort`); a Cox term resting on fewer than ``min_cell``
    patients (the site's small-cell rule) is left out (:func:`toh.analyses.site_cox.site_cox`)."""
    options = options or AnalysisOptions()
    cohort = coarsen_cohort(cohort, time_unit)
    index = cohort.index
    survival = survival_counts(index, options.resolution.strata, cohort.columns, options.resolution.min_level)
    coded = survival["stratum"].map(lambda s: CODE_PATTERN.fullmatch(str(s)) is not None)
    free = ["treatment", *(c.name for c in cohort.columns if c.type == "category")]  # levels that may be free text
    withheld = survival[survival["variable"].isin(free) & ~coded]
    survival = survival.drop(withheld.index).reset_index(drop=True)
    moved = index.loc[index["migration_status"] == 1, "migration_site"].value_counts()
    strata = {}
    for outcome, chosen in (("recurrence", options.recurrence.strata), ("migration", options.migration.strata)):
        counts = incidence_strata_counts(index, outcome, chosen)
        coded_level = counts["stratum"].map(lambda s: CODE_PATTERN.fullmatch(str(s)) is not None)
        strata[outcome] = counts[(counts["variable"] != "treatment") | coded_level].reset_index(drop=True)
    cox, covariance = site_cox(index, options.resolution, cohort.definitions.confidence, CODE_PATTERN, cohort.columns,
                               min_cell)
    baseline = analyse_baseline(cohort).table
    free_text = (baseline["variable"] == "treatment") & ~baseline["level"].map(
        lambda s: CODE_PATTERN.fullmatch(str(s)) is not None)
    return SiteAggregates(
        baseline=baseline.loc[~free_text, BASELINE_COUNT_COLUMNS].reset_index(drop=True),
        cox=cox, cox_covariance=covariance, recurrence_strata=strata["recurrence"],
        migration_strata=strata["migration"],
        survival=survival, recurrence=incidence_counts(index, "recurrence"),
        migration=incidence_counts(index, "migration"), intervals=interval_counts(index),
        complications=complication_counts(index), proportions=proportion_counts(index, cohort.definitions),
        migration_sites=pd.DataFrame({"site": list(SITES), "n": [int(moved.get(s, 0)) for s in SITES]}),
        patients=len(index), absent=frozenset(cohort.absent),
        withheld_levels=len(withheld[["variable", "stratum"]].drop_duplicates()))


def _summed(frames: Sequence[pd.DataFrame], keys: list[str], counts: list[str]) -> pd.DataFrame:
    """Rows with the same ``keys`` added up (counts as whole numbers where they are), sorted by keys."""
    whole = pd.concat(frames, ignore_index=True)
    summed = whole.groupby(keys, sort=True, dropna=False)[counts].sum().reset_index()
    return summed[[c for c in frames[0].columns if c in keys + counts]]


def pool(sites: Sequence[SiteAggregates]) -> SiteAggregates:
    """The counts of all ``sites`` added up: the counts of their concatenated cohorts."""
    if not sites:
        raise ValueError("nothing to pool")
    first = sites[0]
    for other in sites[1:]:
        for name in ("proportions", "migration_sites"):
            if list(getattr(other, name).iloc[:, 0]) != list(getattr(first, name).iloc[:, 0]):
                raise ConfigError(f"the sites' {name.replace('_', ' ')} name different quantities: every site must "
                                  "use the same toh-cohort release")
    # the shares' descriptions and methods are the package's, the same at every site
    summed = _summed([s.proportions for s in sites], ["quantity"], ["x", "n"]).set_index("quantity")
    proportions = first.proportions.assign(x=first.proportions["quantity"].map(summed["x"]),
                                           n=first.proportions["quantity"].map(summed["n"]))
    return SiteAggregates(
        survival=_summed([s.survival for s in sites], ["variable", "stratum", "time"], ["n_event", "n_censor"]),
        recurrence=_summed([s.recurrence for s in sites], ["time"], ["censored", "event", "death"]),
        migration=_summed([s.migration for s in sites], ["time"], ["censored", "event", "death"]),
        intervals=_summed([s.intervals for s in sites], ["lower", "upper"], ["n"]),
        complications=_summed([s.complications for s in sites], ["outcome", "stratum"], ["events", "n", "days"]),
        proportions=proportions[list(first.proportions.columns)],
        migration_sites=first.migration_sites.assign(
            n=first.migration_sites["site"].map(_summed([s.migration_sites for s in sites], ["site"], ["n"])
                                                .set_index("site")["n"])),
        patients=sum(s.patients for s in sites),
        absent=frozenset().union(*(s.absent for s in sites)),
        withheld_levels=sum(s.withheld_levels for s in sites),
        recurrence_strata=_summed([s.recurrence_strata for s in sites], ["variable", "stratum", "time"],
                                  ["censored", "event", "death"]),
        migration_strata=_summed([s.migration_strata for s in sites], ["variable", "stratum", "time"],
                                 ["censored", "event", "death"]),
        baseline=_baseline_summed([s.baseline for s in sites]))


def _baseline_summed(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Table 1's counts added up: each level's patients summed over the sites that have it, and
    each characteristic's denominator and missing summed over every site (a level one site never
    saw is 0 there, but its patients still count in the denominator), rows in first-seen order."""
    whole = pd.concat(frames, ignore_index=True)
    if whole.empty:
        return pd.DataFrame(columns=BASELINE_COUNT_COLUMNS)
    keys = ["variable", "kind", "stratum"]
    per_site = pd.concat([f.drop_duplicates(keys) for f in frames], ignore_index=True)
    totals = per_site.groupby(keys, sort=False)[["denominator", "missing"]].sum().reset_index()
    counts = whole.groupby(["variable", "level", "kind", "stratum"], sort=False)["n"].sum().reset_index()
    return counts.merge(totals, on=keys, how="left")[BASELINE_COUNT_COLUMNS]


@dataclass(frozen=True)
class PooledAnalysis:
    """The estimates of a pool of sites, under the keys ``toh analyze`` uses for the same estimand."""

    radiographic: RadiographicResult
    resolution: dict[str, pd.DataFrame]
    recurrence: RecurrenceResult
    migration: MigrationResult
    complications: ComplicationsResult
    demographics: dict[str, pd.DataFrame]
    meta: MetaAnalysis
    patients: Mapping[str, int]
    definitions: Definitions
    options: AnalysisOptions
    not_estimable: Mapping[str, str] = field(default_factory=dict)
    logrank: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOGRANK_COLUMNS))
    gray: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GRAY_COLUMNS))
    baseline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BASELINE_COUNT_COLUMNS))

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every pooled table by name (the CSV names of ``toh analyze`` where the table is the same;
        ``sites_logrank`` and ``sites_gray``: the tests stratified by site)."""
        out = {f"resolution_{k}": v for k, v in self.resolution.items()}
        out.update({"sites_logrank": self.logrank, "sites_gray": self.gray})
        out.update({f"demographics_{k}": v for k, v in self.demographics.items()})
        for result in (self.radiographic, self.recurrence, self.migration, self.complications, self.meta):
            out.update({k: v for k, v in result.tables().items() if not k.endswith("_gray")})
        out["sites"] = pd.DataFrame(list(self.patients.items()), columns=["site", "patients"])
        out["baseline"] = self.baseline
        return out

    def headline(self) -> dict[str, float | int | str | None]:
        """Headline numbers under ``toh analyze``'s keys, plus ``meta.*``, ``sites.*`` and the
        claims check on the pooled numbers (``claims.*``: a claim whose estimate the pool cannot
        make is "not assessable", with the reason)."""
        out = self.estimates()
        out.update(blank_not_estimable(self.claims().headline(), {}))
        return dict(sorted(out.items()))

    def claims(self) -> ClaimsResult:
        """The bundled claims checked against the pooled estimates."""
        estimates = self.estimates()
        reasons = {k[: -len(".not_estimable")]: str(v) for k, v in estimates.items() if k.endswith(".not_estimable")}
        return check_claims([_Estimates(estimates, reasons)],
                            absent=f"the pool does not estimate {{key}}: {NOT_POOLED_CLAIM}",
                            conf=self.definitions.confidence)

    def estimates(self) -> dict[str, float | int | str | None]:
        """The pooled estimates (:meth:`headline` without the claims)."""
        out: dict[str, Any] = {}
        out.update(curve_headline(self.resolution["medians"], self.resolution["landmarks"], self.resolution["rmst"]))
        out.update(share_headline(self.demographics["sex_ratio"], self.demographics["proportions"]))
        ratio = self.demographics["sex_ratio"].iloc[0]
        reasons = dict(self.not_estimable)
        if ratio["women"] == 0:
            reasons["demographics.sex_ratio"] = "no women in the cohort: men per woman is undefined"
        for row in self.demographics["proportions"].itertuples():
            if row.n == 0:
                reasons[f"demographics.{row.quantity}"] = f"no one in the denominator ({row.description})"
        for result in (self.radiographic, self.recurrence, self.migration, self.complications, self.meta):
            out.update(result.headline())
            reasons.update(result.not_estimable)
        out.update({f"sites.{name}.patients": n for name, n in self.patients.items()})
        for row in self.logrank.itertuples():
            for key in ("chisq", "df", "p"):
                out[f"sites.logrank.{row.variable}.{key}"] = clean_number(getattr(row, key))
            if row.groups < 2:
                reasons[f"sites.logrank.{row.variable}"] = fewer_than_two_groups(row.variable, row.groups)
            elif row.p != row.p:
                reasons[f"sites.logrank.{row.variable}"] = NOT_COMPARED
        for row in self.gray.itertuples():
            for key in ("chisq", "df", "p"):
                out[f"sites.gray.{row.outcome}.{row.variable}.{key}"] = clean_number(getattr(row, key))
            if row.groups < 2:
                reasons[f"sites.gray.{row.outcome}.{row.variable}"] = fewer_than_two_groups(row.variable, row.groups)
            elif row.events == 0:
                reasons[f"sites.gray.{row.outcome}.{row.variable}"] = f"no {row.outcome} event: nothing to compare"
            elif row.p != row.p:
                reasons[f"sites.gray.{row.outcome}.{row.variable}"] = NOT_COMPARED
        return dict(sorted(blank_not_estimable(out, reasons).items()))


#: Why the pool lacks an estimate a claim needs.
NOT_POOLED_CLAIM = "the sites' bundles carry counts, not the rows it needs"


@dataclass(frozen=True)
class _Estimates:
    """Pooled estimates as :func:`toh.analyses.claims.check_claims` reads a result."""

    values: Mapping[str, Any]
    not_estimable: Mapping[str, str]

    def headline(self) -> dict[str, Any]:
        return dict(self.values)


def pooled_analysis(sites: Mapping[str, SiteAggregates], definitions: Definitions,
                    options: AnalysisOptions | None = None) -> PooledAnalysis:
    """Estimate from the counts of ``sites`` (name -> counts) summed, with the estimators of
    the single-cohort analyses (same definitions and options at every site)."""
    options = options or AnalysisOptions()
    total = pool(list(sites.values()))
    conf, per_year = definitions.confidence, definitions.days_per_year
    medians, landmarks, rmst, curves = curve_tables(total.survival, options.resolution, per_year, conf)
    second = {}
    for outcome, months in (("recurrence", options.recurrence.months), ("migration", options.migration.months)):
        second[outcome] = incidence_from_counts(getattr(total, outcome), outcome, months, per_year, conf)
    gray = pd.DataFrame(columns=GRAY_COLUMNS)
    migration_sites = site_table(total.migration_sites)
    imaging_absent = "the export of a site has no imaging table" if "imaging" in total.absent else ""
    return PooledAnalysis(
        radiographic=radiographic_from_counts(total.intervals, total.patients, options.radiographic, conf,
                                              imaging_absent),
        resolution={"medians": medians, "landmarks": landmarks, "rmst": rmst, "curves": curves},
        recurrence=RecurrenceResult(incidence=second["recurrence"][0], rates=second["recurrence"][2],
                                    curves=second["recurrence"][1], gray=gray, options=options.recurrence, conf=conf),
        migration=MigrationResult(incidence=second["migration"][0], rates=second["migration"][2],
                                  sites=migration_sites, curves=second["migration"][1], gray=gray,
                                  options=options.migration, conf=conf),
        complications=complications_from_counts(total.complications, per_year, conf, "events" in total.absent),
        demographics={"proportions": proportion_table(total.proportions, conf),
                      "sex_ratio": sex_ratio_table(total.patients, int(total.proportions.set_index("quantity")
                                                                      .loc["share_men", "x"]),
                                                   options.demographics.null_ratio, conf)},
        meta=meta_analyse(sites, per_year, conf),
        patients={name: s.patients for name, s in sites.items()}, baseline=total.baseline,
        definitions=definitions, options=options,
        logrank=logrank_by_site({name: s.survival for name, s in sites.items()}, options.resolution.strata),
        gray=pd.concat([gray_by_site({name: getattr(s, f"{outcome}_strata") for name, s in sites.items()}, outcome,
                                     getattr(options, outcome).strata) for outcome in ("recurrence", "migration")],
                       ignore_index=True))
