"""Exact and score intervals for proportions, Poisson rates and risk ratios.

Thin wrappers that fix the method (scipy's defaults differ from R's and from each other):
Clopper-Pearson = R ``binom.test``; Wilson without continuity correction = R
``prop.test(correct = FALSE)``; exact Poisson limits from gamma quantiles = R ``poisson.test``
(epitools ``pois.exact`` is only good to ~1e-4).  Checked in tests/analyses/test_exact.py.
"""

from __future__ import annotations

import math


__all__ = ["clopper_pearson", "wilson", "binomial_test", "poisson_rate", "risk_ratio", "score_test"]


def clopper_pearson(x: int, n: int, conf: float = 0.95) -> tuple[float, float, float]:
    """Proportion x/n with its exact (Clopper-Pearson) interval; NaNs when n is 0.

    The limits are beta quantiles, as R's ``binom.test`` computes them: lower
    ``qbeta(a/2, x, n - x + 1)`` (0 when x = 0), upper ``qbeta(1 - a/2, x + 1, n - x)`` (1 when
    x = n).  scipy's ``binomtest(...).proportion_ci("exact")`` finds them by root finding with an
    absolute tolerance, which loses every digit for proportions near 0 (at x = 1 of 1e11 it gave
    a lower limit of 0 where R gives 2.53e-13).
    """
    from scipy.stats import beta
    if n == 0:
        return math.nan, math.nan, math.nan
    x, n = int(x), int(n)
    a = 1 - conf
    low = 0.0 if x == 0 else float(beta.ppf(a / 2, x, n - x + 1))
    high = 1.0 if x == n else float(beta.ppf(1 - a / 2, x + 1, n - x))
    return x / n, low, high


def wilson(x: int, n: int, conf: float = 0.95) -> tuple[float, float, float]:
    """Proportion x/n with the Wilson score interval (no continuity correction)."""
    from scipy.stats import binomtest
    if n == 0:
        return math.nan, math.nan, math.nan
    ci = binomtest(int(x), int(n)).proportion_ci(confidence_level=conf, method="wilson")
    return x / n, float(ci.low), float(ci.high)


def binomial_test(x: int, n: int, p: float) -> float:
    """Two-sided exact binomial test of proportion ``p`` (R ``binom.test``'s p-value)."""
    from scipy.stats import binomtest
    return float(binomtest(int(x), int(n), p).pvalue) if n else math.nan


def score_test(x: int, n: int, p: float) -> float:
    """Two-sided score (chi-square) test of proportion ``p`` (R ``prop.test(correct = FALSE)``)."""
    from scipy.stats import chi2
    if n == 0:
        return math.nan
    stat = (x - n * p) ** 2 / (n * p * (1 - p))
    return float(chi2.sf(stat, 1))


def poisson_rate(events: int, person_time: float, conf: float = 0.95, per: float = 1.0) -> tuple[float, float, float]:
    """Rate events / person_time (times ``per``) with its exact Poisson interval.

    lower = qgamma(a/2, k) / T (0 when k = 0), upper = qgamma(1 - a/2, k + 1) / T.
    """
    from scipy.stats import gamma
    if person_time <= 0:
        return math.nan, math.nan, math.nan
    a = 1 - conf
    low = 0.0 if events == 0 else float(gamma.ppf(a / 2, events))
    high = float(gamma.ppf(1 - a / 2, events + 1))
    return per * events / person_time, per * low / person_time, per * high / person_time


def risk_ratio(x1: int, n1: int, x0: int, n0: int, conf: float = 0.95) -> tuple[float, float, float]:
    """Risk ratio (x1/n1) / (x0/n0) with the Wald interval on the log scale; no zero correction.

    NaN interval where a group has no events (the log scale breaks down) or no patients.
    """
    from scipy.stats import norm
    if n1 == 0 or n0 == 0 or x0 == 0:
        return math.nan, math.nan, math.nan
    rr = (x1 / n1) / (x0 / n0)
    if x1 == 0:
        return rr, math.nan, math.nan
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)
    z = float(norm.ppf(1 - (1 - conf) / 2))
    return rr, math.exp(math.log(rr) - z * se), math.exp(math.log(rr) + z * se)
