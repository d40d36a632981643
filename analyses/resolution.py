"""Time from onset to clinical resolution: Kaplan-Meier, medians, landmarks, RMST, log-rank
tests by stratum, and a Cox model with R's proportional-hazards test."""

from __future__ import annotations

from collections.abc import Mapping

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toh.analyses.cox import BUILTIN_COVARIATES, CATEGORICAL_COVARIATES, fit_cox_models
from toh.analyses._checks import horizons
from toh.analyses._km import event_counts, kaplan_meier_counts, r_quantile
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records
from toh.analyses._strata import STRATA, fewer_than_two_groups, strata_of
from toh.cohort.columns import ExtraColumn
from toh.cohort.derive import DerivedCohort
from toh.cohort.errors import ConfigError

__all__ = ["ResolutionOptions", "ResolutionResult", "analyse_resolution", "survival_counts", "curve_tables",
           "curve_headline"]


@dataclass(frozen=True)
class ResolutionOptions:
    """Settings of the resolution analysis.

    Attributes
    ----------
    landmark_months
        Months at which the probability of being still unresolved is read (a month is a twelfth
        of a year of ``days_per_year`` days).
    rmst_months
        Horizons of the restricted mean time to resolution.
    strata
        Stratum variables for curves and log-rank tests (see :data:`toh.analyses._strata.STRATA`),
        and declared extra columns of type category or boolean.
    cox_covariates
        Covariates of the Cox model: male, age (per 10 years), pregnancy_associated, treatment
        (each category against the most frequent one), and declared extra columns
        (:mod:`toh.analyses.cox`).
    cox_strata
        Categories the Cox model is stratified by (each level its own baseline hazard, R's
        ``strata()``): male, pregnancy_associated, treatment or a declared category / boolean
        column, not also a covariate.
    ph_alpha
        Level at which cox.zph's test of a term flags a proportional-hazards violation; a
        flagged category (male, pregnancy_associated, treatment, a declared category or boolean)
        gets a model stratified by it.
    min_level
        Category levels of the Cox model (and its strata) with fewer patients than this are
        pooled into "other" (:func:`toh.analyses.levels.fold_levels`); the report sets its
        ``min_cell``, ``toh analyze`` 0 (every level apart).
    """

    landmark_months: tuple[float, ...] = (6.0, 8.0, 12.0)
    rmst_months: tuple[float, ...] = (12.0, 24.0)
    strata: tuple[str, ...] = ("sex", "pregnancy", "treatment")
    cox_covariates: tuple[str, ...] = BUILTIN_COVARIATES
    cox_strata: tuple[str, ...] = ()
    ph_alpha: float = 0.05
    min_level: int = 0

    def __post_init__(self) -> None:
        for name in ("strata", "cox_covariates", "cox_strata"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a sequence of names, got {value!r}")
            object.__setattr__(self, name, tuple(value))
            if len(set(value)) != len(value):
                raise ValueError(f"{name} names a variable twice: {list(value)}")
        horizons("ResolutionOptions", "landmark_months", self.landmark_months)
        horizons("ResolutionOptions", "rmst_months", self.rmst_months)
        if not 0 < self.ph_alpha < 1:
            raise ValueError(f"ph_alpha must lie in (0, 1), got {self.ph_alpha}")
        if isinstance(self.min_level, bool) or not isinstance(self.min_level, int) or self.min_level < 0:
            raise ValueError(f"min_level must be a whole number >= 0, got {self.min_level!r}")
        both = sorted(set(self.cox_strata) & set(self.cox_covariates))
        if both:
            raise ValueError(f"{both[0]!r} is both a Cox covariate and a Cox stratum; name it in one of them")

    def check_names(self, columns: tuple[ExtraColumn, ...] = ()) -> None:
        """Raise ValueError when a covariate or stratum is neither built in nor a declared extra
        column of a fitting type (strata: category or boolean)."""
        kinds = {c.name: c.type for c in columns}
        categories = sorted(n for n, t in kinds.items() if t in ("category", "boolean"))
        bad = [v for v in self.cox_covariates if v not in BUILTIN_COVARIATES and v not in kinds]
        if bad:
            raise ValueError(f"unknown Cox covariate {bad[0]!r}; covariates are {', '.join(BUILTIN_COVARIATES)} "
                             f"and the declared extra columns ({', '.join(sorted(kinds)) or 'none declared'})")
        bad = [v for v in self.cox_strata if v not in CATEGORICAL_COVARIATES and v not in categories]
        if bad:
            raise ValueError(f"unknown Cox stratum {bad[0]!r}; strata are {', '.join(CATEGORICAL_COVARIATES)} and the "
                             f"declared category or boolean columns ({', '.join(categories) or 'none declared'})")
        bad = [v for v in self.strata if v not in STRATA and v not in categories]
        if bad:
            raise ValueError(f"unknown stratum {bad[0]!r}; strata are {', '.join(STRATA)} and the declared "
                             f"category or boolean columns ({', '.join(categories) or 'none declared'})")


@dataclass(frozen=True)
class ResolutionResult(AnalysisResult):
    """Time to resolution of the index episode."""

    medians: pd.DataFrame
    landmarks: pd.DataFrame
    rmst: pd.DataFrame
    curves: pd.DataFrame
    logrank: pd.DataFrame
    cox: pd.DataFrame
    ph_test: pd.DataFrame
    excluded: pd.DataFrame
    cox_stratified: pd.DataFrame
    options: ResolutionOptions
    conf: float
    cox_reference: dict[str, str] = field(default_factory=dict)
    cox_missing: int = 0
    name: str = "resolution"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"resolution_medians": self.medians, "resolution_landmarks": self.landmarks,
                "resolution_rmst": self.rmst, "resolution_logrank": self.logrank,
                "resolution_cox": self.cox, "resolution_ph_test": self.ph_test,
                "resolution_cox_stratified": self.cox_stratified,
                "resolution_curves": self.curves, "resolution_excluded": self.excluded}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        out.update(curve_headline(self.medians, self.landmarks, self.rmst))
        for row in self.logrank.itertuples():
            out[f"resolution.logrank.{row.variable}.p"] = clean_number(row.p)
        for name, table in (("cox", self.cox), ("cox_stratified", self.cox_stratified)):
            out.update(_cox_keys(f"resolution.{name}", table))
        if len(self.cox):
            out["resolution.cox.n"] = int(self.cox["n"].iloc[0])
            out["resolution.cox.events"] = int(self.cox["events"].iloc[0])
            out["resolution.cox.n_missing"] = self.cox_missing
        for row in self.ph_test[self.ph_test["term"] != "GLOBAL"].itertuples():
            out[f"resolution.ph.{row.term}.p"] = clean_number(row.p)
        glob = self.ph_test[self.ph_test["term"] == "GLOBAL"]
        out["resolution.ph_global_p"] = clean_number(glob["p"].iloc[0]) if len(glob) else None
        return out


def curve_headline(medians: pd.DataFrame, landmarks: pd.DataFrame,
                   rmst: pd.DataFrame) -> dict[str, float | int | str | None]:
    """Headline keys of the overall curve (one cohort's, or a pool's): ``resolution.n``,
    ``.events``, ``resolution.median.*``, ``resolution.unresolved_<m>m.*`` and
    ``resolution.rmst_<m>m.*`` (limits level-free; units in the names)."""
    out: dict[str, float | int | str | None] = {}
    medians, landmarks, rmst = (level_free(t[t["variable"] == "all"]) for t in (medians, landmarks, rmst))
    overall = medians.iloc[0]  # keys are the column names without the CI level
    for key in ("n", "events"):
        out[f"resolution.{key}"] = clean_number(overall[key])
    for key in ("estimate_days", "lower_days", "upper_days"):
        out[f"resolution.median.{key}"] = clean_number(overall[key])
    for row in records(landmarks):
        for key in ("estimate", "lower", "upper"):
            out[f"resolution.unresolved_{row['months']:g}m.{key}"] = clean_number(row[key])
    for row in records(rmst):
        for key in ("estimate_days", "se_days", "lower_days", "upper_days"):
            out[f"resolution.rmst_{row['months']:g}m.{key}"] = clean_number(row[key])
    return out


def _cox_keys(prefix: str, table: pd.DataFrame) -> dict[str, float | None]:
    """``<prefix>.<term>.estimate`` / ``lower`` / ``upper`` (the hazard ratio) per unit of each term (age per year,
    as the keys always were), and for a term given per several units (age per 10 years) also
    ``<prefix>.<term>_per_<per>.<field>`` as the table shows it; reference rows have none."""
    out: dict[str, float | None] = {}
    for row in records(level_free(table[~table["reference"].astype(bool)])):
        for key in ("estimate", "lower", "upper"):
            value = row[key]
            out[f"{prefix}.{row['term']}.{key}"] = clean_number(value ** (1 / row["per"]))
            if row["per"] != 1:
                out[f"{prefix}.{row['term']}_per_{row['per']:g}.{key}"] = clean_number(value)
    return out


def _time_event(index: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Days to resolution or censoring, and whether the episode resolved (the two columns every
    curve and test reads: a stratum takes them by a mask, never copying the whole table)."""
    return index["resolution_days"].to_numpy(float), index["resolved"].to_numpy(bool)


#: Columns of the log-rank tests: ``n_smallest`` the patients of the smallest group compared
#: (a test of a small group is that group's statistic, which the report does not show).
RESOLUTION_LOGRANK_COLUMNS = ["variable", "groups", "n", "n_smallest", "chisq", "df", "p"]


def _logrank(index: pd.DataFrame, strata: tuple[str, ...], columns: tuple[ExtraColumn, ...] = (),
             min_level: int = 0) -> pd.DataFrame:
    from lifelines.statistics import multivariate_logrank_test

    time, event = _time_event(index)
    rows = []
    for variable in strata:
        labels = strata_of(index, variable, columns, min_level)
        keep = labels.notna().to_numpy()
        sizes = labels[keep].value_counts()
        groups, smallest = len(sizes), int(sizes.min()) if len(sizes) else 0
        if groups < 2:
            rows.append((variable, int(groups), int(keep.sum()), smallest, np.nan, np.nan, np.nan))
            continue
        test = multivariate_logrank_test(time[keep], labels[keep].to_numpy(), event[keep])
        rows.append((variable, int(groups), int(keep.sum()), smallest, float(test.test_statistic),
                     int(test.degrees_of_freedom), float(test.p_value)))
    return pd.DataFrame(rows, columns=RESOLUTION_LOGRANK_COLUMNS)


#: Columns of :func:`survival_counts`: the sufficient statistics of every Kaplan-Meier curve.
COUNT_COLUMNS = ["variable", "stratum", "time", "n_event", "n_censor"]


def survival_counts(index: pd.DataFrame, strata: tuple[str, ...], columns: tuple[ExtraColumn, ...] = (),
                    min_level: int = 0) -> pd.DataFrame:
    """Resolutions and censorings per distinct time, overall (``variable`` "all") and in each
    stratum level: all a Kaplan-Meier curve needs, and what a site's bundle holds (``columns``
    and ``min_level`` as for :func:`toh.analyses._strata.strata_of`)."""
    time, event = _time_event(index)
    groups = [("all", "all", np.ones(len(time), bool))]
    for variable in strata:
        labels = strata_of(index, variable, columns, min_level)
        groups += [(variable, str(level), (labels == level).to_numpy()) for level in sorted(labels.dropna().unique())]
    parts = []
    for variable, level, mine in groups:
        at, d, c = event_counts(time[mine], event[mine])
        parts.append(pd.DataFrame({"variable": variable, "stratum": level, "time": at,
                                   "n_event": d.astype(np.int64), "n_censor": c.astype(np.int64)}))
    return pd.concat(parts, ignore_index=True)[COUNT_COLUMNS]


def curve_tables(counts: pd.DataFrame, options: ResolutionOptions, days_per_year: float,
                 conf: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Medians, landmarks, restricted means and curves from :func:`survival_counts` (one
    cohort's, or counts summed over sites): "all" first, then each stratum variable of
    ``options`` with its levels sorted."""
    from scipy.stats import norm
    month = days_per_year / 12
    z = norm.ppf(1 - (1 - conf) / 2)
    medians, landmarks, rmsts, curves = [], [], [], []
    order = [("all", "all")] + sorted(
        {(v, s) for v, s in zip(counts["variable"], counts["stratum"]) if v != "all"},
        key=lambda key: (options.strata.index(key[0]) if key[0] in options.strata else len(options.strata), key[1]))
    for variable, level in order:
        group = counts[(counts["variable"] == variable) & (counts["stratum"] == level)]
        curve = kaplan_meier_counts(group["time"].to_numpy(float), group["n_event"].to_numpy(float),
                                    group["n_censor"].to_numpy(float), conf)
        med = r_quantile(curve, 0.5)
        medians.append((variable, level, curve.n, int(curve.n_event.sum()), *med))
        for months in options.landmark_months:
            s, lo, hi = curve.at(months * month)
            landmarks.append((variable, level, months, months * month, s[0], lo[0], hi[0],
                              int(curve.at_risk(months * month)[0])))
        for months in options.rmst_months:
            mean, se = curve.rmst(months * month)
            rmsts.append((variable, level, months, months * month, mean, se, mean - z * se, mean + z * se))
        curves.append(curve.table().drop(columns="std_err").assign(variable=variable, stratum=level))
    curve_frame = pd.concat(curves, ignore_index=True).rename(columns={"time": "days", "surv": "estimate"})
    tables = (pd.DataFrame(medians, columns=["variable", "stratum", "n", "events", "estimate_days",
                                             "lower_days", "upper_days"]),
              pd.DataFrame(landmarks, columns=["variable", "stratum", "months", "days", "estimate",
                                               "lower", "upper", "n_risk"]),
              pd.DataFrame(rmsts, columns=["variable", "stratum", "months", "days", "estimate_days", "se_days",
                                           "lower_days", "upper_days"]),
              curve_frame[["variable", "stratum", "days", "n_risk", "n_event", "n_censor", "estimate", "lower",
                           "upper"]])
    medians, landmarks, rmsts, curve_frame = (name_limits(t, conf) for t in tables)
    return medians, landmarks, rmsts, curve_frame


def analyse_resolution(cohort: DerivedCohort, options: ResolutionOptions | None = None) -> ResolutionResult:
    """Estimate time to resolution of the index episodes.

    Resolution is an event at resolution_date; otherwise the episode is right-censored at the end
    of its follow-up (``resolution_days`` / ``resolved`` of the index table).

    Parameters
    ----------
    cohort
        Derived cohort tables (:func:`toh.cohort.derive.derive_cohort`).
    options
        Landmarks, RMST horizons, strata and Cox covariates (defaults: docs/definitions.md).

    Returns
    -------
    ResolutionResult
    """
    options = options or ResolutionOptions()
    columns = cohort.columns
    try:
        options.check_names(columns)
    except ValueError as exc:
        raise ConfigError(f"resolution options: {exc}") from None
    conf = cohort.definitions.confidence
    index = cohort.index
    counts = survival_counts(index, options.strata, columns, options.min_level)
    medians, landmarks, rmsts, curves = curve_tables(counts, options, cohort.definitions.days_per_year, conf)
    models = fit_cox_models(index, options.cox_covariates, options.cox_strata, conf, options.ph_alpha, columns,
                            options.min_level)
    logrank = _logrank(index, options.strata, columns, options.min_level)
    return ResolutionResult(
        not_estimable={f"resolution.logrank.{row.variable}": fewer_than_two_groups(row.variable, row.groups, columns)
                       for row in logrank.itertuples() if row.groups < 2},
        medians=medians,
        landmarks=landmarks,
        rmst=rmsts,
        curves=curves,
        logrank=logrank,
        cox=models.cox,
        ph_test=models.ph_test,
        cox_stratified=models.cox_stratified,
        excluded=models.excluded,
        options=options,
        conf=conf,
        cox_reference=models.reference,
        cox_missing=models.n_missing,
    )
