"""Gray's K-sample test for equal cumulative incidence of one cause across groups.

Gray RJ (1988), "A class of K-sample tests for comparing the cumulative incidence of a competing
risk", Annals of Statistics 16:1141-1154: the score of each group is the weighted difference
between its observed cause-specific events and those expected under a common subdistribution
hazard, with weight (1 - F(t-))^rho; its variance is the paper's asymptotic estimate, with the
same correction for tied events as ``cmprsk::cuminc`` (which reports this test as ``Tests``).
Checked against cuminc's ``Tests`` (tests/analyses/reference/ref_gray.csv) in
tests/analyses/test_gray.py.  Stratified as ``cuminc(strata =)`` (scores and variances added
over strata); groups sorted as R sorts factor levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from toh.analyses.result import SummaryDisplay

__all__ = ["GrayTest", "gray_test", "gray_test_counts"]


@dataclass(frozen=True)
class GrayTest(SummaryDisplay):
    """Statistic, degrees of freedom (groups - 1), p-value and the groups compared."""

    stat: float
    df: int
    p: float
    groups: tuple[str, ...]
    cause: int = 1
    rho: float = 0.0

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``stat, df, p, groups`` (comma-separated, in R's factor order), ``cause, rho``."""
        return pd.DataFrame({"stat": [self.stat], "df": [self.df], "p": [self.p],
                             "groups": [", ".join(self.groups)], "cause": [self.cause], "rho": [self.rho]})


def _variance_step(a: np.ndarray, c: np.ndarray, at_risk: np.ndarray, s_before: np.ndarray, s_after: np.ndarray,
                   f_after: float, d_cause: float, total: float, v: np.ndarray, v2: np.ndarray, v3: np.ndarray) -> None:
    """Add one event time's contribution of the cause's events to the variance sums (in place),
    for every group at risk at once."""
    idx = np.flatnonzero(at_risk > 0)
    after = s_after[idx]
    h = 1.0 - np.divide(1.0 - f_after, after, out=np.zeros(len(idx)), where=after > 0)
    h = np.where(after > 0, h, 1.0)
    tie = 1.0 - (d_cause - 1.0) / (total * s_before[idx] - 1.0) if d_cause > 1 else np.ones(len(idx))
    w = tie * s_before[idx] * d_cause / (total * at_risk[idx])
    b = a[:, idx] - c[:, idx] * h
    v3[idx] += h * h * w
    v2[:, idx] += b * (h * w)
    v += (b * w) @ b.T


def _competing_step(c: np.ndarray, at_risk: np.ndarray, s_before: np.ndarray, s_after: np.ndarray,
                    pooled_after: float, d_other: np.ndarray, v: np.ndarray, v2: np.ndarray, v3: np.ndarray) -> None:
    """Add one event time's contribution of the competing events to the variance sums (in place)."""
    idx = np.flatnonzero((s_after > 0) & (d_other > 0))
    if not len(idx):
        return
    h = (1.0 - pooled_after) / s_after[idx]
    d, n = d_other[idx], at_risk[idx]
    tie = np.where(d > 1, 1.0 - (d - 1.0) / np.where(n > 1, n - 1.0, 1.0), 1.0)
    w = tie * s_before[idx] ** 2 * d / n ** 2
    b = c[:, idx] * h
    v3[idx] += h * h * w
    v2[:, idx] -= b * (h * w)
    v += (b * w) @ b.T


def _stratum(d1: np.ndarray, d2: np.ndarray, at_risk_all: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Score and variance of one stratum from its counts per distinct time (rows, increasing) and
    group (columns): events of the cause ``d1``, competing events ``d2``, patients at risk."""
    k = d1.shape[1]
    s_before, f_before = np.ones(k), np.zeros(k)  # group-wise all-cause KM and cause CIF just before t
    pooled = 0.0  # F(t-) of the pooled subdistribution
    score, v = np.zeros(k), np.zeros((k, k))
    c, v2, v3 = np.zeros((k, k)), np.zeros((k, k)), np.zeros(k)
    for row in np.flatnonzero((d1.sum(axis=1) + d2.sum(axis=1)) > 0):
        d1_t, d2_t, at_risk = d1[row], d2[row], at_risk_all[row]
        n1 = d1_t.sum()
        live = at_risk > 0
        safe = np.where(live, at_risk, 1.0)
        s_after = np.where(live, s_before * (at_risk - d1_t - d2_t) / safe, s_before)
        f_after = np.where(live, f_before + s_before * d1_t / safe, f_before)
        # a group nobody is at risk in any more (or never, in this stratum) is skipped, as
        # cmprsk's crst does (its survival may be 0 there: divide only where the group is at risk)
        weight_k = np.divide(at_risk, s_before, out=np.zeros(k), where=live)
        total = weight_k.sum()
        expected_k = np.divide(at_risk * (1.0 - f_before), s_before, out=np.zeros(k), where=live)
        pooled_after = pooled + n1 / total
        fb = (1.0 - pooled) ** rho
        a = -fb * np.outer(weight_k, weight_k) / total
        a[np.diag_indices(k)] = fb * weight_k * (1.0 - weight_k / total)
        c += a * n1 / (total * (1.0 - pooled))
        score += np.where(live, fb * (d1_t - n1 * expected_k / expected_k.sum()), 0.0)
        if n1:
            _variance_step(a, c, at_risk, s_before, s_after, pooled_after, n1, total, v, v2, v3)
        if d2_t.any():
            _competing_step(c, at_risk, s_before, s_after, pooled_after, d2_t, v, v2, v3)
        s_before, f_before, pooled = s_after, f_after, pooled_after
    v += (c * v3) @ c.T + c @ v2.T + v2 @ c.T
    return score, v


def _counts(time: np.ndarray, kind: np.ndarray, g: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Rows collapsed to distinct times x groups: events of the cause, competing events, at risk."""
    times, inverse = np.unique(time, return_inverse=True)
    cells = inverse.ravel() * k + g
    size = len(times) * k
    d1 = np.bincount(cells[kind == 1], minlength=size).reshape(len(times), k).astype(float)
    d2 = np.bincount(cells[kind == 2], minlength=size).reshape(len(times), k).astype(float)
    leaving = np.bincount(cells, minlength=size).reshape(len(times), k).astype(float)
    at_risk = np.cumsum(leaving[::-1], axis=0)[::-1]
    return d1, d2, at_risk


def gray_test(time: np.ndarray, status: np.ndarray, group: np.ndarray, cause: int = 1, rho: float = 0.0,
              strata: np.ndarray | None = None) -> GrayTest:
    """Gray's test that ``cause`` has the same cumulative incidence in every group.

    Parameters
    ----------
    time
        Observed times.
    status
        0 censored, ``cause`` the event of interest, any other value a competing event.
    group
        Group of each observation (at least two groups).
    cause
        The cause compared.
    rho
        Power of the weight (1 - F(t-))^rho (cuminc's default 0).
    strata
        Stratum of each observation (e.g. the site), or None for one stratum.  As
        ``cuminc(..., strata =)`` does, each stratum's score and variance are computed within it
        (its own risk sets and subdistribution) and added up over strata; a group absent from a
        stratum adds nothing there.

    Returns
    -------
    GrayTest
        NaN statistic when the variance is singular (e.g. no event of the cause).
    """
    time = np.asarray(time, dtype=float)
    status = np.asarray(status)
    labels, g = np.unique(np.asarray(group).astype(str), return_inverse=True)
    g = g.ravel()
    k = len(labels)
    if k < 2:
        raise ValueError("Gray's test needs at least two groups")
    kind = np.where(status == cause, 1, np.where(status == 0, 0, 2))
    layers = np.zeros(len(time), dtype=np.int64) if strata is None else \
        np.unique(np.asarray(strata).astype(str), return_inverse=True)[1].ravel()
    counts = [_counts(time[layers == layer], kind[layers == layer], g[layers == layer], k)
              for layer in np.unique(layers)]
    return gray_test_counts(counts, tuple(str(x) for x in labels), cause, rho)


def gray_test_counts(strata: list[tuple[np.ndarray, np.ndarray, np.ndarray]], groups: tuple[str, ...],
                     cause: int = 1, rho: float = 0.0) -> GrayTest:
    """:func:`gray_test` from counts: for each stratum, matrices (distinct times in increasing
    order x ``groups``) of the cause's events, competing events and patients at risk (time >= t)."""
    k = len(groups)
    if k < 2:
        raise ValueError("Gray's test needs at least two groups")
    score, v = np.zeros(k), np.zeros((k, k))
    for d1, d2, at_risk in strata:
        s_layer, v_layer = _stratum(np.asarray(d1, float), np.asarray(d2, float), np.asarray(at_risk, float), rho)
        score += s_layer
        v += v_layer
    s, vs = score[: k - 1], v[: k - 1, : k - 1]
    try:
        stat = float(s @ np.linalg.solve(vs, s))
    except np.linalg.LinAlgError:
        stat = float("nan")
    return GrayTest(stat, k - 1, float(chi2.sf(stat, k - 1)), groups, cause, rho)
