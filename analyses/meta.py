"""Random-effects meta-analysis of the sites' own estimates, beside the pooled ones.

The pooled estimates (:mod:`toh.analyses.aggregates`) treat the sites as one cohort. This module
asks how much the sites differ: each site's own estimate, on a scale where it is about normal,
with its large-sample variance, is combined by the DerSimonian-Laird random-effects model
(statsmodels' ``combine_effects(method_re="dl")``, normal-based interval; tau^2 truncated at 0
as DerSimonian and Laird define it, which statsmodels 0.15 does not do) and by REML
(:func:`reml_tau2`: statsmodels has none), with the between-site variance tau^2, I^2 and
Cochran's Q. Both checked against R's ``metafor::rma(yi, vi, method = "DL" / "REML")`` in
tests/analyses/test_meta.py (the R script beside its values in
tests/analyses/reference/make_meta_reference.R).

Scales: a rate of k events in T person-years is log(k / T) with variance 1 / k; a proportion x / n
is logit(x / n) with variance 1 / x + 1 / (n - x); a Kaplan-Meier probability still unresolved at
6 months, or a cumulative incidence at 24 months, p is log(-log p) with variance var(p) /
(p log p)^2 (the scale of their intervals); a Cox term is the site's log hazard ratio with the
variance of its covariance matrix, each category's levels against the pool's reference
(:mod:`toh.analyses.site_cox`). A site without a finite estimate on the scale (no event, every
patient counted, p of 0 or 1, no such Cox term) is left out of that estimand
(``sites_left_out``); with fewer than two sites left the estimand is not estimable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toh.analyses._cif import cumulative_incidence_counts
from toh.analyses._km import kaplan_meier_counts
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records

__all__ = ["MetaAnalysis", "meta_analyse", "random_effects", "reml_tau2", "log_rate", "logit_proportion", "ESTIMANDS",
           "CURVE_ESTIMANDS", "estimand_label", "cox_references"]


def log_rate(events: float, person_years: float) -> tuple[float, float]:
    """log(events / person_years) and its variance 1 / events (NaN without an event)."""
    if events <= 0 or person_years <= 0:
        return math.nan, math.nan
    return math.log(events / person_years), 1.0 / events


def logit_proportion(x: float, n: float) -> tuple[float, float]:
    """logit(x / n) and its variance 1 / x + 1 / (n - x) (NaN when x is 0 or n)."""
    if x <= 0 or x >= n:
        return math.nan, math.nan
    return math.log(x / (n - x)), 1.0 / x + 1.0 / (n - x)


def _rate(outcome: str) -> Callable[[object, float], tuple[float, float]]:
    def get(site: object, days_per_year: float) -> tuple[float, float]:
        counts = getattr(site, outcome)
        at_risk = counts["censored"] + counts["event"] + counts["death"]
        return float(counts["event"].sum()), float((counts["time"] * at_risk).sum() / days_per_year)
    return get


def _complication(outcome: str, what: str) -> Callable[[object, float], tuple[float, float]]:
    def get(site: object, days_per_year: float) -> tuple[float, float]:
        row = site.complications.set_index(["outcome", "stratum"]).loc[(outcome, "all")]  # type: ignore[attr-defined]
        return float(row["events"]), float(row["days"] / days_per_year if what == "rate" else row["n"])
    return get


def _share(quantity: str) -> Callable[[object, float], tuple[float, float]]:
    def get(site: object, days_per_year: float) -> tuple[float, float]:
        row = site.proportions.set_index("quantity").loc[quantity]  # type: ignore[attr-defined]
        return float(row["x"]), float(row["n"])
    return get


#: estimand -> (scale, how a site's (events, person-years) or (x, n) are read from its counts)
ESTIMANDS: dict[str, tuple[str, Callable[[object, float], tuple[float, float]]]] = {
    "recurrence.rate": ("log rate", _rate("recurrence")),
    "migration.rate": ("log rate", _rate("migration")),
    "complications.fracture.rate": ("log rate", _complication("fracture", "rate")),
    "complications.avn.rate": ("log rate", _complication("avn", "rate")),
    "complications.fracture.proportion": ("logit", _complication("fracture", "proportion")),
    "demographics.share_men": ("logit", _share("share_men")),
}


#: estimand -> its name in words (tables, figure titles, sentences)
_LABELS = {
    "recurrence.rate": "same-hip recurrence per 100 person-years",
    "migration.rate": "migration per 100 person-years",
    "complications.fracture.rate": "fracture per 100 person-years",
    "complications.avn.rate": "AVN per 100 person-years",
    "complications.fracture.proportion": "share of index episodes with a fracture",
    "demographics.share_men": "share of men",
    "resolution.unresolved_6m": "still unresolved at 6 months",
    "recurrence.cif_24m": "same-hip recurrence by 24 months",
    "migration.cif_24m": "migration by 24 months",
}


def estimand_label(estimand: str) -> str:
    """The estimand in words ("migration per 100 person-years"; a Cox term as "hazard ratio of
    <term>"); the key itself for one this module does not know."""
    if estimand in _LABELS:
        return _LABELS[estimand]
    if estimand.startswith("resolution.cox."):
        term = estimand.removeprefix("resolution.cox.").replace("_per_10", " per 10 years").replace("_", " ")
        return f"hazard ratio of resolution, {term}"
    return estimand


def _dersimonian_laird(effect: np.ndarray, variance: np.ndarray, conf: float) -> dict[str, float]:
    """DerSimonian-Laird by statsmodels ``combine_effects`` (tau^2 truncated at 0)."""
    import warnings

    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():  # its HKSJ columns take the root of a negative tau^2 (unused here)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = combine_effects(effect, variance, method_re="dl", alpha=1 - conf)
        frame = fit.summary_frame(alpha=1 - conf)
    # statsmodels (0.15) leaves DerSimonian-Laird's moment estimate of tau^2 negative when Q is
    # below its degrees of freedom; DerSimonian and Laird (and metafor) truncate it at 0, where
    # the random-effects model is the fixed-effect one
    truncated = fit.tau2 < 0
    row = frame.loc["fixed effect" if truncated else "random effect"]
    return {"estimate": float(row["eff"]), "se": float(row["sd_eff"]), "lower": float(row["ci_low"]),
            "upper": float(row["ci_upp"]), "tau2": 0.0 if truncated else float(fit.tau2),
            "i2": max(0.0, float(fit.i2)), "q": float(fit.q)}


def reml_tau2(effect: np.ndarray, variance: np.ndarray, start: float = 0.0, tol: float = 1e-12,
              max_iter: int = 10_000) -> float:
    """The REML estimate of the between-site variance tau^2 (>= 0).

    Fisher scoring on the restricted log-likelihood, as ``metafor::rma(method = "REML")`` does
    it: with weights w = 1 / (v + tau^2), mu their weighted mean and P = W - w w' / sum(w),
    tau^2 += (y'PPy - tr P) / tr(PP), kept >= 0, until the step is below ``tol``.  Should the
    iteration not settle, the restricted log-likelihood is maximised by scipy's bounded Brent
    search instead (never seen on real inputs; it is the same maximum)."""
    from scipy.optimize import minimize_scalar

    tau2 = max(0.0, float(start))
    for _ in range(max_iter):
        w = 1.0 / (variance + tau2)
        sw, sw2 = w.sum(), (w * w).sum()
        residual = effect - (w @ effect) / sw
        trace_p = sw - sw2 / sw
        trace_pp = sw2 - 2.0 * (w ** 3).sum() / sw + sw2 * sw2 / (sw * sw)
        step = ((w * residual) @ (w * residual) - trace_p) / trace_pp
        new = max(0.0, tau2 + step)
        if abs(new - tau2) < tol:
            return new
        tau2 = new

    def minus_restricted_loglik(t: float) -> float:
        w = 1.0 / (variance + t)
        mu = (w @ effect) / w.sum()
        return 0.5 * (np.log(variance + t).sum() + math.log(w.sum()) + (w * (effect - mu) ** 2).sum())

    upper = 10.0 * (float(np.var(effect)) + float(variance.max())) + 1.0
    return float(minimize_scalar(minus_restricted_loglik, bounds=(0.0, upper), method="bounded",
                                 options={"xatol": tol}).x)


def random_effects(effect: np.ndarray, variance: np.ndarray, conf: float = 0.95,
                   method: str = "dl") -> dict[str, float]:
    """Random-effects combination of per-site effects with known variances.

    Parameters
    ----------
    effect, variance
        Each site's estimate (on its model scale) and its variance.
    conf
        Level of the normal-based interval.
    method
        ``"dl"``: DerSimonian-Laird (statsmodels ``combine_effects``, tau^2 truncated at 0);
        ``"reml"``: restricted maximum likelihood (:func:`reml_tau2`).

    Returns
    -------
    dict
        estimate, se, lower, upper (normal), tau2, i2 (a fraction: tau^2 over tau^2 plus
        metafor's typical within-site variance), q (Cochran's, from the fixed-effect weights) and
        its p-value q_p (chi-square, k - 1 df), k.  Equal to ``metafor::rma(yi, vi, method =
        "DL" / "REML")`` (tests/analyses/test_meta.py).
    """
    from scipy.stats import chi2, norm

    effect, variance = np.asarray(effect, float), np.asarray(variance, float)
    if method not in ("dl", "reml"):
        raise ValueError(f"method must be 'dl' or 'reml', got {method!r}")
    k = len(effect)
    dl = _dersimonian_laird(effect, variance, conf)
    out = dict(dl)
    if method == "reml":
        tau2 = reml_tau2(effect, variance, start=dl["tau2"])
        w = 1.0 / (variance + tau2)
        estimate, se = float(w @ effect / w.sum()), float(1.0 / math.sqrt(w.sum()))
        z = float(norm.ppf(1 - (1 - conf) / 2))
        fixed = 1.0 / variance
        typical = (k - 1) / (fixed.sum() - (fixed * fixed).sum() / fixed.sum()) if k > 1 else math.nan
        out.update(estimate=estimate, se=se, lower=estimate - z * se, upper=estimate + z * se, tau2=tau2,
                   i2=tau2 / (typical + tau2) if tau2 > 0 else 0.0)
    out.update(q_p=float(chi2.sf(out["q"], k - 1)), k=k)
    return out


def _curve(outcome: str, months: float) -> Callable[[object, float], tuple[float, float]]:
    """A site's Kaplan-Meier probability still unresolved, or cumulative incidence, at ``months``
    and the variance of log(-log) of it (Greenwood's for S, cmprsk's for F, by the delta method)."""
    def get(site: object, days_per_year: float) -> tuple[float, float]:
        t = months * days_per_year / 12
        if outcome == "resolution":
            counts = site.survival  # type: ignore[attr-defined]
            counts = counts[counts["variable"] == "all"]
            curve = kaplan_meier_counts(counts["time"].to_numpy(float), counts["n_event"].to_numpy(float),
                                        counts["n_censor"].to_numpy(float))
            i = int(np.searchsorted(curve.time, t, side="right")) - 1
            if i < 0:
                return 1.0, math.nan
            p, se_log = float(curve.surv[i]), float(curve.std_err[i])
            return p, (se_log / math.log(p)) ** 2 if 0 < p < 1 else math.nan
        counts = getattr(site, outcome)
        curve = cumulative_incidence_counts(counts["time"].to_numpy(float), counts["event"].to_numpy(float),
                                            counts["death"].to_numpy(float), counts["censored"].to_numpy(float), 1)
        estimate, variance, _, _ = curve.at(np.array([t]))
        p = float(estimate[0])
        return p, float(variance[0]) / (p * math.log(p)) ** 2 if 0 < p < 1 else math.nan
    return get


#: estimand -> how a site's estimate and the variance of its log(-log) are read from its counts
CURVE_ESTIMANDS: dict[str, Callable[[object, float], tuple[float, float]]] = {
    "resolution.unresolved_6m": _curve("resolution", 6.0),
    "recurrence.cif_24m": _curve("recurrence", 24.0),
    "migration.cif_24m": _curve("migration", 24.0),
}


@dataclass(frozen=True)
class MetaAnalysis(AnalysisResult):
    """Each site's estimate (``sites``) and their random-effects combinations (``combined``: one
    row per estimand and method, DerSimonian-Laird then REML)."""

    sites: pd.DataFrame
    combined: pd.DataFrame
    conf: float
    cox_reference: str = ""
    name: str = "meta"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"meta_analysis": self.combined, "meta_sites": self.sites}

    def headline(self) -> dict[str, float | int | str | None]:
        """``meta.<estimand>.<key>`` (DerSimonian-Laird), ``meta.<estimand>.reml.<key>`` and each
        site's own estimate, ``sites.<site>.<estimand>.estimate`` / ``.lower`` / ``.upper``."""
        out: dict[str, float | int | str | None] = {}
        for row in records(level_free(self.combined)):  # keys are the column names without the CI level
            if row["method"] == "DL":
                for key in ("estimate", "lower", "upper", "tau2", "i2", "q", "q_p", "k"):
                    out[f"meta.{row['estimand']}.{key}"] = clean_number(row[key])
            else:
                for key in ("estimate", "lower", "upper", "tau2", "i2"):
                    out[f"meta.{row['estimand']}.reml.{key}"] = clean_number(row[key])
        for row in records(level_free(self.sites)):
            for key in ("estimate", "lower", "upper"):
                out[f"sites.{row['site']}.{row['estimand']}.{key}"] = clean_number(row[key])
        return out


def _back(scale: str, value: float) -> float:
    """A value on the model's scale back on the estimand's: a rate per 100 person-years, a
    proportion, a probability (from log(-log)), a hazard ratio."""
    with np.errstate(over="ignore"):  # a bound far out is inf (or 0), not an error
        if scale == "log rate":
            return float(100.0 * np.exp(value))
        if scale == "log-log":
            return float(np.exp(-np.exp(value)))
        if scale == "log hazard ratio":
            return float(np.exp(value))
        return float(1.0 / (1.0 + np.exp(-value)))


def _interval(scale: str, effect: float, se: float, z: float) -> tuple[float, float, float]:
    """Estimate and interval on the estimand's scale (sorted: log(-log) reverses the order)."""
    ends = sorted((_back(scale, effect - z * se), _back(scale, effect + z * se)))
    return _back(scale, effect), ends[0], ends[1]


def _site_effects(sites: Mapping[str, object], days_per_year: float) -> list[tuple]:
    """(estimand, site, scale, count, base, effect, variance) of every estimand and site."""
    from toh.analyses.site_cox import on_reference

    rows = []
    for estimand, (scale, read) in ESTIMANDS.items():
        for name, site in sites.items():
            count, base = read(site, days_per_year)
            rows.append((estimand, name, scale, count, base,
                         *(log_rate if scale == "log rate" else logit_proportion)(count, base)))
    for estimand, read in CURVE_ESTIMANDS.items():
        for name, site in sites.items():
            p, variance = read(site, days_per_year)
            effect = math.log(-math.log(p)) if 0 < p < 1 and not math.isnan(variance) else math.nan
            rows.append((estimand, name, "log-log", math.nan, math.nan, effect, variance if effect == effect
                         else math.nan))
    references = cox_references(sites)
    fitted = {name: on_reference(site.cox, site.cox_covariance, references)  # type: ignore[attr-defined]
              for name, site in sites.items() if hasattr(site, "cox")}
    order = ["male", "age", "age_per_10", "pregnancy_associated"]
    terms = sorted({t for names, _, _ in fitted.values() for t in names},
                   key=lambda t: (order.index(t) if t in order else len(order), t))
    for term in terms:
        for name, site in sites.items():
            names, b, v = fitted.get(name, ([], None, None))
            cox = site.cox  # type: ignore[attr-defined]
            count, base = (float(cox["events"].iloc[0]), float(cox["n"].iloc[0])) if len(cox) else (math.nan,) * 2
            i = names.index(term) if term in names else -1
            if i >= 0 and np.isfinite(b[i]) and np.isfinite(v[i, i]) and v[i, i] > 0:
                rows.append((f"resolution.cox.{term}", name, "log hazard ratio", count, base, float(b[i]),
                             float(v[i, i])))
            else:
                rows.append((f"resolution.cox.{term}", name, "log hazard ratio", count, base, math.nan, math.nan))
    return rows


def cox_references(sites: Mapping[str, object]) -> dict[str, str]:
    """The pool's reference level of each category of the sites' Cox models."""
    from toh.analyses.site_cox import common_references

    return common_references({n: s.cox for n, s in sites.items() if hasattr(s, "cox")},  # type: ignore[attr-defined]
                             [s.survival for s in sites.values()])  # type: ignore[attr-defined]


def meta_analyse(sites: Mapping[str, object], days_per_year: float, conf: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis (DerSimonian-Laird and REML) over ``sites`` (name ->
    :class:`toh.analyses.aggregates.SiteAggregates`) of each estimand of :data:`ESTIMANDS`, of
    :data:`CURVE_ESTIMANDS` (log(-log) scale) and of each Cox hazard ratio (log scale, each
    treatment against the pool's most frequent one, :mod:`toh.analyses.site_cox`)."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - conf) / 2))
    rows = _site_effects(sites, days_per_year)
    site_rows, combined, reasons = [], [], {}
    for row in rows:
        estimand, name, scale, count, base, effect, variance = row
        bounds = _interval(scale, effect, math.sqrt(variance), z) if effect == effect else (math.nan,) * 3
        site_rows.append((estimand, name, scale, count, base, effect, variance, *bounds))
    for estimand in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == estimand]
        scale = mine[0][2]
        usable = [r for r in mine if not math.isnan(r[5])]
        left_out = ", ".join(r[1] for r in mine if math.isnan(r[5]))
        if len(usable) < 2:
            reasons[f"meta.{estimand}"] = ("fewer than two sites with a finite estimate (a site without an event, "
                                           "with every patient counted, or without the Cox term has none)")
            for method in ("DL", "REML"):
                combined.append((estimand, method, scale, len(usable), *([math.nan] * 9), left_out))
            continue
        effects = np.array([r[5] for r in usable])
        variances = np.array([r[6] for r in usable])
        for method in ("DL", "REML"):
            fit = random_effects(effects, variances, conf, method.lower())
            estimate, lower, upper = _interval(scale, fit["estimate"], fit["se"], z)
            combined.append((estimand, method, scale, fit["k"], estimate, lower, upper, fit["estimate"], fit["se"],
                             fit["tau2"], fit["i2"], fit["q"], fit["q_p"], left_out))
    return MetaAnalysis(
        sites=name_limits(pd.DataFrame(site_rows, columns=["estimand", "site", "scale", "count", "base", "effect",
                                                           "variance", "estimate", "lower", "upper"]), conf),
        combined=name_limits(pd.DataFrame(combined, columns=["estimand", "method", "scale", "k", "estimate", "lower",
                                                             "upper", "effect", "se_effect", "tau2", "i2", "q", "q_p",
                                                             "sites_left_out"]), conf),
        conf=conf, cox_reference=cox_references(sites).get("treatment", ""), not_estimable=reasons)
