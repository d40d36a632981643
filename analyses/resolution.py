"""Time from onset to clinical resolution: Kaplan-Meier, medians, landmarks, RMST, log-rank
tests by stratum, and a Cox model with R's proportional-hazards test."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from toh.analyses._coxzph import cox_zph
from toh.analyses._km import event_counts, kaplan_meier_counts, r_quantile
from toh.analyses.result import AnalysisResult, clean_number
from toh.analyses._strata import fewer_than_two_groups, strata_of
from toh.cohort.derive import DerivedCohort
from toh.cohort.errors import StatisticalWarning

__all__ = ["ResolutionOptions", "ResolutionResult", "analyse_resolution", "survival_counts", "curve_tables"]


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
        Stratum variables for curves and log-rank tests (see :data:`toh.analyses._strata.STRATA`).
    cox_covariates
        Covariates of the Cox model: male, age (per year), pregnancy_associated, treatment
        (each category against the most frequent one).
    ph_alpha
        Level at which cox.zph's test of a term flags a proportional-hazards violation; a
        flagged category (male, pregnancy_associated, treatment) gets a model stratified by it.
    """

    landmark_months: tuple[float, ...] = (6.0, 8.0, 12.0)
    rmst_months: tuple[float, ...] = (12.0, 24.0)
    strata: tuple[str, ...] = ("sex", "pregnancy", "treatment")
    cox_covariates: tuple[str, ...] = ("male", "age", "pregnancy_associated", "treatment")
    ph_alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.ph_alpha < 1:
            raise ValueError(f"ph_alpha must lie in (0, 1), got {self.ph_alpha}")


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
        overall = self.medians[self.medians["stratum_var"] == "all"].iloc[0]
        for key in ("n", "events", "median", "median_lower", "median_upper"):
            out[f"resolution.{key}"] = clean_number(overall[key])
        for row in self.landmarks[self.landmarks["stratum_var"] == "all"].itertuples():
            m = f"{row.months:g}m"
            out[f"resolution.unresolved_{m}"] = clean_number(row.surv)
            out[f"resolution.unresolved_{m}_lower"] = clean_number(row.lower)
            out[f"resolution.unresolved_{m}_upper"] = clean_number(row.upper)
        for row in self.rmst[self.rmst["stratum_var"] == "all"].itertuples():
            out[f"resolution.rmst_{row.months:g}m"] = clean_number(row.rmst)
        for row in self.logrank.itertuples():
            out[f"resolution.logrank.{row.variable}.p"] = clean_number(row.p)
        for row in self.cox.itertuples():
            out[f"resolution.cox.{row.term}.hr"] = clean_number(row.hr)
            out[f"resolution.cox.{row.term}.hr_lower"] = clean_number(row.hr_lower)
            out[f"resolution.cox.{row.term}.hr_upper"] = clean_number(row.hr_upper)
        for row in self.cox_stratified.itertuples():
            for key in ("hr", "hr_lower", "hr_upper"):
                out[f"resolution.cox_stratified.{row.term}.{key}"] = clean_number(getattr(row, key))
        for row in self.ph_test[self.ph_test["term"] != "GLOBAL"].itertuples():
            out[f"resolution.ph.{row.term}.p"] = clean_number(row.p)
        glob = self.ph_test[self.ph_test["term"] == "GLOBAL"]
        out["resolution.ph_global_p"] = clean_number(glob["p"].iloc[0]) if len(glob) else None
        return out


def _groups(index: pd.DataFrame, strata: tuple[str, ...]) -> list[tuple[str, str, pd.DataFrame]]:
    out = [("all", "all", index)]
    for variable in strata:
        labels = strata_of(index, variable)
        for level in sorted(labels.dropna().unique()):
            out.append((variable, str(level), index[labels == level]))
    return out


def _logrank(index: pd.DataFrame, strata: tuple[str, ...]) -> pd.DataFrame:
    from lifelines.statistics import multivariate_logrank_test

    rows = []
    for variable in strata:
        labels = strata_of(index, variable)
        keep = labels.notna()
        if labels[keep].nunique() < 2:
            rows.append((variable, int(labels[keep].nunique()), int(keep.sum()), np.nan, np.nan, np.nan))
            continue
        test = multivariate_logrank_test(index.loc[keep, "resolution_days"], labels[keep],
                                         index.loc[keep, "resolved"].astype(bool))
        rows.append((variable, int(labels[keep].nunique()), int(keep.sum()), float(test.test_statistic),
                     int(test.degrees_of_freedom), float(test.p_value)))
    return pd.DataFrame(rows, columns=["variable", "groups", "n", "chisq", "df", "p"])


def _design(index: pd.DataFrame, covariates: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, list[str]], dict[str, str], pd.DataFrame]:
    """Covariate matrix (complete cases), columns per term, reference levels, exclusions."""
    columns: dict[str, pd.Series] = {}
    terms: dict[str, list[str]] = {}
    reference: dict[str, str] = {}
    missing = pd.Series(False, index=index.index)
    for covariate in covariates:
        if covariate == "male":
            columns["male"] = (index["sex"] == "M").astype(float)
            terms["male"] = ["male"]
        elif covariate == "age":
            columns["age"] = index["age_at_onset"].astype(float)
            missing |= index["age_at_onset"].isna()
            terms["age"] = ["age"]
        elif covariate == "pregnancy_associated":
            columns["pregnancy_associated"] = index["pregnancy_associated"].astype("Float64").astype(float)
            missing |= index["pregnancy_associated"].isna()
            terms["pregnancy_associated"] = ["pregnancy_associated"]
        elif covariate == "treatment":
            treatment = index["treatment"] if "treatment" in index else pd.Series(pd.NA, index=index.index)
            missing |= treatment.isna()
            counts = treatment.value_counts()
            if len(counts) < 2:
                continue
            ref = sorted(counts[counts == counts.max()].index)[0]
            reference["treatment"] = str(ref)
            names = []
            for level in sorted(counts.index):
                if level != ref:
                    columns[f"treatment_{level}"] = (treatment == level).astype(float)
                    names.append(f"treatment_{level}")
            terms["treatment"] = names
        else:
            raise ValueError(f"unknown Cox covariate {covariate!r}")
    design = pd.DataFrame(columns, index=index.index)
    constant = [c for c in design.columns if design.loc[~missing, c].nunique() < 2]
    for name in list(terms):
        terms[name] = [c for c in terms[name] if c not in constant]
        if not terms[name]:
            del terms[name]
    design = design.drop(columns=constant)
    excluded = pd.DataFrame({"reason": ["cox: a covariate is missing"], "n": [int(missing.sum())]})
    if constant:
        excluded = pd.concat([excluded, pd.DataFrame({"reason": [f"cox: no variation in {c} (term dropped)" for c in constant],
                                                      "n": [0] * len(constant)})], ignore_index=True)
    return design[~missing], terms, reference, excluded


#: Cox terms that are categories: a proportional-hazards failure of one is met by stratifying on it.
_CATEGORICAL = ("male", "pregnancy_associated", "treatment")
_COX_COLUMNS = ["term", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p", "n", "events"]


def _fit_cox(data: pd.DataFrame, conf: float, strata: list[str] | None = None,
             covariance: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame | None:
    """Efron-ties Cox fit of ``_t``/``_e`` on the other columns (each ``strata`` column its own
    baseline hazard); None, with a caution, when it cannot be fitted.  A ``covariance`` dict
    receives the coefficients' covariance matrix (terms x terms) under ``"matrix"``."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    label = "the Cox model of resolution" + (f" stratified by {', '.join(strata)}" if strata else "")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = CoxPHFitter(strata=strata).fit(data, "_t", "_e", fit_options={"precision": 1e-12, "max_steps": 200})
    except (ConvergenceError, np.linalg.LinAlgError) as exc:
        warnings.warn(f"{label} could not be fitted on {len(data)} episodes with {int(data['_e'].sum())} "
                      f"resolutions ({type(exc).__name__}: the covariates are collinear or separate the outcome); "
                      "its table is empty", StatisticalWarning, stacklevel=4)
        return None
    for item in caught:  # lifelines' convergence doubts are the reader's business: say them as cautions
        if issubclass(item.category, ConvergenceWarning):
            first = " ".join(str(item.message).split(". ")[0].split())
            warnings.warn(f"{label[0].upper()}{label[1:]}: {first}", StatisticalWarning, stacklevel=4)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    terms = [c for c in data.columns if c not in ("_t", "_e", *(strata or []))]
    z = norm.ppf(1 - (1 - conf) / 2)
    coef, se = fit.params_[terms], fit.standard_errors_[terms]
    if covariance is not None:
        covariance["matrix"] = fit.variance_matrix_.loc[terms, terms]
    with np.errstate(over="ignore"):  # a separating covariate: an infinite bound is the honest answer
        return pd.DataFrame({"term": terms, "coef": coef.values, "se": se.values, "hr": np.exp(coef.values),
                             "hr_lower": np.exp(coef.values - z * se.values),
                             "hr_upper": np.exp(coef.values + z * se.values),
                             "z": (coef / se).values, "p": fit.summary.loc[terms, "p"].values,
                             "n": len(data), "events": int(data["_e"].sum())})


def _cox(index: pd.DataFrame, options: ResolutionOptions, conf: float):
    """The Cox model, its proportional-hazards test, and, where the test fails for a category,
    the model stratified by it (each level its own baseline hazard, the other terms' hazard
    ratios estimated within levels)."""
    design, terms, reference, excluded = _design(index, options.cox_covariates)
    empty_cox = pd.DataFrame(columns=_COX_COLUMNS)
    empty_ph = pd.DataFrame(columns=["term", "chisq", "df", "p", "violated"])
    empty_strat = pd.DataFrame(columns=[*_COX_COLUMNS, "strata"])
    data = design.assign(_t=index.loc[design.index, "resolution_days"].astype(float),
                         _e=index.loc[design.index, "resolved"].astype(int))
    if design.shape[1] == 0 or data["_e"].sum() < 2:
        return empty_cox, empty_ph, empty_strat, reference, excluded
    cox = _fit_cox(data, conf)
    if cox is None:
        return empty_cox, empty_ph, empty_strat, reference, excluded
    positions = {c: i for i, c in enumerate(design.columns)}
    tests = cox_zph(data["_t"].to_numpy(), data["_e"].to_numpy().astype(bool), design.to_numpy(float),
                    cox.set_index("term").loc[design.columns, "coef"].to_numpy(),
                    {t: [positions[c] for c in cols] for t, cols in terms.items()})
    ph = pd.DataFrame(tests, columns=["term", "chisq", "df", "p"])
    ph["violated"] = (ph["term"] != "GLOBAL") & (ph["p"] < options.ph_alpha)
    offending = [t for t in ph.loc[ph["violated"], "term"] if t in _CATEGORICAL]
    stratified = empty_strat
    if offending:
        strata = {t: (index.loc[design.index, "treatment"].astype(str) if t == "treatment" else design[t])
                  for t in offending}
        rest = design.drop(columns=[c for t in offending for c in terms[t]])
        if rest.shape[1]:
            fitted = _fit_cox(rest.assign(_t=data["_t"], _e=data["_e"], **{f"_strata_{t}": v for t, v in strata.items()}),
                              conf, [f"_strata_{t}" for t in offending])
            if fitted is not None:
                stratified = fitted.assign(strata=", ".join(offending))
    return cox, ph, stratified, reference, excluded


#: Columns of :func:`survival_counts`: the sufficient statistics of every Kaplan-Meier curve.
COUNT_COLUMNS = ["stratum_var", "stratum", "time", "n_event", "n_censor"]


def survival_counts(index: pd.DataFrame, strata: tuple[str, ...]) -> pd.DataFrame:
    """Resolutions and censorings per distinct time, overall (``stratum_var`` "all") and in each
    stratum level: all a Kaplan-Meier curve needs, and what a site's bundle holds."""
    parts = []
    for variable, level, group in _groups(index, strata):
        time, d, c = event_counts(group["resolution_days"].to_numpy(float), group["resolved"].to_numpy(bool))
        parts.append(pd.DataFrame({"stratum_var": variable, "stratum": level, "time": time,
                                   "n_event": d.astype(np.int64), "n_censor": c.astype(np.int64)}))
    return pd.concat(parts, ignore_index=True)[COUNT_COLUMNS]


def curve_tables(counts: pd.DataFrame, options: ResolutionOptions, days_per_year: float,
                 conf: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Medians, landmarks, restricted means and curves from :func:`survival_counts` (one
    cohort's, or counts summed over sites): "all" first, then each stratum variable of
    ``options`` with its levels sorted."""
    month = days_per_year / 12
    z = norm.ppf(1 - (1 - conf) / 2)
    medians, landmarks, rmsts, curves = [], [], [], []
    order = [("all", "all")] + sorted(
        {(v, s) for v, s in zip(counts["stratum_var"], counts["stratum"]) if v != "all"},
        key=lambda key: (options.strata.index(key[0]) if key[0] in options.strata else len(options.strata), key[1]))
    for variable, level in order:
        group = counts[(counts["stratum_var"] == variable) & (counts["stratum"] == level)]
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
        curves.append(curve.table().drop(columns="std_err").assign(stratum_var=variable, stratum=level))
    return (pd.DataFrame(medians, columns=["stratum_var", "stratum", "n", "events", "median",
                                           "median_lower", "median_upper"]),
            pd.DataFrame(landmarks, columns=["stratum_var", "stratum", "months", "days", "surv",
                                             "lower", "upper", "n_risk"]),
            pd.DataFrame(rmsts, columns=["stratum_var", "stratum", "months", "days", "rmst", "se",
                                         "lower", "upper"]),
            pd.concat(curves, ignore_index=True)[["stratum_var", "stratum", "time", "n_risk", "n_event",
                                                  "n_censor", "surv", "lower", "upper"]])


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
    conf = cohort.definitions.confidence
    index = cohort.index
    medians, landmarks, rmsts, curves = curve_tables(survival_counts(index, options.strata), options,
                                                     cohort.definitions.days_per_year, conf)
    cox, ph, stratified, reference, excluded = _cox(index, options, conf)
    logrank = _logrank(index, options.strata)
    return ResolutionResult(
        not_estimable={f"resolution.logrank.{row.variable}": fewer_than_two_groups(row.variable, row.groups)
                       for row in logrank.itertuples() if row.groups < 2},
        medians=medians,
        landmarks=landmarks,
        rmst=rmsts,
        curves=curves,
        logrank=logrank,
        cox=cox,
        ph_test=ph,
        cox_stratified=stratified,
        excluded=excluded,
        options=options,
        conf=conf,
        cox_reference=reference,
    )
