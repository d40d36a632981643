"""The Cox model of time to resolution: design, fit (Efron ties, as R's ``coxph``), R's
``cox.zph`` test of proportional hazards, and the model stratified by a category that breaks it.

The built-in covariates are ``male`` (men vs women), ``age`` (age at onset, per 10 years, as
R's ``I(age/10)``), ``pregnancy_associated`` (vs not) and ``treatment`` (each level against the
most frequent one); an export's declared extra columns (:mod:`toh.cohort.columns`) join them by
name: a number per its ``per`` units, a boolean yes vs no, a category each level against its most
frequent one.  Complete cases only; the episodes left out are counted.

Checked against R in tests/analyses/test_resolution.py and tests/analyses/test_cox.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toh.analyses._coxzph import cox_zph
from toh.analyses.levels import fold_levels
from toh.analyses.result import name_limits
from toh.cohort.columns import ExtraColumn
from toh.cohort.errors import StatisticalWarning

__all__ = ["BUILTIN_COVARIATES", "CATEGORICAL_COVARIATES", "COX_COLUMNS", "PH_COLUMNS", "CoxModels", "fit_cox_models",
           "group_sizes"]

#: The built-in covariates, in the order of the default model.
BUILTIN_COVARIATES = ("male", "age", "pregnancy_associated", "treatment")
#: Built-in covariates that are categories (a stratum of the Cox model can be one of them).
CATEGORICAL_COVARIATES = ("male", "pregnancy_associated", "treatment")
#: Columns of the Cox tables (the stratified one adds ``strata``).  ``reference`` rows (one per
#: category with levels) carry the reference level: hazard ratio 1, no interval.  ``per`` is the
#: unit of a number's hazard ratio (age: 10 years); ``n`` and ``events`` are the model's;
#: ``n_group`` and ``n_compared`` the fitted patients in the two groups a term compares
#: (:func:`group_sizes`; the reference row: its level twice; a number: 0 and 0).
COX_COLUMNS = ["term", "variable", "label", "reference", "per", "coef", "se_coef", "estimate", "lower", "upper", "z",
               "p",
               "n", "events", "n_group", "n_compared"]
PH_COLUMNS = ["term", "label", "chisq", "df", "p", "violated"]
#: Age enters the model per this many years.
AGE_PER = 10.0


@dataclass(frozen=True)
class _Term:
    """One covariate of the model: its design columns (``coef`` names) and how to label them."""

    name: str
    kind: str  # "binary", "number" or "factor"
    label: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    per: float = 1.0
    reference: str | None = None
    reference_label: str = ""


@dataclass(frozen=True)
class CoxModels:
    """The Cox model, its proportional-hazards test, the model stratified by the categories that
    break it, and the bookkeeping a reader needs.

    Attributes
    ----------
    cox, cox_stratified
        :data:`COX_COLUMNS` (``cox_stratified`` adds ``strata``); empty when not fitted.
    ph_test
        cox.zph per term and GLOBAL: :data:`PH_COLUMNS`.
    reference
        Category -> its reference level.
    excluded
        ``reason, n``: episodes left out (a covariate or stratum missing) and terms dropped.
    n_missing
        Index episodes left out of the model for a missing covariate or stratum.
    strata
        The strata of the main model (``ResolutionOptions.cox_strata``).
    """

    cox: pd.DataFrame
    ph_test: pd.DataFrame
    cox_stratified: pd.DataFrame
    reference: dict[str, str] = field(default_factory=dict)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["reason", "n"]))
    n_missing: int = 0
    strata: tuple[str, ...] = ()


def _reference_level(values: pd.Series) -> str:
    counts = values.value_counts()
    return str(sorted(counts[counts == counts.max()].index)[0])


def _folded(values: pd.Series, min_level: int) -> pd.Series:
    """Levels of fewer than ``min_level`` patients pooled into "other" (:func:`fold_levels`)."""
    if min_level <= 1:
        return values
    counts = values.value_counts()
    folding = fold_levels({str(k): int(v) for k, v in counts.sort_index().items()}, min_level)
    rename = {level: label for label, levels in folding.items() for level in levels}
    return values.map(rename).astype(object).where(values.notna())


def _variable(index: pd.DataFrame, name: str, declared: Mapping[str, ExtraColumn], min_level: int) -> tuple[pd.Series, str]:
    """A covariate's values (float for numbers and booleans, text for categories) and its kind."""
    if name == "male":
        return (index["sex"] == "M").astype(float), "binary"
    if name == "age":
        return index["age_at_onset"].astype(float), "number"
    if name == "pregnancy_associated":
        return index["pregnancy_associated"].astype("Float64").astype(float), "binary"
    if name == "treatment":
        values = index["treatment"] if "treatment" in index else pd.Series(pd.NA, index=index.index)
        return _folded(values.astype(object).where(values.notna()), min_level), "factor"
    column = declared[name]
    values = index[name]
    if column.type == "number":
        return values.astype("Float64").astype(float), "number"
    if column.type == "boolean":
        return values.astype("boolean").astype("Float64").astype(float), "binary"
    return _folded(values.astype(object).where(values.notna()), min_level), "factor"


def _label(name: str, declared: Mapping[str, ExtraColumn]) -> str:
    builtin = {"male": "Men (vs women)", "age": f"Age at onset, per {AGE_PER:g} years",
               "pregnancy_associated": "Pregnancy-associated (vs not)", "treatment": "Treatment"}
    if name in builtin:
        return builtin[name]
    column = declared[name]
    shown = column.shown[:1].upper() + column.shown[1:]
    if column.type == "number":
        return f"{shown}, per {column.per:g}" if column.per != 1 else f"{shown}, per unit"
    return f"{shown} (yes vs no)" if column.type == "boolean" else shown


def _design(index: pd.DataFrame, covariates: tuple[str, ...], strata: tuple[str, ...],
            declared: Mapping[str, ExtraColumn], min_level: int):
    """Design matrix of the complete cases, its terms, the strata columns, exclusions."""
    columns: dict[str, pd.Series] = {}
    terms: list[_Term] = []
    missing = pd.Series(False, index=index.index)
    dropped: list[str] = []
    for name in covariates:
        values, kind = _variable(index, name, declared, min_level)
        if values.notna().sum() == 0 or (kind == "factor" and values.nunique() < 2):
            dropped.append(name)  # no value, or one level: nothing to estimate, nobody left out for it
            continue
        missing |= values.isna()
        label = _label(name, declared)
        if kind != "factor":
            per = AGE_PER if name == "age" else declared[name].per if name in declared else 1.0
            columns[name] = values / per
            terms.append(_Term(name, kind, label, (name,), (label,), per))
            continue
        present = values.dropna()
        ref = _reference_level(present)
        names, labels = [], []
        for level in sorted(present.unique()):
            if level != ref:
                names.append(f"{name}_{level}")
                labels.append(f"{label}: {level} (vs {ref})")
                columns[names[-1]] = (values == level).astype(float)
        terms.append(_Term(name, "factor", label, tuple(names), tuple(labels), 1.0, ref, f"{label}: {ref} (reference)"))
    strata_values = {}
    for name in strata:
        values, kind = _variable(index, name, declared, min_level)
        missing |= values.isna()
        strata_values[name] = values.astype(str)
    design = pd.DataFrame(columns, index=index.index)
    constant = [c for c in design.columns if design.loc[~missing, c].nunique() < 2]
    kept = []
    for term in terms:
        keep = [i for i, c in enumerate(term.columns) if c not in constant]
        if keep:
            kept.append(_Term(term.name, term.kind, term.label, tuple(term.columns[i] for i in keep),
                              tuple(term.labels[i] for i in keep), term.per, term.reference, term.reference_label))
    design = design.drop(columns=constant)
    excluded = pd.DataFrame({"reason": ["cox: a covariate is missing"], "n": [int(missing.sum())]})
    gone = [f"cox: no variation in {c} (term dropped)" for c in [*dropped, *constant]]
    if gone:
        excluded = pd.concat([excluded, pd.DataFrame({"reason": gone, "n": [0] * len(gone)})], ignore_index=True)
    return design[~missing], kept, pd.DataFrame(strata_values, index=index.index)[~missing], excluded, int(missing.sum())


def _fit(data: pd.DataFrame, conf: float, strata: list[str],
         covariance: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame | None:
    """Efron-ties Cox fit of ``_t``/``_e`` on the other columns (each ``strata`` column its own
    baseline hazard): coef, se_coef, the hazard ratio (estimate) and its limits, z, p per column;
    None, with a caution, when it cannot
    be fitted.  A ``covariance`` dict receives the coefficients' covariance matrix (columns x
    columns) under ``"matrix"``."""
    from scipy.stats import norm
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    label = "the Cox model of resolution" + (f" stratified by {', '.join(s[8:] for s in strata)}" if strata else "")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = CoxPHFitter(strata=strata or None).fit(data, "_t", "_e",
                                                         fit_options={"precision": 1e-12, "max_steps": 200})
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
    names = [c for c in data.columns if c not in ("_t", "_e", *strata)]
    z = norm.ppf(1 - (1 - conf) / 2)
    coef, se = fit.params_[names].to_numpy(), fit.standard_errors_[names].to_numpy()
    if covariance is not None:
        covariance["matrix"] = fit.variance_matrix_.loc[names, names]
    with np.errstate(over="ignore"):  # a separating covariate: an infinite bound is the honest answer
        return pd.DataFrame({"coef": coef, "se_coef": se, "estimate": np.exp(coef), "lower": np.exp(coef - z * se),
                             "upper": np.exp(coef + z * se), "z": coef / se,
                             "p": fit.summary.loc[names, "p"].to_numpy()}, index=names)


def group_sizes(data: pd.DataFrame, term: _Term) -> dict[str, tuple[int, int]]:
    """Patients of the fitted rows ``data`` in the group each design column of ``term`` stands
    for and in the group it is compared with: the yes and the no of a yes/no term (men and women
    for ``male``), a category's level and its reference level; ``(0, 0)`` for a number, which
    compares no groups.  A hazard ratio is a statistic of both groups, so the report hides one
    whose either group is small."""
    if term.kind == "number":
        return {c: (0, 0) for c in term.columns}
    ones = {c: int((data[c] == 1).sum()) for c in term.columns}
    if term.kind == "binary":
        return {c: (ones[c], len(data) - ones[c]) for c in term.columns}
    reference = len(data) - sum(ones.values())  # the rows with none of the other levels
    return {c: (ones[c], reference) for c in term.columns}


def _table(fitted: pd.DataFrame, terms: list[_Term], data: pd.DataFrame) -> pd.DataFrame:
    """The tidy table: each term's rows in model order, a category's reference row first;
    ``data`` the fitted rows (design columns and the event ``_e``)."""
    rows = []
    for term in terms:
        sizes = group_sizes(data, term)
        if term.reference is not None:
            reference = len(data) - sum(n for n, _ in sizes.values())
            rows.append({"term": f"{term.name}_{term.reference}", "variable": term.name, "label": term.reference_label,
                         "reference": True, "per": 1.0, "coef": 0.0, "se_coef": np.nan, "estimate": 1.0,
                         "lower": np.nan,
                         "upper": np.nan, "z": np.nan, "p": np.nan, "n_group": reference, "n_compared": reference})
        for column, label in zip(term.columns, term.labels):
            rows.append({"term": column, "variable": term.name, "label": label, "reference": False, "per": term.per,
                         **fitted.loc[column].to_dict(), "n_group": sizes[column][0], "n_compared": sizes[column][1]})
    out = pd.DataFrame(rows, columns=[c for c in COX_COLUMNS if c not in ("n", "events")])
    out = out.assign(n=len(data), events=int(data["_e"].sum()))[COX_COLUMNS]
    return out.astype({"reference": bool, "per": float, "n_group": np.int64, "n_compared": np.int64})


def fit_cox_models(index: pd.DataFrame, covariates: tuple[str, ...], strata: tuple[str, ...], conf: float,
                   ph_alpha: float, declared: tuple[ExtraColumn, ...] = (), min_level: int = 0) -> CoxModels:
    """The Cox model of resolution, its proportional-hazards test and, where the test fails for a
    category, the model stratified by it (each level its own baseline hazard, the other terms'
    hazard ratios estimated within levels).

    Parameters
    ----------
    index
        The index table (``resolution_days``, ``resolved`` and the covariates' columns).
    covariates
        Built-in covariates (:data:`BUILTIN_COVARIATES`) and declared extra columns, by name.
    strata
        Categories (built-in or declared) the main model is stratified by, as R's ``strata()``.
    conf
        Confidence level of the hazard ratios' intervals.
    ph_alpha
        cox.zph p-value below which a term is flagged.
    declared
        The extra columns declared for the analyses.
    min_level
        Category levels (and strata) of fewer patients are pooled into "other".

    Returns
    -------
    CoxModels
    """
    by_name = {c.name: c for c in declared}
    design, terms, strata_frame, excluded, n_missing = _design(index, covariates, strata, by_name, min_level)
    reference = {t.name: str(t.reference) for t in terms if t.reference is not None}
    empty = CoxModels(name_limits(pd.DataFrame(columns=COX_COLUMNS), conf), pd.DataFrame(columns=PH_COLUMNS),
                      name_limits(pd.DataFrame(columns=[*COX_COLUMNS, "strata"]), conf), reference, excluded,
                      n_missing, strata)
    time = index.loc[design.index, "resolution_days"].astype(float)
    event = index.loc[design.index, "resolved"].astype(int)
    stratum_columns = {f"_strata_{s}": strata_frame[s] for s in strata}
    data = design.assign(_t=time, _e=event, **stratum_columns)
    if design.shape[1] == 0 or event.sum() < 2:
        return empty
    fitted = _fit(data, conf, list(stratum_columns))
    if fitted is None:
        return empty
    cox = _table(fitted, terms, data)
    positions = {c: i for i, c in enumerate(design.columns)}
    groups = pd.factorize(pd.MultiIndex.from_frame(strata_frame))[0] if strata else None
    tests = cox_zph(time.to_numpy(), event.to_numpy().astype(bool), design.to_numpy(float),
                    fitted.loc[design.columns, "coef"].to_numpy(),
                    {t.name: [positions[c] for c in t.columns] for t in terms}, strata=groups)
    labels = {t.name: t.label for t in terms} | {"GLOBAL": "Global test"}
    ph = pd.DataFrame(tests, columns=["term", "chisq", "df", "p"])
    ph.insert(1, "label", ph["term"].map(labels))
    ph["violated"] = (ph["term"] != "GLOBAL") & (ph["p"] < ph_alpha)
    kinds = {t.name: t.kind for t in terms}
    offending = [t for t in ph.loc[ph["violated"], "term"] if kinds.get(t) in ("binary", "factor")]
    stratified = empty.cox_stratified
    if offending:
        rest_terms = [t for t in terms if t.name not in offending]
        rest = design[[c for t in rest_terms for c in t.columns]]
        extra = {f"_strata_{t}": design[t] if kinds[t] == "binary" else _factor_of(design, terms, t)
                 for t in offending}
        if rest.shape[1]:
            refit_data = rest.assign(_t=time, _e=event, **stratum_columns, **extra)
            refit = _fit(refit_data, conf, [*stratum_columns, *extra])
            if refit is not None:
                stratified = _table(refit, rest_terms, refit_data).assign(strata=", ".join([*strata, *offending]))
    return CoxModels(name_limits(cox, conf), ph, name_limits(stratified, conf), reference, excluded, n_missing, strata)


def _factor_of(design: pd.DataFrame, terms: list[_Term], name: str) -> pd.Series:
    """A factor's level per row, rebuilt from its indicator columns (the reference where all are 0)."""
    term = next(t for t in terms if t.name == name)
    level = pd.Series(str(term.reference), index=design.index, dtype=object)
    for column in term.columns:
        level[design[column] == 1] = column[len(name) + 1:]
    return level
