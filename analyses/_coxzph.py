"""R's ``cox.zph`` proportional-hazards test, ported (survival >= 3.0, ``transform = "km"``).

lifelines' ``proportional_hazard_test`` is a different test (rank transform by default,
right-continuous KM, an older approximation, no global test; ``docs/r-conventions.md``), so the
score test R reports is computed here.  For each term, the Cox model is extended by the
covariates x * g(t), g the centred left-continuous Kaplan-Meier transform 1 - S(t-), and the
score test of the extra coefficients is taken at (beta-hat, 0) with Efron's handling of ties.
Checked against R in tests/analyses/test_resolution.py.
"""

from __future__ import annotations

import warnings

import numpy as np

from toh.cohort.errors import StatisticalWarning

__all__ = ["cox_zph"]


def _km_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - S(t-) for every observation, S the Kaplan-Meier of all observations."""
    times, first, counts = np.unique(np.sort(time), return_index=True, return_counts=True)
    d = np.bincount(np.searchsorted(times, time[event]), minlength=len(times)).astype(float)
    n = len(time) - np.concatenate([[0], np.cumsum(counts)[:-1]])
    surv = np.cumprod(1.0 - d / n)
    before = np.searchsorted(times, time, side="left")  # number of distinct times < t
    return 1.0 - np.concatenate([[1.0], surv])[before]


def _score_and_information(time, event, x, eta, g, efron: bool):
    """Score of the x * g(t) coefficients and the full information matrix at (beta, 0)."""
    order = np.lexsort((~event, time))
    time, event, x, eta, g = time[order], event[order], x[order], eta[order], g[order]
    p = x.shape[1]
    w = np.exp(eta - eta.max())
    wx = w[:, None] * x
    wxx = (w[:, None, None] * x[:, :, None] * x[:, None, :]).reshape(len(w), p * p)
    # risk-set sums at each row's time: everyone with T >= t (reverse cumulative sums by time)
    distinct, first = np.unique(time, return_index=True)
    rev = lambda a: np.cumsum(a[::-1], axis=0)[::-1]  # noqa: E731
    r0, r1, r2 = rev(w)[first], rev(wx)[first], rev(wxx)[first]
    death_idx = np.searchsorted(distinct, time[event])
    nd = np.bincount(death_idx, minlength=len(distinct)).astype(float)
    d0 = np.bincount(death_idx, weights=w[event], minlength=len(distinct))
    d1 = np.stack([np.bincount(death_idx, weights=wx[event][:, j], minlength=len(distinct)) for j in range(p)], 1)
    d2 = np.stack([np.bincount(death_idx, weights=wxx[event][:, j], minlength=len(distinct)) for j in range(p * p)], 1)
    # one row per death; with Efron, the k-th of d tied deaths sees the risk set minus k/d of them
    rows = np.flatnonzero(event)
    t_idx = np.searchsorted(distinct, time[rows])
    k = np.arange(len(rows)) - np.searchsorted(t_idx, t_idx, side="left")
    frac = (k / nd[t_idx]) if efron else np.zeros(len(rows))
    s0 = r0[t_idx] - frac * d0[t_idx]
    s1 = r1[t_idx] - frac[:, None] * d1[t_idx]
    s2 = r2[t_idx] - frac[:, None] * d2[t_idx]
    xbar = s1 / s0[:, None]
    var = s2.reshape(-1, p, p) / s0[:, None, None] - xbar[:, :, None] * xbar[:, None, :]
    gd = g[rows]
    u = np.sum(gd[:, None] * (x[rows] - xbar), axis=0)
    i11 = var.sum(0)
    i12 = (gd[:, None, None] * var).sum(0)
    i22 = (gd[:, None, None] ** 2 * var).sum(0)
    info = np.block([[i11, i12], [i12, i22]])
    return u, info


def cox_zph(
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    beta: np.ndarray,
    terms: dict[str, list[int]],
    *,
    efron: bool = True,
    strata: np.ndarray | None = None,
) -> list[tuple[str, float, int, float]]:
    """Score tests of proportional hazards per term and globally, as R's ``cox.zph``.

    Parameters
    ----------
    time, event
        Survival times and event flags.
    x
        Covariate matrix (n x p) of the fitted model.
    beta
        Fitted coefficients.
    terms
        Term name -> indices of its columns in ``x`` (a factor spans several).
    strata
        Stratum code of each observation of a stratified model (None: one stratum): the risk
        sets, score and information are those within strata, summed, while the time transform
        is the Kaplan-Meier of all observations, as R's ``cox.zph`` does.

    Returns
    -------
    list of (term, chisq, df, p), the last being ("GLOBAL", ...).
    """
    from scipy.stats import chi2
    time = np.asarray(time, float)
    event = np.asarray(event, bool)
    x = np.asarray(x, float)
    x = x - x.mean(axis=0)
    eta = x @ np.asarray(beta, float)
    g = _km_transform(time, event)
    g = g - g[event].mean()
    p = x.shape[1]
    codes = np.zeros(len(time), dtype=np.int64) if strata is None else np.asarray(strata)
    u_extra, info = np.zeros(p), np.zeros((2 * p, 2 * p))
    for code in np.unique(codes):
        mine = codes == code
        if event[mine].any():
            u_part, info_part = _score_and_information(time[mine], event[mine], x[mine], eta[mine], g[mine], efron)
            u_extra, info = u_extra + u_part, info + info_part
    out = []
    for name, columns in list(terms.items()) + [("GLOBAL", list(range(p)))]:
        keep = list(range(p)) + [p + c for c in columns]
        u = np.concatenate([np.zeros(p), u_extra[columns]])
        try:
            stat = float(u @ np.linalg.solve(info[np.ix_(keep, keep)], u))
        except np.linalg.LinAlgError:  # R's cox.zph stops here too ("system is computationally singular")
            warnings.warn(f"the proportional-hazards test of {name} is not computable on these data (singular "
                          "information matrix); it is reported as NaN", StatisticalWarning, stacklevel=2)
            stat = float("nan")
        out.append((name, stat, len(columns), float(chi2.sf(stat, len(columns)))))
    return out
