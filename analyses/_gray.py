"""Gray's K-sample test for equal cumulative incidence of one cause across groups.

Gray RJ (1988), "A class of K-sample tests for comparing the cumulative incidence of a competing
risk", Annals of Statistics 16:1141-1154: the score of each group is the weighted difference
between its observed cause-specific events and those expected under a common subdistribution
hazard, with weight (1 - F(t-))^rho; its variance is the paper's asymptotic estimate, with the
same correction for tied events as ``cmprsk::cuminc`` (which reports this test as ``Tests``).
Checked against cuminc's ``Tests`` (tests/analyses/reference/ref_gray.csv) in
tests/analyses/test_gray.py.  One stratum; groups sorted as R sorts factor levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from toh.analyses.result import SummaryDisplay

__all__ = ["GrayTest", "gray_test"]


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
    """Add one event time's contribution of the cause's events to the variance sums (in place)."""
    for k in np.flatnonzero(at_risk > 0):
        h = 1.0 - (1.0 - f_after) / s_after[k] if s_after[k] > 0 else 1.0
        tie = 1.0 - (d_cause - 1.0) / (total * s_before[k] - 1.0) if d_cause > 1 else 1.0
        w = tie * s_before[k] * d_cause / (total * at_risk[k])
        b = a[:, k] - h * c[:, k]
        v3[k] += h * h * w
        v2[:, k] += b * h * w
        v += np.outer(b, b) * w


def gray_test(time: np.ndarray, status: np.ndarray, group: np.ndarray, cause: int = 1, rho: float = 0.0) -> GrayTest:
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

    Returns
    -------
    GrayTest
        NaN statistic when the variance is singular (e.g. no event of the cause).
    """
    time = np.asarray(time, dtype=float)
    status = np.asarray(status)
    labels, g = np.unique(np.asarray(group).astype(str), return_inverse=True)
    k = len(labels)
    if k < 2:
        raise ValueError("Gray's test needs at least two groups")
    kind = np.where(status == cause, 1, np.where(status == 0, 0, 2))
    order = np.argsort(time, kind="stable")
    time, kind, g = time[order], kind[order], g[order]
    at_risk = np.bincount(g, minlength=k).astype(float)
    s_before, f_before = np.ones(k), np.zeros(k)  # group-wise all-cause KM and cause CIF just before t
    pooled = 0.0  # F(t-) of the pooled subdistribution
    score, v = np.zeros(k), np.zeros((k, k))
    c, v2, v3 = np.zeros((k, k)), np.zeros((k, k)), np.zeros(k)
    starts = np.flatnonzero(np.r_[True, time[1:] != time[:-1]])
    # per distinct time and group: events of the cause, competing events, everyone leaving
    # (counted once for all times: whole numbers, so the same values the loop used to count)
    slot = (np.cumsum(np.r_[True, time[1:] != time[:-1]]) - 1) * k + g
    size = len(starts) * k
    events = np.bincount(slot[kind == 1], minlength=size).reshape(-1, k).astype(float)
    competing = np.bincount(slot[kind == 2], minlength=size).reshape(-1, k).astype(float)
    leaving = np.bincount(slot, minlength=size).reshape(-1, k)
    for d1, d2, gone in zip(events, competing, leaving):
        n1, n2 = d1.sum(), d2.sum()
        if n1 or n2:
            live = at_risk > 0
            safe = np.where(live, at_risk, 1.0)
            s_after = np.where(live, s_before * (at_risk - d1 - d2) / safe, s_before)
            f_after = np.where(live, f_before + s_before * d1 / safe, f_before)
            # a group nobody is at risk in any more is skipped, as cmprsk's crst does (its
            # survival may be 0 there: divide only where the group is at risk, no 0/0)
            weight_k = np.divide(at_risk, s_before, out=np.zeros(k), where=live)
            total = weight_k.sum()
            expected_k = np.divide(at_risk * (1.0 - f_before), s_before, out=np.zeros(k), where=live)
            pooled_after = pooled + n1 / total
            fb = (1.0 - pooled) ** rho
            a = -fb * np.outer(weight_k, weight_k) / total
            a[np.diag_indices(k)] = fb * weight_k * (1.0 - weight_k / total)
            c += a * n1 / (total * (1.0 - pooled))
            score += np.where(live, fb * (d1 - n1 * expected_k / expected_k.sum()), 0.0)
            if n1:
                _variance_step(a, c, at_risk, s_before, s_after, pooled_after, n1, total, v, v2, v3)
            for j in np.flatnonzero((s_after > 0) & (d2 > 0)):
                h = (1.0 - pooled_after) / s_after[j]
                tie = 1.0 - (d2[j] - 1.0) / (at_risk[j] - 1.0) if d2[j] > 1 else 1.0
                w = tie * s_before[j] ** 2 * d2[j] / at_risk[j] ** 2
                b = h * c[:, j]
                v3[j] += h * h * w
                v2[:, j] -= b * h * w
                v += np.outer(b, b) * w
            s_before, f_before, pooled = s_after, f_after, pooled_after
        at_risk -= gone
    v += (c * v3) @ c.T + c @ v2.T + v2 @ c.T
    s, vs = score[: k - 1], v[: k - 1, : k - 1]
    try:
        stat = float(s @ np.linalg.solve(vs, s))
    except np.linalg.LinAlgError:
        stat = float("nan")
    return GrayTest(stat, k - 1, float(chi2.sf(stat, k - 1)), tuple(str(x) for x in labels), cause, rho)
