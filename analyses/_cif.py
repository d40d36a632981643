"""Cumulative incidence with competing risks (Aalen-Johansen), with cmprsk's variance.

Written here because lifelines' AalenJohansenFitter jitters tied times of different causes at
random and uses another variance (``docs/r-conventions.md``).  The estimate is
F_k(t) = sum over t_i <= t of S(t_i-) d_ki / n_i, S the all-cause Kaplan-Meier.  The variance is
the one ``cmprsk::cuminc`` reports (Gray's delta-method estimator, with his tie correction
1 - (d - 1) / (n - 1)); the interval is the log(-log) one tidycmprsk builds from it.  Checked
against cuminc to 1e-10 in tests/analyses/test_cif.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.analyses.result import SummaryDisplay, ci_columns

__all__ = ["CIFCurve", "cumulative_incidence", "cumulative_incidence_counts"]


@dataclass(frozen=True)
class CIFCurve(SummaryDisplay):
    """Cumulative incidence of one cause at every distinct observed time."""

    cause: int
    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray  # events of this cause
    n_competing: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray  # cmprsk's variance, carried forward from the last jump of this cause
    conf: float

    @property
    def conf_level(self) -> float:
        """Confidence level of the interval."""
        return self.conf

    @property
    def summary(self) -> pd.DataFrame:
        """One row per distinct time: ``time, n_risk, n_event`` (this cause), ``n_competing``,
        ``estimate`` (F(t)), ``se`` (square root of cmprsk's variance, probability scale) and the
        log(-log) limits ``lower_95, upper_95`` (level in the name; NaN where F is 0 or 1)."""
        lower, upper = _interval(self.estimate, self.variance, self.conf)
        names = ci_columns(self.conf)
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
            "n_competing": self.n_competing, "estimate": self.estimate,
            "se": np.sqrt(self.variance), names[0]: lower, names[1]: upper,
        })

    def __repr__(self) -> str:
        return (f"<CIFCurve: cause {self.cause}, {int(self.n_event.sum())} events, "
                f"{int(self.n_competing.sum())} competing, F(max time) = {self.estimate[-1] if len(self.time) else 0:g}>")

    def at(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Estimate, variance and log(-log) interval at t (step function; 0 before any event)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        i = np.searchsorted(self.time, t, side="right") - 1
        j = np.clip(i, 0, None)
        est = np.where(i < 0, 0.0, self.estimate[j] if len(self.time) else 0.0)
        var = np.where(i < 0, 0.0, self.variance[j] if len(self.time) else 0.0)
        lower, upper = _interval(est, var, self.conf)
        return est, var, lower, upper

    def table(self) -> pd.DataFrame:
        """The curve as a tidy frame (fixed columns)."""
        lower, upper = _interval(self.estimate, self.variance, self.conf)
        return pd.DataFrame({
            "time": self.time, "n_risk": self.n_risk, "n_event": self.n_event,
            "n_competing": self.n_competing, "estimate": self.estimate,
            "std_err": np.sqrt(self.variance), "lower": lower, "upper": upper,
        })


def _interval(est: np.ndarray, var: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """F^exp(+-z se / (F log F)); NaN where F is 0 or 1."""
    from scipy.stats import norm
    z = norm.ppf(1 - (1 - conf) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (est > 0) & (est < 1)
        f = np.where(inside, est, np.nan)
        c = z * np.sqrt(var) / (f * np.log(f))
        a, b = f ** np.exp(c), f ** np.exp(-c)
    return np.fmin(a, b), np.fmax(a, b)


def _tie_factor(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1, 1.0 - (d - 1.0) / (n - 1.0), 1.0)


def cumulative_incidence(time: np.ndarray, status: np.ndarray, cause: int = 1, conf: float = 0.95) -> CIFCurve:
    """Aalen-Johansen cumulative incidence of ``cause``; status 0 is censoring.

    Parameters
    ----------
    time
        Observed times.
    status
        0 censored, otherwise the cause of the event (any other non-zero value competes).
    cause
        The cause whose incidence is estimated.
    conf
        Confidence level of the interval.
    """
    time = np.asarray(time, dtype=float)
    status = np.asarray(status)
    order = np.argsort(time, kind="stable")
    t, s = time[order], status[order]
    times, first, counts = np.unique(t, return_index=True, return_counts=True)
    d1 = np.add.reduceat((s == cause).astype(float), first) if len(first) else np.zeros(0)
    d2 = np.add.reduceat(((s != cause) & (s != 0)).astype(float), first) if len(first) else np.zeros(0)
    return cumulative_incidence_counts(times, d1, d2, counts - d1 - d2, cause, conf)


def cumulative_incidence_counts(time: np.ndarray, n_event: np.ndarray, n_competing: np.ndarray,
                                n_censor: np.ndarray, cause: int = 1, conf: float = 0.95) -> CIFCurve:
    """Aalen-Johansen cumulative incidence from counts per distinct time (aggregated data).

    :func:`cumulative_incidence` collapses its rows to these counts and calls this function, so
    a curve from counts summed over sites is the curve of the concatenated rows, to the bit.

    Parameters
    ----------
    time
        Distinct observed times, increasing.
    n_event, n_competing, n_censor
        Events of the cause, events of any other cause, and censorings at each time.
    cause
        The cause's code (recorded on the curve).
    conf
        Confidence level of the interval.
    """
    times = np.asarray(time, dtype=float)
    d1, d2 = np.asarray(n_event, dtype=float), np.asarray(n_competing, dtype=float)
    counts = d1 + d2 + np.asarray(n_censor, dtype=float)
    if len(times) > 1 and np.any(np.diff(times) <= 0):
        raise ValueError("time must be distinct and increasing")
    keep = counts > 0
    times, d1, d2, counts = times[keep], d1[keep], d2[keep], counts[keep]
    n = counts.sum() - np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    d = d1 + d2
    with np.errstate(divide="ignore", invalid="ignore"):
        s_after = np.cumprod(1.0 - d / n)
        s_before = np.concatenate([[1.0], s_after[:-1]])
        f = np.cumsum(s_before * d1 / n)
        inv = np.where(s_after > 0, 1.0 / s_after, 0.0)
        # other-cause events (skipped where nobody survives them)
        w2 = np.where((d2 > 0) & (s_after > 0), s_before**2 * _tie_factor(d2, n) * d2 / n**2, 0.0)
        a2 = f * inv
        # events of this cause
        w1 = np.where(d1 > 0, s_before**2 * _tie_factor(d1, n) * d1 / n**2, 0.0)
        a1 = 1.0 + inv * f
    v1 = np.cumsum(a2 * a2 * w2 + a1 * a1 * w1)
    v2 = np.cumsum(inv * a2 * w2 + inv * a1 * w1)
    v3 = np.cumsum(inv * inv * w2 + inv * inv * w1)
    var_at_jump = v1 + f * f * v3 - 2 * f * v2
    # cmprsk records the variance at jumps of this cause and carries it forward between them
    jump_index = np.where(d1 > 0, np.arange(len(times)), -1)
    last_jump = np.maximum.accumulate(jump_index) if len(times) else jump_index
    variance = np.where(last_jump >= 0, var_at_jump[np.clip(last_jump, 0, None)], 0.0)
    return CIFCurve(cause, times, n.astype(np.int64), d1.astype(np.int64), d2.astype(np.int64),
                    f, variance, conf)
