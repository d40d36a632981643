"""Time from onset to radiographic change on plain films: interval-censored, never midpoints.

The change of an index episode lies in (last normal film before the first abnormal one, or 0;
first abnormal film] (``xr_lower_day`` / ``xr_upper_day`` of the index table), right-censored at
the last normal film when no film was abnormal.  Estimated by Turnbull's NPMLE (KKT to 1e-8) with
seeded bootstrap intervals, and by an interval-censored Weibull beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from toh.analyses._bootstrap import PendingDraws, start_bootstrap_cdf
from toh.analyses._tasks import PendingTasks
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records
from toh.analyses._turnbull import TurnbullFit, turnbull
from toh.analyses._weibull import WeibullFit, fit_weibull_interval
from toh.cohort.derive import DerivedCohort

__all__ = ["RadiographicOptions", "RadiographicResult", "PendingRadiographic", "analyse_radiographic", "interval_counts",
           "radiographic_from_counts", "start_radiographic", "start_radiographic_from_counts"]


@dataclass(frozen=True)
class RadiographicOptions:
    """Settings of the radiographic analysis.

    Attributes
    ----------
    weeks
        Times (weeks from onset) at which the cumulative proportion changed is read.
    bootstrap_draws
        Bootstrap samples for the NPMLE's percentile intervals (stated in the methods text).
    seed
        Seed of the bootstrap (results are identical for any number of workers).
    tol
        KKT tolerance of the NPMLE.
    workers
        Processes that draw the bootstrap: this one and ``workers - 1`` forked ones (default:
        two, one per core of a small machine), which also run the cohort's other analyses
        (:func:`toh.analyses.run.analyse_cohort`); 1 runs everything in this process.
    """

    weeks: tuple[float, ...] = (4.0, 8.0, 12.0)
    bootstrap_draws: int = 1000
    seed: int = 20240229
    tol: float = 1e-8
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.bootstrap_draws < 0:
            raise ValueError("bootstrap_draws must be >= 0")


@dataclass(frozen=True)
class RadiographicResult(AnalysisResult):
    """Cumulative proportion with radiographic change by time since onset."""

    at: pd.DataFrame
    npmle: pd.DataFrame
    weibull: pd.DataFrame
    counts: pd.DataFrame
    options: RadiographicOptions
    conf: float
    kkt: float
    iterations: int
    name: str = "radiographic"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"radiographic_at": self.at, "radiographic_npmle": self.npmle,
                "radiographic_weibull": self.weibull, "radiographic_counts": self.counts}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        counts = self.counts.set_index("what")["n"]
        n = counts["episodes with a decisive film"]
        for row in records(level_free(self.at)):  # keys are the column names without the CI level
            for key in ("estimate", "lower", "upper", "weibull_estimate"):
                out[f"radiographic.changed_{row['weeks']:g}w.{key}"] = clean_number(row[key])
            # the episodes the estimate stands for (a share of n, so the report's small-cell rule reads it), to
            # 0.01 episode: the NPMLE's numerical error (F = 1 - 1e-8) must not read as a few episodes left
            out[f"radiographic.changed_{row['weeks']:g}w.episodes"] = clean_number(round(row["estimate"] * n, 2))
        weib = self.weibull.set_index("parameter")["estimate"]
        out["radiographic.weibull.median_days"] = clean_number(weib.get("median_days"))
        out["radiographic.n"] = clean_number(n)
        out["radiographic.bootstrap_draws"] = self.options.bootstrap_draws
        return out


def interval_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Index episodes per distinct interval (lower, upper] of radiographic change (``lower``,
    ``upper``, ``n``; sorted; the onset-day (0, 0] kept as it is): what a site's bundle holds."""
    films = index[index["xr_lower_day"].notna()]
    pairs = np.column_stack([films["xr_lower_day"].to_numpy(float), films["xr_upper_day"].to_numpy(float)])
    unique, inverse = np.unique(pairs.reshape(-1, 2), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), minlength=len(unique)).astype(np.int64)
    return pd.DataFrame({"lower": unique[:, 0], "upper": unique[:, 1], "n": counts})


class PendingRadiographic:
    """A radiographic analysis whose bootstrap draws may still be running in a pool of workers.

    :meth:`result` waits for them and returns the :class:`RadiographicResult`; :meth:`beside`
    returns the results of the caller's tasks a worker ran before drawing; :meth:`cancel` ends
    the workers (idempotent), for a caller that fails before collecting.
    """

    def __init__(self, finish: Callable[[np.ndarray | None], RadiographicResult], draws: PendingDraws | None,
                 beside: PendingTasks | None = None, meanwhile: Callable[[], None] | None = None) -> None:
        self._finish, self._draws, self._meanwhile = finish, draws, meanwhile
        self._tasks = beside if beside is not None else PendingTasks()
        self._done: RadiographicResult | None = None

    def result(self) -> RadiographicResult:
        """The finished analysis (``meanwhile``, this process's own remaining work, is done once
        it has drawn its share of the bootstrap, before it waits for the worker)."""
        if self._done is None:
            self._done = self._finish(self._draws.result(self._meanwhile) if self._draws is not None else None)
        return self._done

    def beside(self) -> list[Any]:
        """The results of the ``beside`` tasks of :func:`start_radiographic`, in their order
        (after :meth:`result`, which it calls when needed): run by the bootstrap's worker before it
        drew, or here when there was none; their warnings are raised here, in their order."""
        self.result()
        return self._tasks.results()

    def cancel(self) -> None:
        """End the bootstrap's workers, if any are running."""
        if self._draws is not None:
            self._draws.cancel()


def analyse_radiographic(cohort: DerivedCohort, options: RadiographicOptions | None = None) -> RadiographicResult:
    """Estimate time to radiographic change of the index episodes.

    An abnormal film on the onset day gives the interval (0, 0]; it is read as a change within
    the first half day, (0, 0.5], since (lo, hi] must not be empty.  Bootstrap intervals are
    percentile intervals of F(t) over ``bootstrap_draws`` resamples of patients.
    """
    pending = start_radiographic(cohort, options)
    try:
        return pending.result()
    finally:
        pending.cancel()


def start_radiographic(cohort: DerivedCohort, options: RadiographicOptions | None = None,
                       beside: Sequence[Callable[[], Any]] | PendingTasks = ()) -> PendingRadiographic:
    """:func:`analyse_radiographic`, started: the fits are made, and the bootstrap draws run in
    a pool of workers (when it pays) while the caller goes on with the cohort's other analyses.

    ``beside``: tasks of the caller's (callables without arguments, e.g. another analysis of the
    cohort) that the bootstrap's worker runs before it draws, so that it shares the caller's
    work instead of idling once its draws are done, or those
    :func:`toh.analyses._bootstrap.send_ahead` handed to a warm worker already (it draws once
    they are done); :meth:`PendingRadiographic.beside` returns their results (run in this
    process when no worker is started)."""
    reason = "the export has no imaging table" if "imaging" in cohort.absent else ""
    return start_radiographic_from_counts(interval_counts(cohort.index), len(cohort.index), options,
                                          cohort.definitions.confidence, reason, beside)


def radiographic_from_counts(intervals: pd.DataFrame, n_index: int, options: RadiographicOptions | None = None,
                             conf: float = 0.95, absent: str = "") -> RadiographicResult:
    """:func:`analyse_radiographic` from :func:`interval_counts` (one cohort's, or summed over
    sites) and the number of index episodes; ``absent`` is the reason when the imaging table is
    missing."""
    pending = start_radiographic_from_counts(intervals, n_index, options, conf, absent)
    try:
        return pending.result()
    finally:
        pending.cancel()


def start_radiographic_from_counts(intervals: pd.DataFrame, n_index: int, options: RadiographicOptions | None = None,
                                   conf: float = 0.95, absent: str = "",
                                   beside: Sequence[Callable[[], Any]] | PendingTasks = ()) -> PendingRadiographic:
    """:func:`radiographic_from_counts`, started (see :func:`start_radiographic`)."""
    options = options or RadiographicOptions()
    tasks = beside if isinstance(beside, PendingTasks) else PendingTasks(beside)
    lo = intervals["lower"].to_numpy(float)
    hi = intervals["upper"].to_numpy(float)
    w = intervals["n"].to_numpy(float)
    degenerate = hi <= lo
    hi = np.where(degenerate, lo + 0.5, hi)
    n_films = int(w.sum())
    counts = pd.DataFrame([
        ("index episodes", int(n_index)),
        ("episodes with a decisive film", n_films),
        ("no decisive film (left out)", int(n_index) - n_films),
        ("changed by the first film (lower end 0)", int(w[(lo == 0) & np.isfinite(hi)].sum())),
        ("never abnormal (right-censored)", int(w[~np.isfinite(hi)].sum())),
        ("abnormal on the onset day, read as (0, 0.5]", int(w[degenerate].sum())),
    ], columns=["what", "n"])
    times = np.asarray(options.weeks) * 7.0
    empty = pd.DataFrame(columns=["left_days", "right_days", "mass", "cdf"])
    if absent or n_films == 0:
        reason = absent or "no index episode has a plain film (XR) that is normal or abnormal"
        at = name_limits(pd.DataFrame({"weeks": options.weeks, "days": times, "estimate": np.nan, "lower": np.nan,
                                       "upper": np.nan, "weibull_estimate": np.nan}), conf)
        weib = name_limits(pd.DataFrame(columns=["parameter", "estimate", "se", "lower", "upper"]), conf)
        done = RadiographicResult(at, empty, weib, counts, options, conf, float("nan"), 0,
                                  not_estimable={"radiographic": reason})
        return PendingRadiographic(lambda _: done, None, tasks)
    fit = turnbull(lo, hi, w, tol=options.tol)
    draws = None
    if options.bootstrap_draws > 0:
        draws = start_bootstrap_cdf(lo, hi, fit, times, options.bootstrap_draws, options.seed, options.tol,
                                    options.workers, weights=w, beside=tasks)
    weibull: list[WeibullFit] = []

    def fit_weibull() -> None:
        # made once this process has drawn its share, while the worker finishes (at 1,000
        # patients this process's 0.3 s of it, most of it importing scipy.optimize, otherwise
        # came before its draws and the worker's tasks ended the analysis)
        if not weibull:
            weibull.append(fit_weibull_interval(lo, hi, w))

    def finish(boot: np.ndarray | None) -> RadiographicResult:
        fit_weibull()
        return _assemble(fit, weibull[0], boot, times, counts, options, conf)

    return PendingRadiographic(finish, draws, tasks, meanwhile=fit_weibull)


def _assemble(fit: TurnbullFit, weibull: WeibullFit, boot: np.ndarray | None, times: np.ndarray,
              counts: pd.DataFrame, options: RadiographicOptions, conf: float) -> RadiographicResult:
    """The result tables from the two fits and the bootstrap draws (None: no draws)."""
    from scipy.special import ndtri  # norm.ppf itself, without importing scipy.stats (0.4 s) here

    est = fit.cdf(times)
    if boot is not None:
        a = (1 - conf) / 2
        lower, upper = np.quantile(boot, a, axis=0), np.quantile(boot, 1 - a, axis=0)
    else:
        lower = upper = np.full(len(times), np.nan)
    z = ndtri(1 - (1 - conf) / 2)
    se = np.sqrt(np.diag(weibull.covariance))
    weib = pd.DataFrame([
        ("intercept", weibull.mu, se[0], weibull.mu - z * se[0], weibull.mu + z * se[0]),
        ("log_scale", weibull.log_sigma, se[1], weibull.log_sigma - z * se[1], weibull.log_sigma + z * se[1]),
        ("shape", 1 / weibull.sigma, np.nan, np.nan, np.nan),
        ("scale_days", float(np.exp(weibull.mu)), np.nan, np.nan, np.nan),
        ("median_days", weibull.quantile(0.5), np.nan, np.nan, np.nan),
        ("loglik", weibull.loglik, np.nan, np.nan, np.nan),
    ], columns=["parameter", "estimate", "se", "lower", "upper"]).pipe(name_limits, conf)
    at = name_limits(pd.DataFrame({"weeks": options.weeks, "days": times, "estimate": est, "lower": lower,
                                   "upper": upper, "weibull_estimate": weibull.cdf(times)}), conf)
    npmle = pd.DataFrame({"left_days": fit.left, "right_days": fit.right, "mass": fit.p, "cdf": np.cumsum(fit.p)})
    return RadiographicResult(at, npmle, weib, counts, options, conf, fit.kkt, fit.iterations)
