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
        """One row: ``chisq, df, p, groups`` (comma-separated, in R's factor order), ``cause, rho``."""
        return pd.DataFrame({"chisq": [self.stat], "df": [self.df], "p": [self.p],
                             "groups": [", ".join(self.groups)], "cause": [self.cause], "rho": [self.rho]})


def _stratum(d1: np.ndarray, d2: np.ndarray, at_risk_all: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Score and variance of one stratum from its counts per distinct time (rows, increasing) and
    group (columns): events of the cause ``d1``, competing events ``d2``, patients at risk.

    cmprsk's ``crst`` step by step over the times with an event, in plain Python numbers (a few
    groups: numpy's per-call cost would dominate).  A group nobody is at risk in any more (or
    never, in this stratum) is skipped, as ``crst`` does: its survival may be 0 there, so
    divisions are made only where the group is at risk."""
    k = d1.shape[1]
    groups = range(k)
    s_before, f_before = [1.0] * k, [0.0] * k  # group-wise all-cause KM and cause CIF just before t
    pooled = 0.0  # F(t-) of the pooled subdistribution
    score = [0.0] * k
    v = [[0.0] * k for _ in groups]
    c = [[0.0] * k for _ in groups]
    v2 = [[0.0] * k for _ in groups]
    v3 = [0.0] * k
    rows = np.flatnonzero((d1.sum(axis=1) + d2.sum(axis=1)) > 0)
    for d1_t, d2_t, at_risk in zip(d1[rows].tolist(), d2[rows].tolist(), at_risk_all[rows].tolist()):
        n1 = sum(d1_t)
        live = [at_risk[j] > 0 for j in groups]
        s_after = [s_before[j] * (at_risk[j] - d1_t[j] - d2_t[j]) / at_risk[j] if live[j] else s_before[j]
                   for j in groups]
        f_after = [f_before[j] + s_before[j] * d1_t[j] / at_risk[j] if live[j] else f_before[j] for j in groups]
        weight = [at_risk[j] / s_before[j] if live[j] else 0.0 for j in groups]
        total = sum(weight)
        expected = [at_risk[j] * (1.0 - f_before[j]) / s_before[j] if live[j] else 0.0 for j in groups]
        expected_sum = sum(expected)
        pooled_after = pooled + n1 / total
        fb = (1.0 - pooled) ** rho
        a = [[(fb * weight[i] * (1.0 - weight[i] / total)) if i == j else -fb * weight[i] * weight[j] / total
              for j in groups] for i in groups]
        scale = n1 / (total * (1.0 - pooled))
        for i in groups:
            row_c, row_a = c[i], a[i]
            for j in groups:
                row_c[j] += row_a[j] * scale
            if live[i]:
                score[i] += fb * (d1_t[i] - n1 * expected[i] / expected_sum)
        if n1:  # the cause's events
            for g in groups:
                if not live[g]:
                    continue
                h = 1.0 - (1.0 - pooled_after) / s_after[g] if s_after[g] > 0 else 1.0
                tie = 1.0 - (n1 - 1.0) / (total * s_before[g] - 1.0) if n1 > 1 else 1.0
                w = tie * s_before[g] * n1 / (total * at_risk[g])
                _add(v, v2, v3, [a[i][g] - h * c[i][g] for i in groups], g, h, w, 1.0)
        for g in groups:  # the competing events
            if s_after[g] > 0 and d2_t[g] > 0:
                h = (1.0 - pooled_after) / s_after[g]
                tie = 1.0 - (d2_t[g] - 1.0) / (at_risk[g] - 1.0) if d2_t[g] > 1 else 1.0
                w = tie * s_before[g] ** 2 * d2_t[g] / at_risk[g] ** 2
                _add(v, v2, v3, [h * c[i][g] for i in groups], g, h, w, -1.0)
        s_before, f_before, pooled = s_after, f_after, pooled_after
    cm, v2m = np.array(c), np.array(v2)
    variance = np.array(v) + (cm * np.array(v3)) @ cm.T + cm @ v2m.T + v2m @ cm.T
    return np.array(score), variance


def _add(v: list[list[float]], v2: list[list[float]], v3: list[float], b: list[float], g: int, h: float, w: float,
         sign: float) -> None:
    """One group's contribution to the variance sums (in place): v += w b b', v2[:, g] += sign h w b,
    v3[g] += h^2 w."""
    v3[g] += h * h * w
    hw = sign * h * w
    for i, bi in enumerate(b):
        v2[i][g] += bi * hw
        if bi:
            row, scaled = v[i], bi * w
            for j, bj in enumerate(b):
                row[j] += scaled * bj


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
    from scipy.stats import chi2
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
