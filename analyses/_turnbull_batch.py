"""Bootstrap refits of the Turnbull NPMLE solved together, "in lockstep".

A bootstrap draw refits the NPMLE on the same rows (runs of innermost intervals, set up once)
with other weights, and its Newton phase (``_turnbull._newton_step`` with ``cumulative=True``)
takes a few steps of a few small solves: a draw alone is mostly numpy's per-call overhead. Here
B draws take those steps together: masses, gradients and covered masses are (B, ...) arrays
computed elementwise, by cumulative sums along each draw's own axis and by ``bincount`` with an
offset per draw; the Laplacians of the Newton models are stacked (B x n x n, with n = m - 1 for
m innermost intervals whatever the draw's support, unused nodes padded with the identity) and
solved by one ``np.linalg.solve`` on the stack, each matrix by its own LAPACK call.

**Determinism.** No operation mixes draws: no matrix product across the batch (BLAS may split
a sum differently for another batch size), only elementwise operations, reductions along a
draw's own axis, ``bincount`` (which adds in input order, draw by draw) and stacked solves of
matrices whose size depends on the problem alone. So a draw's masses are the same to the last
bit whichever draws share its batch, and however many there are (tested).

**Same criterion.** Each lockstep iteration is the fast Newton step of ``_maximise`` (active set:
every point the model makes negative leaves; backtracking line search on ``gain``) with its
acceptance rule (KKT below 0.9 of the current one, or a gain above 1e-9 N). A draw leaves the
lockstep when its KKT measure is at most ``tol``; a draw whose step fails or is not accepted, or
which is still moving after ``LOCKSTEP_STEPS`` steps, is finished by ``_maximise(..., cumulative=True)``
from where it stands, so every draw meets the criterion of a one-at-a-time refit.  Above
``LOCKSTEP_MAX_INTERVALS`` innermost intervals every draw is refitted that way from the start.
"""

from __future__ import annotations

import numpy as np

from toh.analyses._turnbull import _maximise, _Problem

__all__ = ["refit_draws"]

#: lockstep Newton steps before a draw still moving is finished one at a time
LOCKSTEP_STEPS = 25
#: innermost intervals above which the draws are refitted one at a time: the stacked systems
#: are m - 1 square whatever a draw's support, and at some 120 intervals (a synthetic registry
#: with quarter days) the lockstep no longer paid; registries of 1,000 to 100,000 patients
#: with times in days have 38 to 74
LOCKSTEP_MAX_INTERVALS = 100


class _Draws:
    """B weightings of the same rows: row i covers innermost intervals ``first[i]..last[i]``."""

    def __init__(self, first: np.ndarray, last: np.ndarray, weights: np.ndarray, m: int) -> None:
        self.first, self.last, self.m = first, last, m
        self.w = weights
        self.observed = weights > 0  # rows a one-at-a-time refit keeps
        self.n = weights.sum(axis=1)  # whole counts: exact in any order
        self.root_w = np.sqrt(weights)

    def take(self, rows: np.ndarray) -> _Draws:
        """The draws ``rows`` of this batch."""
        part = object.__new__(_Draws)
        part.first, part.last, part.m = self.first, self.last, self.m
        part.w, part.observed, part.n, part.root_w = self.w[rows], self.observed[rows], self.n[rows], self.root_w[rows]
        return part

    def _offsets(self, size: int) -> np.ndarray:
        return (np.arange(len(self.w)) * size)[:, None]

    def covered(self, p: np.ndarray) -> np.ndarray:
        """(A p)_i of every row and draw, from the cumulative masses."""
        cum = np.zeros((len(p), self.m + 1))
        cum[:, 1:] = np.cumsum(p, axis=1)
        return cum[:, self.last + 1] - cum[:, self.first]

    def gradient(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """d_j = sum_i w_i A_ij / (A p)_i and A p; rows a draw did not sample add exact zeros."""
        ap = self.covered(p)
        c = np.where(self.observed, self.w / ap, 0.0)
        size = self.m + 1
        off = self._offsets(size)
        count = len(p) * size
        diff = (np.bincount((self.first + off).ravel(), c.ravel(), count)
                - np.bincount((self.last + 1 + off).ravel(), c.ravel(), count)).reshape(len(p), size)
        return np.cumsum(diff[:, :-1], axis=1), ap

    def gain(self, p: np.ndarray, q: np.ndarray, ap: np.ndarray) -> np.ndarray:
        """loglik(q) - loglik(p) of each draw (``ap`` = A p), -inf where q empties an observed row."""
        change = self.covered(q - p) / ap
        bad = np.any(self.observed & ((change <= -1) | ~np.isfinite(change)), axis=1)
        terms = np.where(self.observed, self.w * np.log1p(np.where(self.observed, change, 0.0)), 0.0)
        return np.where(bad, -np.inf, terms.sum(axis=1))

    def kkt(self, ratio: np.ndarray, p: np.ndarray, tol: float) -> np.ndarray:
        """``_Problem.kkt_of`` of each draw."""
        on_support = np.max(np.where(p > tol, np.abs(ratio), 0.0), axis=1)
        return np.maximum(np.maximum(on_support, np.max(ratio, axis=1)), 0.0)


def _solve_stack(matrices: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each system on its own (one LAPACK call per matrix); ok = False where one is singular."""
    ok = np.ones(len(matrices), bool)
    try:
        return np.linalg.solve(matrices, rhs[..., None])[..., 0], ok
    except np.linalg.LinAlgError:  # one singular matrix fails the whole stack: solve them singly
        out = np.zeros_like(rhs)
        for i in range(len(matrices)):
            try:
                out[i] = np.linalg.solve(matrices[i], rhs[i])
            except np.linalg.LinAlgError:
                ok[i] = False
        return out, ok


def _model_solutions(draws: _Draws, support: np.ndarray, scale: np.ndarray,
                     target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_turnbull._cumulative_solve`` of each draw on its ``support`` (a B x m mask).

    The draw's k support points give nodes 0..k (F_0 = 0, F_k = 1) and k - 1 free ones, 1..k-1,
    which become unknowns 0..k-2 of an (m - 1) x (m - 1) system; its other unknowns (nodes no
    row starts or ends at) are the identity, with right-hand side 0.  The two fixed nodes go to
    a spare last row and column, left out of the solve (a row ending at node k puts s^2 on the
    right-hand side instead).  Returns the masses on the full grid (0 off the support) and
    ok = False where the system is singular (the one-at-a-time refit falls back there).
    """
    count, m = support.shape
    rank = np.zeros((count, m + 1), np.int64)
    rank[:, 1:] = np.cumsum(support, axis=1)
    k = rank[:, m:]
    a, b = rank[:, draws.first], rank[:, draws.last + 1]
    keep = (b > a) & (scale > 0)
    squares = np.where(keep, scale * scale, 0.0)
    cross = np.where(keep, scale * target, 0.0)
    spare = m - 1
    ends = b == k
    a = np.where(keep & (a > 0), a - 1, spare)  # rows not kept weigh 0 there
    b = np.where(keep & ~ends, b - 1, spare)
    # the Laplacian: -s^2 at (a, b) and (b, a), +s^2 at (a, a) and (b, b), summed row by row:
    # W, the weights of the edges a -> b, then L = diag(degree) - W - W'
    edges = np.bincount((a * m + b + (np.arange(count) * (m * m))[:, None]).ravel(), squares.ravel(),
                        count * m * m).reshape(count, m, m)
    laplacian = -(edges + edges.transpose(0, 2, 1))
    node = np.arange(m)
    laplacian[:, node, node] = (np.bincount((np.concatenate([a, b], axis=1) + (np.arange(count) * m)[:, None]).ravel(),
                                            np.concatenate([squares, squares], axis=1).ravel(), count * m)
                                .reshape(count, m) - 2 * edges[:, node, node])
    rhs = np.bincount((np.concatenate([b, a], axis=1) + (np.arange(count) * m)[:, None]).ravel(),
                      np.concatenate([cross, np.where(ends, squares, 0.0) - cross], axis=1).ravel(),
                      count * m).reshape(count, m)[:, :spare]
    inner = np.arange(spare)
    used = inner[None, :] < k - 1
    diagonal = np.where(used, laplacian[:, inner, inner], 1.0)
    ok = np.all(diagonal > 0, axis=1)
    root = np.sqrt(np.where(ok[:, None], diagonal, 1.0))
    inverse = 1.0 / root
    system = laplacian[:, :spare, :spare] * inverse[:, :, None] * inverse[:, None, :]
    system[:, inner, inner] = np.where(used, system[:, inner, inner], 1.0)
    if not ok.all():
        system[~ok] = np.eye(spare)
    free, solved = _solve_stack(system, rhs * inverse)
    free *= inverse
    ok &= solved & np.all(np.isfinite(free), axis=1)
    cumulative = np.ones((count, m + 1))
    cumulative[:, 0] = 0.0
    cumulative[:, 1:m] = np.where(used, free, 1.0)
    before = rank[:, :m]  # support points before each point: its mass is F_(r+1) - F_r
    draw = np.arange(count)[:, None]
    mass = cumulative[draw, before + 1] - cumulative[draw, before]
    return np.where(support, mass, 0.0), ok


def _newton_steps(draws: _Draws, p: np.ndarray, d: np.ndarray, ap: np.ndarray,
                  tol: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fast Newton step of each draw (``_newton_step``, ``ratio_test=False``): the new masses,
    their gain over ``p``, and ok = False where there is none (the draw goes on alone)."""
    ratio = d / draws.n[:, None] - 1.0
    support = (p > tol * 1e-3) | (ratio > tol)
    scale = np.where(draws.observed, draws.root_w / ap, 0.0)
    target = 2.0 * draws.root_w
    ok = np.all(np.isfinite(d), axis=1) & np.all(~draws.observed | (ap > 0), axis=1)
    solution = np.zeros_like(p)
    pending = np.flatnonzero(ok)
    while len(pending):  # the active set: every point a model makes negative leaves, then resolve
        sub = draws.take(pending)
        masses, solved = _model_solutions(sub, support[pending], scale[pending], target[pending])
        ok[pending[~solved]] = False
        solution[pending] = masses
        blocked = support[pending] & (masses < 0) & solved[:, None]
        support[pending] &= ~blocked
        pending = pending[blocked.any(axis=1)]
    direction = solution - p
    newton, gain = p.copy(), np.full(len(p), -np.inf)
    searching, step = np.flatnonzero(ok), 1.0
    for _ in range(40):  # backtracking, halving the step of every draw not yet improved
        if not len(searching):
            break
        trial = np.clip(p[searching] + step * direction[searching], 0.0, None)
        trial /= trial.sum(axis=1)[:, None]
        gained = draws.take(searching).gain(p[searching], trial, ap[searching])
        better = gained > 0
        newton[searching[better]], gain[searching[better]] = trial[better], gained[better]
        searching = searching[~better]
        step /= 2
    ok[searching] = False
    return newton, gain, ok


def refit_draws(first: np.ndarray, last: np.ndarray, weights: np.ndarray, p0: np.ndarray, tol: float,
                steps: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit the NPMLE of B draws from ``p0``: Newton steps in lockstep, then any draw not yet
    at KKT <= ``tol`` alone by ``_maximise(..., cumulative=True)``.

    Parameters
    ----------
    first, last
        Innermost intervals each row covers (inclusive indices), the same for every draw.
    weights
        B x rows: the draws' counts per row (0 where a draw did not sample the row).
    p0
        The warm start (masses on the m innermost intervals).
    tol
        KKT tolerance (``_Problem.kkt_of``).
    steps
        Lockstep Newton steps before a draw still moving is finished alone (default
        ``LOCKSTEP_STEPS``, or 0 above ``LOCKSTEP_MAX_INTERVALS`` innermost intervals).

    Returns
    -------
    p, kkt, iterations
        B x m masses, and each draw's KKT measure and iterations (as ``_maximise`` counts them).
    """
    m = len(p0)
    if steps is None:
        steps = LOCKSTEP_STEPS if m <= LOCKSTEP_MAX_INTERVALS else 0
    everything = _Draws(first, last, np.asarray(weights, dtype=float), m)
    count = len(everything.w)
    p = np.tile(p0, (count, 1))
    kkt, iterations = np.full(count, np.inf), np.zeros(count, np.int64)
    alone = np.zeros(count, bool)
    moving = np.arange(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        d, ap = everything.gradient(p)
        for taken in range(steps + 1):
            draws = everything.take(moving)
            kkt[moving] = draws.kkt(d / draws.n[:, None] - 1.0, p[moving], tol)
            going = ~(kkt[moving] <= tol)  # not nan: an emptied row (EM restores it alone)
            moving, d, ap, draws = moving[going], d[going], ap[going], draws.take(np.flatnonzero(going))
            if not len(moving) or taken == steps:
                break
            newton, gain, ok = _newton_steps(draws, p[moving], d, ap, tol)
            iterations[moving] += 1
            at_newton, ap_newton = draws.gradient(newton)
            better = draws.kkt(at_newton / draws.n[:, None] - 1.0, newton, tol) < 0.9 * kkt[moving]
            accepted = ok & np.all(~draws.observed | (ap_newton > 0), axis=1) & (better | (gain > 1e-9 * draws.n))
            alone[moving[~accepted]] = True
            moving = moving[accepted]
            p[moving] = newton[accepted]
            d, ap = at_newton[accepted], ap_newton[accepted]
        alone[moving] = True
        for row in np.flatnonzero(alone):
            keep = everything.observed[row]
            problem = _Problem(first[keep], last[keep], everything.w[row, keep], m)
            p[row], more = _maximise(problem, p[row], tol, 100_000, cumulative=True)
            kkt[row], iterations[row] = problem.kkt(p[row], tol), iterations[row] + more
    return p, kkt, iterations
