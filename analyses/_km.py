"""Kaplan-Meier with R's conventions, in numpy.

Written here rather than taken from lifelines because four of its outputs must follow R's
``survival`` package to 1e-6 and lifelines differs on each (``docs/r-conventions.md``): the
log(-log) interval is missing where S is 0 or 1 (lifelines fills 1 or 0), quantiles follow
``quantile.survfit`` (tolerance and the midpoint rule on flats), numbers at risk count T >= t,
and the restricted mean's standard error is ``survmean``'s.  Checked against R in
tests/analyses/test_km.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from toh.analyses.result import SummaryDisplay, ci_columns

__all__ = ["KMCurve", "Quantile", "kaplan_meier", "kaplan_meier_counts", "event_counts", "r_quantile"]

_TOL = float(np.sqrt(np.finfo(float).eps))


class Quantile(NamedTuple):
    """A quantile of the event time with its confidence limits (NaN where R gives NA)."""

    estimate: float
    lower: float
    upper: float


@dataclass(frozen=True)
class KMCurve(SummaryDisplay):
    """A fitted Kaplan-Meier curve: one entry per distinct observed time (events or censorings).

    ``std_err`` is Greenwood's standard error of -log S (R's ``fit$std.err``, on the log scale;
    Inf where S reaches 0, as in R); ``lower`` and
    ``upper`` the log(-log) interval at level ``conf`` (NaN where S is 0 or 1).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    conf: float
    durations: np.ndarray  # sorted observed times (for numbers at risk)

    @property
    def conf_level(self) -> float:
        """Confidence level of ``lower`` and ``upper``."""
        return self.conf

    @property
    def summary(self) -> pd.DataFrame:
        """One row per distinct time: ``time, n_risk, n_event, n_censor, estimate`` (S(t)),
        ``se`` (R's ``std.err``: standard error of the cumulative hazard -log S, log scale; Inf
        where S reaches 0) and the log(-log) limits ``lower_95, upper_95`` (level in the name)."""
        lower, upper = ci_columns(self.conf)
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event, "n_censor": self.n_censor,
            "estimate": self.surv, "se": self.std_err, lower: self.lower, upper: self.upper,
        })

    @property
    def median(self) -> Quantile:
        """Median event time and its interval by R's ``quantile.survfit`` rule (see :func:`r_quantile`)."""
        return self.quantile(0.5)

    def quantile(self, prob: float) -> Quantile:
        """Quantile ``prob`` of the event time (the time S first reaches 1 - prob), R's rule."""
        return Quantile(*r_quantile(self, prob))

    def __repr__(self) -> str:
        median = self.median
        return (f"<KMCurve: n={self.n}, events={int(self.n_event.sum())}, median={median.estimate:g} "
                f"({self.conf:g} CI {median.lower:g} to {median.upper:g})>")

    def _index(self, t: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.time, t, side="right") - 1

    def at(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """S(t) and its interval read off the step function (R's ``summary(fit, times = t)``)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        i = self._index(t)
        before = i < 0
        j = np.clip(i, 0, None)
        surv = np.where(before, 1.0, self.surv[j] if len(self.surv) else 1.0)
        lower = np.where(before, np.nan, self.lower[j] if len(self.lower) else np.nan)
        upper = np.where(before, np.nan, self.upper[j] if len(self.upper) else np.nan)
        return surv, lower, upper

    def at_risk(self, t: float | np.ndarray) -> np.ndarray:
        """Numbers at risk at t: observations with T >= t."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        return len(self.durations) - np.searchsorted(self.durations, t, side="left")

    def table(self) -> pd.DataFrame:
        """The curve as a tidy frame (fixed columns)."""
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event, "n_censor": self.n_censor,
            "surv": self.surv, "std_err": self.std_err, "lower": self.lower, "upper": self.upper,
        })

    def rmst(self, tau: float) -> tuple[float, float]:
        """Restricted mean survival time up to ``tau`` and its standard error (R's survmean).

        se^2 = sum over event times t_i <= tau of (integral of S from t_i to tau)^2 d_i / (n_i (n_i - d_i)).
        """
        keep = self.time <= tau
        knots = np.concatenate([[0.0], self.time[keep], [tau]])
        levels = np.concatenate([[1.0], self.surv[keep]])
        areas = levels * np.diff(knots)
        mean = float(areas.sum())
        # integral of S from each time t_i (i over kept times) to tau
        tail = np.cumsum(areas[::-1])[::-1][1:]
        d, n = self.n_event[keep], self.n_risk[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(n - d == 0, 0.0, d / (n * (n - d)))
        return mean, float(np.sqrt(np.sum(tail**2 * h)))


def kaplan_meier(time: np.ndarray, event: np.ndarray, conf: float = 0.95) -> KMCurve:
    """Fit the Kaplan-Meier estimator.

    Parameters
    ----------
    time
        Observed times (event or censoring), any real numbers.
    event
        True (or 1) where the time is an event.
    conf
        Confidence level of the log(-log) interval.

    Returns
    -------
    KMCurve
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    if time.shape != event.shape:
        raise ValueError("time and event must have the same length")
    if np.isnan(time).any():
        raise ValueError("time has missing values")
    return kaplan_meier_counts(*event_counts(time, event), conf)


def event_counts(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times (increasing) with the events and censorings at each: the sufficient
    statistics of a Kaplan-Meier curve, which :func:`kaplan_meier_counts` fits."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    order = np.argsort(time, kind="stable")
    times, first, counts = np.unique(time[order], return_index=True, return_counts=True)
    d = np.add.reduceat(event[order].astype(float), first) if len(first) else np.zeros(0)
    return times, d, counts - d


def kaplan_meier_counts(time: np.ndarray, n_event: np.ndarray, n_censor: np.ndarray, conf: float = 0.95) -> KMCurve:
    """Fit the Kaplan-Meier estimator from counts per distinct time (aggregated data).

    :func:`kaplan_meier` collapses its rows to these counts and calls this function, so a curve
    fitted from counts summed over sites is the curve of the concatenated rows, to the bit.

    Parameters
    ----------
    time
        Distinct observed times, increasing.
    n_event, n_censor
        Events and censorings at each time (whole numbers >= 0).
    conf
        Confidence level of the log(-log) interval.

    Returns
    -------
    KMCurve
    """
    from scipy.stats import norm
    times = np.asarray(time, dtype=float)
    d = np.asarray(n_event, dtype=float)
    censored = np.asarray(n_censor, dtype=float)
    if not (times.shape == d.shape == censored.shape):
        raise ValueError("time, n_event and n_censor must have the same length")
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise ValueError("time must be distinct and increasing")
    if np.any(d < 0) or np.any(censored < 0):
        raise ValueError("counts must be >= 0")
    counts = d + censored
    keep = counts > 0
    times, d, counts = times[keep], d[keep], counts[keep]
    total = int(counts.sum())
    n_risk = total - np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        # R's std.err: Greenwood's standard error of the cumulative hazard -log S (log scale);
        # Inf from the time S reaches 0 (everyone left at risk has the event), as in survfit
        green = np.cumsum(np.where(n_risk - d == 0, np.inf, d / (n_risk * (n_risk - d))))
        se = np.sqrt(green)
        inside = (surv > 0) & (surv < 1)
        xx = np.where(inside, surv, np.nan)
        z = norm.ppf(1 - (1 - conf) / 2)
        shift = z * se / np.log(xx)
        loglog = np.log(-np.log(xx))
        lower = np.exp(-np.exp(loglog - shift))
        upper = np.exp(-np.exp(loglog + shift))
    durations = np.repeat(times, counts.astype(np.int64))
    return KMCurve(times, n_risk.astype(np.int64), d.astype(np.int64), (counts - d).astype(np.int64),
                   surv, se, lower, upper, total, conf, durations)


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """R's ``findq``: where the CDF ``y`` (at jump points ``x``) reaches ``p``; midpoint on flats."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    # drop repeated levels (censorings), keeping the first time each level is reached
    _, first = np.unique(np.where(np.isnan(y), np.inf, y), return_index=True)
    keep = np.zeros(len(y), bool)
    keep[first] = True
    x, y = x[keep], y[keep]
    valid = ~np.isnan(y)

    def locate(v: np.ndarray) -> float:
        xs, vs = x[valid], v[valid]
        if len(vs) == 0 or p < vs[0] or p > vs[-1]:
            return np.nan
        return float(xs[np.searchsorted(vs, p, side="left")])

    q1, q2 = locate(y + tol), locate(y - tol)
    quant = (q1 + q2) / 2
    if p == 0:
        return float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        quant = (q1 + xmax) / 2
    return float(quant)


def r_quantile(curve: KMCurve, prob: float = 0.5) -> tuple[float, float, float]:
    """Quantile ``prob`` of the event time and its interval, by R's ``quantile.survfit`` rule.

    The time where the curve first reaches 1 - prob (within sqrt(machine epsilon)); where the
    curve is flat exactly at that level, the midpoint of the flat.  The interval applies the same
    rule to the lower and upper bands.  NaN where the curve never gets there (R's NA).
    """
    x = np.concatenate([[0.0], curve.time])
    values = []
    for band in (curve.surv, curve.lower, curve.upper):
        y = np.concatenate([[0.0], 1.0 - band])
        values.append(_findq(x, y, prob, _TOL))
    return values[0], values[1], values[2]
