"""Random-effects meta-analysis of the sites' own estimates, beside the pooled ones.

The pooled estimates (:mod:`toh.analyses.aggregates`) treat the sites as one cohort. This module
asks how much the sites differ: each site's own estimate of a rate or a proportion, on the log or
logit scale with its large-sample variance, is combined by the DerSimonian-Laird random-effects
model (statsmodels' ``combine_effects(method_re="dl")``, normal-based interval; tau^2 truncated
at 0 as DerSimonian and Laird define it, which statsmodels 0.15 does not do), with the
between-site variance tau^2, I^2 and Cochran's Q. Checked against R's
``metafor::rma(yi, vi, method = "DL")`` in tests/analyses/test_meta.py (the R script beside its
values in tests/analyses/reference/make_meta_reference.R).

Scales: a rate of k events in T person-years is log(k / T) with variance 1 / k; a proportion x / n
is logit(x / n) with variance 1 / x + 1 / (n - x). A site without an event (or, for a
proportion, with every patient counted) has no finite estimate on these scales and is left out
of that estimand (``sites_left_out``); with fewer than two sites left the estimand is not
estimable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2

from toh.analyses.result import AnalysisResult, clean_number

__all__ = ["MetaAnalysis", "meta_analyse", "random_effects", "log_rate", "logit_proportion", "ESTIMANDS"]


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
        row = site.complications.set_index(["outcome", "group"]).loc[(outcome, "all")]  # type: ignore[attr-defined]
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


def random_effects(effect: np.ndarray, variance: np.ndarray, conf: float = 0.95) -> dict[str, float]:
    """DerSimonian-Laird random-effects combination: estimate, se, lower, upper (normal), tau2,
    i2 (a fraction), q and its p-value, k (statsmodels ``combine_effects``)."""
    import warnings

    from statsmodels.stats.meta_analysis import combine_effects

    with warnings.catch_warnings():  # its HKSJ columns take the root of a negative tau^2 (unused here)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = combine_effects(np.asarray(effect, float), np.asarray(variance, float), method_re="dl",
                              alpha=1 - conf)
        frame = fit.summary_frame(alpha=1 - conf)
    # statsmodels (0.15) leaves DerSimonian-Laird's moment estimate of tau^2 negative when Q is
    # below its degrees of freedom; DerSimonian and Laird (and metafor) truncate it at 0, where
    # the random-effects model is the fixed-effect one
    truncated = fit.tau2 < 0
    row = frame.loc["fixed effect" if truncated else "random effect"]
    k = int(fit.k)
    return {"estimate": float(row["eff"]), "se": float(row["sd_eff"]), "lower": float(row["ci_low"]),
            "upper": float(row["ci_upp"]), "tau2": 0.0 if truncated else float(fit.tau2),
            "i2": max(0.0, float(fit.i2)), "q": float(fit.q), "q_p": float(chi2.sf(fit.q, k - 1)), "k": k}


@dataclass(frozen=True)
class MetaAnalysis(AnalysisResult):
    """Each site's estimate (``sites``) and their random-effects combination (``combined``)."""

    sites: pd.DataFrame
    combined: pd.DataFrame
    conf: float
    name: str = "meta"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"meta_analysis": self.combined, "meta_sites": self.sites}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for row in self.combined.itertuples():
            for key in ("estimate", "lower", "upper", "tau2", "i2", "q_p", "k"):
                out[f"meta.{row.estimand}.{key}"] = clean_number(getattr(row, key))
        return out


def _back(scale: str, value: float) -> float:
    """A value on the model's scale back on the estimand's: a rate per 100 person-years, a proportion."""
    if scale == "log rate":
        return 100.0 * math.exp(value)
    return 1.0 / (1.0 + math.exp(-value))


def meta_analyse(sites: Mapping[str, object], days_per_year: float, conf: float = 0.95) -> MetaAnalysis:
    """Random-effects meta-analysis of each estimand of :data:`ESTIMANDS` over ``sites``
    (name -> :class:`toh.analyses.aggregates.SiteAggregates`)."""
    site_rows, combined, reasons = [], [], {}
    for estimand, (scale, read) in ESTIMANDS.items():
        effects, variances, left_out = [], [], []
        for name, site in sites.items():
            count, base = read(site, days_per_year)
            effect, variance = (log_rate if scale == "log rate" else logit_proportion)(count, base)
            site_rows.append((estimand, name, scale, count, base, effect, variance))
            if math.isnan(effect):
                left_out.append(name)
            else:
                effects.append(effect)
                variances.append(variance)
        if len(effects) < 2:
            reasons[f"meta.{estimand}"] = ("fewer than two sites with a finite estimate (a site without an event, "
                                           "or with every patient counted, has none on the log or logit scale)")
            combined.append((estimand, scale, len(effects), *([math.nan] * 9), ", ".join(left_out)))
            continue
        fit = random_effects(np.array(effects), np.array(variances), conf)
        combined.append((estimand, scale, fit["k"], _back(scale, fit["estimate"]), _back(scale, fit["lower"]),
                         _back(scale, fit["upper"]), fit["estimate"], fit["se"], fit["tau2"], fit["i2"], fit["q"],
                         fit["q_p"], ", ".join(left_out)))
    return MetaAnalysis(
        sites=pd.DataFrame(site_rows, columns=["estimand", "site", "scale", "count", "base", "effect", "variance"]),
        combined=pd.DataFrame(combined, columns=["estimand", "scale", "k", "estimate", "lower", "upper",
                                                 "effect", "se", "tau2", "i2", "q", "q_p", "sites_left_out"]),
        conf=conf, not_estimable=reasons)
