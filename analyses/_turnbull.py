"""Turnbull's NPMLE for interval-censored times on half-open intervals (lo, hi].

Written here because no maintained Python library fits it to the precision we need (see
``docs/r-conventions.md``): R's ``survfit(type = "interval2")`` stops its EM at 5e-5, and
lifelines uses closed intervals with a loose tolerance.

The data are collapsed to unique (lo, hi] pairs with counts.  The NPMLE puts its mass on the
innermost intervals (a left end immediately followed by a right end when all ends are sorted,
right ends first on ties, since (a, b] and (b, c] do not meet).  Each observed interval covers a
contiguous run of innermost intervals, so one EM (self-consistency) step is two cumulative sums.
Each iteration first tries a constrained Newton step on the support (a quadratic model of the
log-likelihood maximised over the simplex, with a line search), which converges in a handful of
iterations; where it cannot improve the likelihood, SQUAREM-accelerated EM (Varadhan and Roland
2008, scheme S3, with backtracking) takes over.  The iteration stops when the
KKT conditions of the NPMLE hold to ``tol``: every gradient component
``d_j = sum_i w_i A_ij / (A p)_i`` is at most ``N (1 + tol)`` (so the log-likelihood is within
``N tol`` of its maximum, by concavity) and, where the mass exceeds ``tol``, at least
``N (1 - tol)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.analyses.result import SummaryDisplay

__all__ = ["TurnbullFit", "turnbull", "innermost_intervals"]


@dataclass(frozen=True)
class TurnbullFit(SummaryDisplay):
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

    def __repr__(self) -> str:
        return (f"<TurnbullFit: {int(np.sum(self.p > 0))} of {len(self.p)} innermost intervals with mass, "
                f"loglik {self.loglik:.6g}, KKT {self.kkt:.1e} after {self.iterations} iterations>")

    def survival(self, t: np.ndarray | float) -> np.ndarray:
        """S(t) = 1 - F(t)."""
        return 1.0 - self.cdf(t)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per innermost interval (left, time]: ``left``, ``time`` (its right end),
        ``mass`` (the probability the NPMLE puts in it) and ``estimate`` (S(time), after it).

        The NPMLE does not say where in an interval the mass lies; between intervals S is flat.
        """
        return pd.DataFrame({"left": self.left, "time": self.right, "mass": self.p,
                             "estimate": 1.0 - np.cumsum(self.p)})


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
        self.root_w = np.sqrt(w)

    def covered(self, p: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(p)])
        return cum[self.last + 1] - cum[self.first]

    def gradient(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ap = self.covered(p)
        c = self.w / ap
        # two bincounts instead of np.add.at into one array: equal up to rounding, several times faster
        diff = np.bincount(self.first, c, self.m + 1) - np.bincount(self.last + 1, c, self.m + 1)
        return np.cumsum(diff[:-1]), ap

    def em(self, p: np.ndarray) -> np.ndarray:
        d, _ = self.gradient(p)
        return p * d / self.n

    def loglik(self, p: np.ndarray) -> float:
        """Log-likelihood; -inf where an observation's interval has no mass (or p is not finite)."""
        ap = self.covered(p)
        if not np.all(np.isfinite(ap)) or np.any(ap <= 0):
            return -np.inf
        return float(np.sum(self.w * np.log(ap)))

    def gain(self, p: np.ndarray, q: np.ndarray) -> float:
        """loglik(q) - loglik(p), summed from small terms so that it survives rounding near the optimum."""
        ap = self.covered(p)
        change = self.covered(q - p) / ap
        if np.any(change <= -1) or not np.all(np.isfinite(change)):
            return -np.inf
        return float(np.sum(self.w * np.log1p(change)))

    def kkt(self, p: np.ndarray, tol: float) -> float:
        d, _ = self.gradient(p)
        return self.kkt_of(d / self.n - 1.0, p, tol)

    @staticmethod
    def kkt_of(ratio: np.ndarray, p: np.ndarray, tol: float) -> float:
        """The KKT measure from the gradient ratio ``d / N - 1`` at ``p``."""
        # Mass the EM is still draining from a point with d_j < N decays only geometrically;
        # it counts as support once it exceeds tol (below that it moves F by less than tol).
        # A NaN (masses a failed step left undefined) is never convergence: np.max passes it on.
        support = p > tol
        measure = np.max(np.concatenate([np.abs(ratio[support]), ratio, [0.0]]))
        return float("inf") if np.isnan(measure) or np.isnan(p).any() else float(measure)


def _collapsed_model(problem: _Problem, support: np.ndarray, scale: np.ndarray,
                     target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the Newton model ||X q - t||^2 merged by their pattern on the support.

    Row i of X is ``scale_i`` times the indicator of the support points its interval covers, a
    contiguous run [a_i, b_i) of the support.  Rows with the same run differ only in scale, and
    sum_i (s_i v'q - t_i)^2 = S (v'q)^2 - 2 T v'q + const with S = sum s_i^2, T = sum s_i t_i: one
    row sqrt(S) v with target T / sqrt(S) has the same minimiser.  So the least squares runs on
    at most one row per distinct run (tens to a few hundred) instead of one per interval
    (thousands in a large registry); rows covering no support point are constant and dropped.
    """
    k = len(support)
    a = np.searchsorted(support, problem.first, "left")
    b = np.searchsorted(support, problem.last, "right")
    keep = (b > a) & (scale > 0)
    runs, inverse = np.unique(a[keep] * (k + 1) + b[keep], return_inverse=True)
    squares = np.bincount(inverse, weights=scale[keep] ** 2, minlength=len(runs))
    cross = np.bincount(inverse, weights=scale[keep] * target[keep], minlength=len(runs))
    root = np.sqrt(squares)
    points = np.arange(k)
    start, stop = runs // (k + 1), runs % (k + 1)
    x = ((points >= start[:, None]) & (points < stop[:, None])) * root[:, None]
    return x, cross / root


def _cumulative_solve(problem: _Problem, support: np.ndarray, scale: np.ndarray,
                      target: np.ndarray) -> np.ndarray | None:
    """The minimiser of the Newton model ||X q - t||^2 subject to sum(q) = 1, by its normal
    equations in cumulative coordinates F_j = q_0 + ... + q_(j-1) (F_0 = 0, F_k = 1).

    Row i covers the run [a_i, b_i) of the support, so (X q)_i = s_i (F_(b_i) - F_(a_i)): two
    terms instead of a run, and the normal matrix is a weighted graph Laplacian on the k + 1
    nodes, built by counting in O(rows) and solved (after symmetric diagonal scaling) in
    O(k^3).  The bootstrap uses it: tens of times faster than QR least squares on the rows,
    the same minimiser up to rounding.  None when the system is singular (a node no run starts
    or ends at, possible in a bootstrap draw): the caller falls back to least squares.
    """
    k = len(support)
    a = np.searchsorted(support, problem.first, "left")
    b = np.searchsorted(support, problem.last, "right")
    keep = (b > a) & (scale > 0)
    a, b, s = a[keep], b[keep], scale[keep]
    squares, cross = s * s, s * target[keep]
    size = k + 1
    edges = np.bincount(a * size + b, squares, size * size).reshape(size, size)  # a < b: upper triangle
    laplacian = -(edges + edges.T)
    laplacian[np.diag_indices(size)] = edges.sum(axis=0) + edges.sum(axis=1)
    rhs = np.bincount(b, cross, size) - np.bincount(a, cross, size)
    inner = laplacian[1:k, 1:k]
    diag = np.sqrt(np.diag(inner))
    if not np.all(diag > 0):
        return None
    try:
        free = np.linalg.solve(inner / diag[:, None] / diag[None, :], (rhs[1:k] - laplacian[1:k, k]) / diag) / diag
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(free)):
        return None
    return np.diff(np.concatenate([[0.0], free, [1.0]]))


def _newton_step(problem: _Problem, p: np.ndarray, tol: float, ratio_test: bool = False,
                 cumulative: bool = False,
                 gradient: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray | None:
    """One constrained Newton step on the support (plus every point whose gradient exceeds N).

    Around p, with u_i = (A q)_i / (A p)_i, the log-likelihood is approximated by
    sum_i w_i [(u_i - 1) - (u_i - 1)^2 / 2]  =  2 d'q - q'Mq / 2 + const,  M = A' diag(w / (Ap)^2) A,
    maximised subject to sum(q) = 1 and q >= 0 by a small active-set loop (points whose
    solution is negative leave the support).  A backtracking line search from p towards q keeps
    the likelihood rising; None when no step improves it.  ``cumulative``: solve the model by
    :func:`_cumulative_solve` (least squares where that is singular); ``gradient``: that of p, if known.
    """
    d, ap = gradient if gradient is not None else problem.gradient(p)
    if not np.all(np.isfinite(d)) or not np.all(ap > 0):
        return None  # an observed interval without mass: no quadratic model here; EM restores it
    support = np.flatnonzero((p > tol * 1e-3) | (d / problem.n - 1.0 > tol))
    root_w = problem.root_w
    target = 2.0 * root_w
    solution = np.zeros(0)
    for _ in range(len(support)):
        # the model is ||X q - 2 sqrt(w)||^2 with X = A scaled by sqrt(w) / (A p); solve it with
        # sum(q) = 1 by the null-space method (q = 1/k + Z z), by least squares rather than the
        # normal equations in q, whose conditioning is too poor for large cohorts (the bootstrap's
        # cumulative coordinates turn them into a Laplacian, checked against this solve in tests)
        k = len(support)
        if k == 1:
            solution = np.ones(1)
            break
        fast = _cumulative_solve(problem, support, root_w / ap, target) if cumulative else None
        if fast is not None:
            solution = fast
        else:
            x, rhs = _collapsed_model(problem, support, root_w / ap, target)
            base = np.full(k, 1.0 / k)
            null = np.vstack([np.eye(k - 1), -np.ones((1, k - 1))])
            try:
                z = np.linalg.lstsq(x @ null, rhs - x @ base, rcond=None)[0]
            except np.linalg.LinAlgError:  # LAPACK gave up on an ill-conditioned model: EM takes over
                return None
            solution = base + null @ z
        # ratio_test: a point without mass that the model would make negative cannot enter (drop
        # it and resolve); otherwise every point the model makes negative leaves the support
        blocked = ((p[support] <= 0) if ratio_test else True) & (solution < 0)
        if not blocked.any():
            break
        support = support[~blocked]
    direction = np.zeros_like(p)
    direction[support] = solution
    direction -= p
    # ratio test: go towards the model's optimum only as far as every mass stays >= 0; the
    # point that reaches zero leaves the support at the next step (a primal active-set step)
    shrinking = direction < 0
    limit = float(np.min(p[shrinking] / -direction[shrinking])) if shrinking.any() and ratio_test else 1.0
    step = min(1.0, limit)
    for _ in range(40):
        trial = np.clip(p + step * direction, 0.0, None)
        trial /= trial.sum()
        if problem.gain(p, trial) > 0:
            return trial
        step /= 2
    return None


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
    # one BLAS thread for a large problem: the least squares are small (at most a few thousand
    # rows by a hundred), and on a busy machine two spinning BLAS threads made the fit of 100,000
    # patients 15 times slower (3.4 s of CPU instead of 0.22 s); the masses are the same to the
    # last bit.  Not below 1,000 intervals, where limiting (50 ms the first time) costs more.
    if len(counts) >= 1000:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            p, iterations = _maximise(problem, p, tol, max_iter)
    else:
        p, iterations = _maximise(problem, p, tol, max_iter)
    kkt = problem.kkt(p, tol)
    if kkt > tol:
        _warn_unconverged(iterations, kkt, tol)
    return TurnbullFit(left, right, p, iterations, kkt, problem.loglik(p))


def _warn_unconverged(iterations: int, kkt: float, tol: float) -> None:
    import warnings

    from toh.cohort.errors import StatisticalWarning

    warnings.warn(f"Turnbull NPMLE stopped after {iterations} iterations with KKT {kkt:.2e} > {tol:.0e}",
                  StatisticalWarning, stacklevel=3)


def _maximise(problem: _Problem, p: np.ndarray, tol: float, max_iter: int,
              cumulative: bool = False) -> tuple[np.ndarray, int]:
    """Newton steps, then SQUAREM-accelerated EM, from ``p`` until the KKT conditions hold to
    ``tol`` (or ``max_iter`` iterations); returns the masses and the iterations taken."""
    iterations = 0
    known = None  # the gradient at p when an accepted Newton step computed it already
    while iterations < max_iter:
        gradient = known if known is not None else problem.gradient(p)
        known = None
        ratio = gradient[0] / problem.n - 1.0
        current = _Problem.kkt_of(ratio, p, tol)
        if current <= tol:
            break
        # EM cannot move mass onto a point that has none; where such a point would raise the
        # likelihood (gradient above N), give it a little mass back.
        # Newton steps while they make progress: first the fast one (every point the model makes
        # negative leaves at once), then the careful one (ratio test, one point at a time); when
        # both stall, EM finishes
        progressed = False
        for careful in (False, True):
            newton = _newton_step(problem, p, tol, ratio_test=careful, cumulative=cumulative, gradient=gradient)
            iterations += 1
            if newton is None:
                continue
            at_newton = problem.gradient(newton)
            # a step that leaves an observed interval without mass as the cumulative sums see it
            # (its masses ~1e-17, lost to rounding) would make the next gradient infinite
            if np.all(at_newton[1] > 0) and (_Problem.kkt_of(at_newton[0] / problem.n - 1.0, newton, tol) < 0.9 * current
                                             or problem.gain(p, newton) > 1e-9 * problem.n):
                p, known, progressed = newton, at_newton, True
                break
        if progressed:
            continue
        starved = (p <= tol) & (ratio > tol)
        if starved.any():
            p = _project(p + np.where(starved, 1.0 / len(p), 0.0))
        p1 = problem.em(p)
        p2 = problem.em(p1)
        r, v = p1 - p, p2 - 2 * p1 + p
        norm_v = np.linalg.norm(v)
        iterations += 2
        if norm_v == 0:
            p = p2
            continue
        alpha = min(-1.0, -np.linalg.norm(r) / norm_v)
        candidate = p - 2 * alpha * r + alpha * alpha * v
        # SQUAREM backtracking: shorten the step until it stays a distribution (alpha = -1 is p2)
        while candidate.min() < 0 and alpha < -1.0:
            alpha = min(-1.0, (alpha - 1.0) / 2)
            candidate = p - 2 * alpha * r + alpha * alpha * v
        candidate = _project(candidate)
        if np.isfinite(problem.loglik(candidate)):
            candidate = problem.em(candidate)
            iterations += 1
            if problem.loglik(candidate) >= problem.loglik(p2):
                p = candidate
                continue
        p = p2
    return p, iterations
