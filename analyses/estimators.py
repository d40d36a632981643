"""The package's estimators for any data, with R's conventions: ``toh.kaplan_meier``,
``toh.turnbull``, ``toh.cumulative_incidence``, ``toh.gray_test``, ``toh.clopper_pearson``,
``toh.wilson`` and ``toh.poisson_rate``.

The analyses of a registry use exactly these estimators; here they take plain arrays (lists,
numpy arrays, pandas Series), check them, and return frozen result objects whose numbers are raw
doubles and whose ``summary`` property is a tidy DataFrame with fixed columns: ``time``,
``estimate``, ``se``, ``n_risk``, ``n_event`` and the confidence limits with the level in the
name (``lower_95``/``upper_95`` at ``conf_level=0.95``, ``lower_90``/``upper_90`` at 0.9).

Each function names the R function it matches.  They are checked against R on R's own data sets
(survival's ``lung``, ``aml``, ``ovarian`` and a competing-risks set built from ``mgus2``) in
tests/analyses/test_estimators_public.py, with the R script beside the reference values
(tests/analyses/reference/make_r_datasets_reference.R).

Bad input fails at once with a ValueError naming the argument and the first offending position
and value (missing or infinite times, negative times, an event that is not 0/1, arrays of
different lengths, an empty input, a confidence level outside (0, 1), ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from toh.analyses import _checks as check
from toh.analyses import _cif, _exact, _gray, _km, _turnbull
from toh.analyses._cif import CIFCurve
from toh.analyses._gray import GrayTest
from toh.analyses._km import KMCurve, Quantile
from toh.analyses._turnbull import TurnbullFit
from toh.analyses.result import SummaryDisplay, ci_columns

__all__ = [
    "kaplan_meier", "turnbull", "cumulative_incidence", "gray_test", "clopper_pearson", "wilson",
    "poisson_rate", "KMCurve", "Quantile", "TurnbullFit", "CIFCurve", "GrayTest", "Proportion", "Rate",
]

ArrayLike = Sequence[Any] | np.ndarray | pd.Series


def kaplan_meier(time: ArrayLike, event: ArrayLike, conf_level: float = 0.95) -> KMCurve:
    """Kaplan-Meier estimate of the survival function, with R's log(-log) interval.

    Parameters
    ----------
    time : array-like of float
        Follow-up time of each observation (event or censoring); finite and >= 0.
    event : array-like of 0/1 or bool
        1 (True) where the time is an event, 0 (False) where it is censored.
    conf_level : float, default 0.95
        Level of the pointwise confidence interval, strictly between 0 and 1.

    Returns
    -------
    KMCurve
        One entry per distinct time.  ``summary`` has the columns ``time, n_risk, n_event,
        n_censor, estimate, se, lower_95, upper_95``.  ``se`` is R's ``std.err``: Greenwood's
        standard error of the cumulative hazard -log S(t) (the log scale, not S's own scale;
        multiply by S for that, as ``summary.survfit`` does), and Inf from the time S reaches 0.
        The limits are NaN where S is 0 or 1, as R's NA.  ``median`` (and ``quantile(p)``) give
        the estimate and its limits by ``quantile.survfit``'s rule; ``at(t)``, ``at_risk(t)``
        and ``rmst(tau)`` read the curve at other times.

    Raises
    ------
    ValueError
        Empty input, different lengths, a missing, infinite or negative time, an event that is
        not 0/1, ``conf_level`` outside (0, 1).

    References
    ----------
    R: ``survival::survfit(Surv(time, event) ~ 1, conf.type = "log-log", conf.int = conf_level)``
    and ``quantile()`` of it (survival 3.5-3).

    Examples
    --------
    >>> fit = kaplan_meier([5, 8, 8, 12, 16, 23], [1, 1, 0, 1, 0, 1])
    >>> fit.median.estimate
    12.0
    """
    where = "kaplan_meier"
    t = check.as_times(where, "time", time)
    e = check.as_events(where, "event", event)
    check.same_length(where, time=t, event=e)
    return _km.kaplan_meier(t, e, check.conf_level(where, conf_level))


def turnbull(lower: ArrayLike, upper: ArrayLike, weights: ArrayLike | None = None, *,
             tol: float = 1e-8, max_iter: int = 100_000) -> TurnbullFit:
    """Turnbull's nonparametric MLE of the distribution of interval-censored times.

    Each observation says only that the event happened in the half-open interval
    ``(lower, upper]``: after ``lower`` (e.g. the last visit without it) and no later than
    ``upper`` (the first visit with it).  ``lower = 0`` is left censoring, ``upper = inf`` right
    censoring.

    Parameters
    ----------
    lower, upper : array-like of float
        Interval ends, ``0 <= lower < upper``; ``upper`` may be ``inf``.  An exact time
        (``lower == upper``, a closed interval [t, t]) is refused: give it as a short interval
        ending at t, or use :func:`kaplan_meier` if every time is exact.
    weights : array-like of float, optional
        Number of observations each row stands for (default 1 each); >= 0.
    tol : float, default 1e-8
        Convergence tolerance on the KKT conditions of the NPMLE (every gradient component
        ``sum_i w_i A_ij / (A p)_i`` within ``N tol`` of ``N`` where there is mass, and not
        above ``N (1 + tol)`` elsewhere).  A fit that does not get there warns
        (``toh.StatisticalWarning``).
    max_iter : int, default 100000
        Iteration limit.

    Returns
    -------
    TurnbullFit
        Mass ``p`` on the innermost intervals ``(left, right]``; ``cdf(t)`` and ``survival(t)``
        read the step function; ``summary`` has ``left, time, mass, estimate`` (S at ``time``,
        the interval's right end); ``kkt`` and ``loglik`` say how well it converged.

    Raises
    ------
    ValueError
        Empty input, different lengths, a missing, negative or (for ``lower``) infinite end,
        ``lower == upper`` (an exact time) or ``lower > upper``, a negative or missing weight.

    References
    ----------
    R: ``survival::survfit(Surv(lower, upper, type = "interval2") ~ 1)`` (``upper = NA`` for
    inf), which fits the same (lower, upper] likelihood but stops its EM at 5e-5 and draws each
    jump at the middle of its interval; this fit agrees with it to about 2e-3 where both curves
    are flat, and meets the KKT conditions to ``tol``.
    """
    where = "turnbull"
    lo = check.as_times(where, "lower", lower)
    hi = check.as_times(where, "upper", upper, allow_inf=True)
    check.same_length(where, lower=lo, upper=hi)
    exact = lo == hi
    if exact.any():
        i = int(np.flatnonzero(exact)[0])
        raise ValueError(
            f"{where}: lower[{i}] == upper[{i}] == {lo[i]:g}: an exact time (a closed interval "
            f"[{lo[i]:g}, {lo[i]:g}]), but the intervals are half-open (lower, upper] with lower < upper; "
            "give an exact time t as a short interval (t - h, t], or use kaplan_meier")
    reversed_ = lo > hi
    if reversed_.any():
        i = int(np.flatnonzero(reversed_)[0])
        raise ValueError(f"{where}: lower[{i}] = {lo[i]:g} > upper[{i}] = {hi[i]:g}; "
                         "each interval needs lower < upper")
    w = None
    if weights is not None:
        w = check.as_times(where, "weights", weights)
        check.same_length(where, lower=lo, weights=w)
        if not (w > 0).any():
            raise ValueError(f"{where}: weights are all 0")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"{where}: tol = {tol!r} must be a positive number")
    return _turnbull.turnbull(lo, hi, w, tol=float(tol), max_iter=int(max_iter))


def cumulative_incidence(time: ArrayLike, status: ArrayLike, cause: int = 1,
                         conf_level: float = 0.95) -> CIFCurve:
    """Cumulative incidence of one cause in the presence of competing causes (Aalen-Johansen).

    F(t) = sum over event times t_i <= t of S(t_i-) d_i / n_i, with S the Kaplan-Meier estimate
    of being free of every cause and d_i the events of ``cause``.

    Parameters
    ----------
    time : array-like of float
        Follow-up time of each observation; finite and >= 0.
    status : array-like of int
        0 censored, otherwise the cause of the event (integers >= 0); any non-zero value other
        than ``cause`` competes.
    cause : int, default 1
        The cause whose incidence is estimated (an integer >= 1).
    conf_level : float, default 0.95
        Level of the pointwise interval, strictly between 0 and 1.

    Returns
    -------
    CIFCurve
        One entry per distinct time; ``summary`` has ``time, n_risk, n_event, n_competing,
        estimate, se, lower_95, upper_95``.  ``se`` is the square root of cmprsk's variance
        (Gray's delta-method estimator with its tie correction; probability scale), carried
        forward from the last event of the cause.  The interval is the log(-log) one,
        F^exp(-+z se / (F log F)), as tidycmprsk builds it (NaN where F is 0 or 1).
        ``at(t)`` reads estimate, variance and limits at any times (as ``timepoints``).

    Raises
    ------
    ValueError
        Empty input, different lengths, a missing, infinite or negative time, a status that is
        not an integer >= 0, ``cause`` not an integer >= 1, ``conf_level`` outside (0, 1).

    References
    ----------
    R: ``cmprsk::cuminc(time, status, cencode = 0)`` and ``cmprsk::timepoints`` (cmprsk 2.2-11).
    """
    where = "cumulative_incidence"
    t = check.as_times(where, "time", time)
    s = check.as_status(where, "status", status)
    check.same_length(where, time=t, status=s)
    c = check.count(where, "cause", cause, minimum=1)
    return _cif.cumulative_incidence(t, s, c, check.conf_level(where, conf_level))


def gray_test(time: ArrayLike, status: ArrayLike, group: ArrayLike, cause: int = 1,
              rho: float = 0, strata: ArrayLike | None = None) -> GrayTest:
    """Gray's K-sample test that ``cause`` has the same cumulative incidence in every group.

    Parameters
    ----------
    time : array-like of float
        Follow-up time of each observation; finite and >= 0.
    status : array-like of int
        0 censored, otherwise the cause of the event (integers >= 0).
    group : array-like
        Group of each observation (compared as text, sorted as R sorts factor levels); at least
        two groups, none missing.
    cause : int, default 1
        The cause compared (an integer >= 1).
    rho : float, default 0
        Power of the weight (1 - F(t-))^rho.
    strata : array-like, optional
        Stratum of each observation (e.g. the site; none missing): the groups are compared
        within each stratum and the comparisons added up.

    Returns
    -------
    GrayTest
        ``stat`` (chi-square), ``df`` (groups - 1), ``p``, ``groups``; ``summary`` is one row.
        The statistic is NaN where its variance is singular (R's cuminc reports -1 there).

    Raises
    ------
    ValueError
        As for :func:`cumulative_incidence`, a missing group, fewer than two groups, a rho
        that is not finite.

    References
    ----------
    R: ``cmprsk::cuminc(time, status, group, rho = rho, cencode = 0)$Tests`` (cmprsk 2.2-11),
    with ``strata = strata`` when given.
    """
    where = "gray_test"
    t = check.as_times(where, "time", time)
    s = check.as_status(where, "status", status)
    g = check.as_groups(where, "group", group)
    check.same_length(where, time=t, status=s, group=g)
    c = check.count(where, "cause", cause, minimum=1)
    if isinstance(rho, bool) or not isinstance(rho, (int, float, np.number)) or not np.isfinite(rho):
        raise ValueError(f"{where}: rho = {rho!r} must be a finite number")
    if len(np.unique(g.astype(str))) < 2:
        raise ValueError(f"{where}: group has one value only ({g[0]!r}); the test needs at least two groups")
    layers = None
    if strata is not None:
        layers = check.as_groups(where, "strata", strata)
        check.same_length(where, time=t, strata=layers)
    return _gray.gray_test(t, s, g, c, rho=float(rho), strata=layers)


@dataclass(frozen=True)
class Proportion(SummaryDisplay):
    """A proportion x / n with its confidence interval (``method``: "clopper-pearson" or "wilson")."""

    x: int
    n: int
    estimate: float
    lower: float
    upper: float
    conf_level: float
    method: str

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``x, n, estimate, lower_95, upper_95`` (level in the name), ``method``."""
        lower, upper = ci_columns(self.conf_level)
        return pd.DataFrame({"x": [self.x], "n": [self.n], "estimate": [self.estimate],
                             lower: [self.lower], upper: [self.upper], "method": [self.method]})


@dataclass(frozen=True)
class Rate(SummaryDisplay):
    """An event rate ``per * events / person_time`` with its exact Poisson interval."""

    events: int
    person_time: float
    per: float
    estimate: float
    lower: float
    upper: float
    conf_level: float

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``events, person_time, per, estimate, lower_95, upper_95``."""
        lower, upper = ci_columns(self.conf_level)
        return pd.DataFrame({"events": [self.events], "person_time": [self.person_time], "per": [self.per],
                             "estimate": [self.estimate], lower: [self.lower], upper: [self.upper]})


def _proportion_args(where: str, x: Any, n: Any, conf_level: Any) -> tuple[int, int, float]:
    k = check.count(where, "x", x)
    m = check.count(where, "n", n, minimum=1)
    if k > m:
        raise ValueError(f"{where}: x = {k} is larger than n = {m}")
    return k, m, check.conf_level(where, conf_level)


def clopper_pearson(x: int, n: int, conf_level: float = 0.95) -> Proportion:
    """Proportion x / n with its exact (Clopper-Pearson) interval.

    The limits are beta quantiles: lower ``qbeta(a/2, x, n - x + 1)`` (0 when x = 0), upper
    ``qbeta(1 - a/2, x + 1, n - x)`` (1 when x = n), a = 1 - conf_level; exact to about 1e-15
    relative even for proportions near 0 (x = 1 of 1e11).

    Parameters
    ----------
    x : int
        Number of successes, 0 <= x <= n.
    n : int
        Number of trials, >= 1.
    conf_level : float, default 0.95
        Strictly between 0 and 1.

    Returns
    -------
    Proportion

    References
    ----------
    R: ``binom.test(x, n, conf.level = conf_level)$conf.int``.
    """
    k, m, level = _proportion_args("clopper_pearson", x, n, conf_level)
    est, low, high = _exact.clopper_pearson(k, m, level)
    return Proportion(k, m, est, low, high, level, "clopper-pearson")


def wilson(x: int, n: int, conf_level: float = 0.95) -> Proportion:
    """Proportion x / n with the Wilson score interval, without continuity correction.

    Parameters
    ----------
    x : int
        Number of successes, 0 <= x <= n.
    n : int
        Number of trials, >= 1.
    conf_level : float, default 0.95
        Strictly between 0 and 1.

    Returns
    -------
    Proportion

    References
    ----------
    R: ``prop.test(x, n, correct = FALSE, conf.level = conf_level)$conf.int``.
    """
    k, m, level = _proportion_args("wilson", x, n, conf_level)
    est, low, high = _exact.wilson(k, m, level)
    return Proportion(k, m, est, low, high, level, "wilson")


def poisson_rate(events: int, person_time: float, conf_level: float = 0.95, per: float = 1.0) -> Rate:
    """Event rate with its exact Poisson interval.

    rate = per * events / person_time; lower = per * qgamma(a/2, events) / person_time (0 when
    events = 0), upper = per * qgamma(1 - a/2, events + 1) / person_time, a = 1 - conf_level.

    Parameters
    ----------
    events : int
        Number of events, >= 0.
    person_time : float
        Total time at risk, finite and > 0.
    conf_level : float, default 0.95
        Strictly between 0 and 1.
    per : float, default 1.0
        Scale of the rate (e.g. 100 for a rate per 100 person-years when person_time is in years).

    Returns
    -------
    Rate

    References
    ----------
    R: ``poisson.test(events, person_time, conf.level = conf_level)`` (``estimate`` and
    ``conf.int``, times ``per``).
    """
    where = "poisson_rate"
    k = check.count(where, "events", events)
    t = float(person_time) if check.is_number(person_time) and not isinstance(person_time, bool) else np.nan
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"{where}: person_time = {person_time!r} must be a finite number > 0")
    if isinstance(per, bool) or not isinstance(per, (int, float, np.number)) or not (np.isfinite(per) and per > 0):
        raise ValueError(f"{where}: per = {per!r} must be a positive number")
    level = check.conf_level(where, conf_level)
    est, low, high = _exact.poisson_rate(k, t, level, float(per))
    return Rate(k, t, float(per), est, low, high, level)
