"""Interval-censored Weibull by maximum likelihood, in R ``survreg``'s parameterisation.

log T = mu + sigma W, W standard minimum extreme value: S(t) = exp(-(t / e^mu)^(1 / sigma)).
An interval (lo, hi] contributes S(lo) - S(hi); lo = 0 is left-censoring, hi = inf
right-censoring.  Fitted with scipy (Nelder-Mead to 1e-12, then a finite-difference Hessian for
standard errors) rather than lifelines, whose fit stops about 1e-6 from survreg's and whose
interval for S(t) can leave [0, 1] (``docs/r-conventions.md``).  Checked in
tests/analyses/test_radiographic.py.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from toh.cohort.errors import StatisticalWarning

__all__ = ["WeibullFit", "fit_weibull_interval"]


@dataclass(frozen=True)
class WeibullFit:
    """Fitted (mu, log sigma), their covariance, and the log-likelihood."""

    mu: float
    log_sigma: float
    covariance: np.ndarray
    loglik: float
    n: int

    @property
    def sigma(self) -> float:
        return float(np.exp(self.log_sigma))

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        """F(t) = 1 - S(t)."""
        t = np.asarray(t, dtype=float)
        with np.errstate(over="ignore", divide="ignore"):  # exp(inf) = inf gives F = 1, as it should
            return -np.expm1(-np.exp((np.log(t) - self.mu) / self.sigma))

    def quantile(self, p: float) -> float:
        """Time by which a share ``p`` has changed."""
        return float(np.exp(self.mu + self.sigma * np.log(-np.log1p(-p))))


def _loglik(params: np.ndarray, lo: np.ndarray, hi: np.ndarray, w: np.ndarray) -> float:
    from scipy.special import log1p

    mu, log_sigma = params
    sigma = np.exp(log_sigma)
    with np.errstate(divide="ignore", over="ignore"):  # overflow to inf is the correct limit here
        z_lo = np.where(lo > 0, np.exp((np.log(np.where(lo > 0, lo, 1.0)) - mu) / sigma), 0.0)
        z_hi = np.where(np.isfinite(hi), np.exp((np.log(np.where(np.isfinite(hi), hi, 1.0)) - mu) / sigma), np.inf)
    # log(S(lo) - S(hi)) = -z_lo + log(1 - exp(-(z_hi - z_lo)))
    diff = z_hi - z_lo
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -z_lo + np.where(np.isfinite(diff), log1p(-np.exp(-diff)), 0.0)
    return float(np.sum(w * terms))


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    """The median of x with whole-number weights w (np.median of the rows they stand for)."""
    return float(np.median(np.repeat(x, np.rint(w).astype(np.int64))))


def fit_weibull_interval(lo: np.ndarray, hi: np.ndarray, weights: np.ndarray | None = None) -> WeibullFit:
    """Maximum-likelihood Weibull fit to intervals (lo, hi], each row standing for ``weights``
    observations (whole numbers; default 1 each)."""
    from scipy.optimize import minimize  # imported here: the bootstrap's workers fork before this fit

    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    w = np.ones(len(lo)) if weights is None else np.asarray(weights, dtype=float)
    mid = np.where(np.isfinite(hi), (lo + hi) / 2, lo + 1.0)
    start = np.array([np.log(_weighted_median(mid[mid > 0], w[mid > 0])), np.log(0.5)])
    objective = lambda p: -_loglik(p, lo, hi, w)  # noqa: E731
    # 1e-13 per thousand observations: the log-likelihood is a sum over them, and an absolute
    # 1e-13 is below its rounding beyond some 10,000 (the simplex then never meets it and runs
    # to maxfev: 40,000 evaluations, 3 s at 100,000 patients, for the same optimum)
    fatol = 1e-13 * max(1.0, float(w.sum()) / 1000)
    res = minimize(objective, start, method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": fatol, "maxiter": 20_000, "maxfev": 40_000})
    best = res.x
    h = 1e-4
    hess = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            hess[i, j] = (objective(best + ei + ej) - objective(best + ei - ej)
                          - objective(best - ei + ej) + objective(best - ei - ej)) / (4 * h * h)
    try:
        covariance = np.linalg.inv(hess)
        degenerate = not (np.all(np.isfinite(covariance)) and np.all(np.linalg.eigvalsh(hess) > 0))
    except np.linalg.LinAlgError:
        degenerate = True
    if degenerate or not np.all(np.isfinite(best)):
        # too few or too concentrated intervals: no maximum inside the parameter space (e.g. the
        # scale shrinks towards 0); the point estimate is reported without a covariance
        warnings.warn(f"the interval-censored Weibull fit of {int(w.sum())} intervals is degenerate (no "
                      "finite maximum-likelihood covariance); its standard errors are NaN", StatisticalWarning,
                      stacklevel=2)
        covariance = np.full((2, 2), np.nan)
    return WeibullFit(float(best[0]), float(best[1]), covariance, -float(res.fun), int(w.sum()))
