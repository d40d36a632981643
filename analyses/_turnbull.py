"""Turnbull's NPMLE for interval-censored times on half-open intervals (lo, hi].

Written here because no maintained Python library fits it to the precision we need (see
``../shared/PITFALLS.md``): R's ``survfit(type = "interval2")`` stops its EM at 5e-5, and
lifelines uses closed intervals with a loose tolerance.

The data are collapsed to unique (lo, hi] pairs with counts.  The NPMLE puts its mass on the
innermost intervals (a left end immediately followed by a right end when all ends are sorted,
right ends first on ties, since (a, b] and (b, c] do not meet).  Each observed interval covers a
contiguous run of innermost intervals, so one EM (self-consistency) step is two cumulative sums.
SQUAREM (Varadhan and Roland 2008, scheme S3) accelerates it; the iteration stops when the
KKT conditions of the NPMLE hold to ``tol``: every gradient component
``d_j = sum_i w_i A_ij / (A p)_i`` is at most ``N (1 + tol)`` (so the log-likelihood is within
``N tol`` of its maximum, by concavity) and, where the mass exceeds ``tol``, at least
``N (1 - tol)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TurnbullFit", "turnbull", "innermost_intervals"]


@dataclass(frozen=True)
class TurnbullFit:
    """A fitted NPMLE: mass ``p`` on innermost intervals ``(left, right]``."""

    left: np.ndarray
    right: np.ndarray
    p: np.ndarray
    iterations: int
    kkt: float  # max |d_j / N - 1| over the support, and max(d_j / N - 1) elsewhere
    loglik: float

    def cdf(self, t: np.ndarray | float) -> np.ndarray:
        """F(t): the mass of innermost intervals whose right end is <= t."""
        cum = np.concatenate([[0.0], np.cumsum(self.p)])
        return cum[np.searchsorted(self.right, np.asarray(t, dtype=float), side="right")]


def innermost_intervals(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Innermost intervals (left, right] of half-open intervals (lo, hi]."""
    values = np.concatenate([hi, lo])
    is_left = np.concatenate([np.zeros(len(hi), bool), np.ones(len(lo), bool)])
    order = np.lexsort((is_left, values))  # by value; right ends (False) first on ties
    values, is_left = values[order], is_left[order]
    starts = np.flatnonzero(is_left[:-1] & ~is_left[1:])
    return values[starts], values[starts + 1]


def _spans(lo: np.ndarray, hi: np.ndarray, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last innermost interval inside each (lo, hi] (inclusive indices)."""
    first = np.searchsorted(left, lo, side="left")
    last = np.searchsorted(right, hi, side="right") - 1
    return first, last


class _Problem:
    def __init__(self, first: np.ndarray, last: np.ndarray, w: np.ndarray, m: int) -> None:
        self.first, self.last, self.w, self.m = first, last, w, m
        self.n = float(w.sum())

    def covered(self, p: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(p)])
        return cum[self.last + 1] - cum[self.first]

    def gradient(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ap = self.covered(p)
        c = self.w / ap
        diff = np.zeros(self.m + 1)
        np.add.at(diff, self.first, c)
        np.add.at(diff, self.last + 1, -c)
        return np.cumsum(diff[:-1]), ap

    def em(self, p: np.ndarray) -> np.ndarray:
        d, _ = self.gradient(p)
        return p * d / self.n

    def loglik(self, p: np.ndarray) -> float:
        return float(np.sum(self.w * np.log(self.covered(p))))

    def kkt(self, p: np.ndarray, tol: float) -> float:
        d, _ = self.gradient(p)
        ratio = d / self.n - 1.0
        # Mass the EM is still draining from a point with d_j < N decays only geometrically;
        # it counts as support once it exceeds tol (below that it moves F by less than tol).
        support = p > tol
        return float(max(np.max(np.abs(ratio[support]), initial=0.0), np.max(ratio, initial=0.0)))


def _project(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, None)
    return p / p.sum()


def turnbull(
    lo: np.ndarray,
    hi: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-8,
    max_iter: int = 100_000,
    start: TurnbullFit | None = None,
) -> TurnbullFit:
    """Fit the NPMLE of F from intervals (lo, hi] (``hi = inf`` for right-censoring).

    Parameters
    ----------
    lo, hi
        Interval ends, ``lo < hi``.  Duplicate pairs are fine (they are collapsed).
    weights
        Counts per row (default 1); zero-weight rows are ignored.
    tol
        KKT tolerance (see the module docstring).
    start
        A previous fit on the same intervals (e.g. the full-data fit for a bootstrap draw)
        to start from; its support must be the same innermost intervals.

    Returns
    -------
    TurnbullFit
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    w = np.ones(len(lo)) if weights is None else np.asarray(weights, dtype=float)
    if np.any(lo >= hi):
        raise ValueError("every interval must have lo < hi")
    keep = w > 0
    pairs, inverse = np.unique(np.column_stack([lo[keep], hi[keep]]), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w[keep], minlength=len(pairs))
    ulo, uhi = pairs[:, 0], pairs[:, 1]
    if start is not None:
        left, right = start.left, start.right
    else:
        left, right = innermost_intervals(ulo, uhi)
    first, last = _spans(ulo, uhi, left, right)
    problem = _Problem(first, last, counts, len(left))
    if start is not None and len(start.p) == len(left):
        p = _project(start.p + 1e-10)
    else:
        p = np.full(len(left), 1.0 / len(left))
    iterations = 0
    while iterations < max_iter:
        if problem.kkt(p, tol) <= tol:
            break
        p1 = problem.em(p)
        p2 = problem.em(p1)
        r, v = p1 - p, p2 - 2 * p1 + p
        norm_v = np.linalg.norm(v)
        iterations += 2
        if norm_v == 0:
            p = p2
            continue
        alpha = min(-1.0, -np.linalg.norm(r) / norm_v)
        candidate = _project(p - 2 * alpha * r + alpha * alpha * v)
        candidate = problem.em(candidate)
        iterations += 1
        p = candidate if problem.loglik(candidate) >= problem.loglik(p2) else p2
    return TurnbullFit(left, right, p, iterations, problem.kkt(p, tol), problem.loglik(p))
