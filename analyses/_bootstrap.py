"""Seeded, reproducible bootstrap of the Turnbull NPMLE over both cores.

Each draw b has its own random stream, child b of ``SeedSequence(seed)``, so the results do not
depend on the number of workers or their timing (``docs/r-conventions.md``).  A draw resamples
patients (a multinomial over the unique intervals, which is the same thing) and refits the NPMLE
warm-started from the full-data fit.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from toh.analyses._turnbull import TurnbullFit, turnbull

__all__ = ["bootstrap_cdf"]


def _draws(args: tuple) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # one BLAS thread per worker: the workers share two cores
        return _draws_in_worker(args)


def _draws_in_worker(args: tuple) -> np.ndarray:
    lo, hi, counts, start, times, seeds, tol = args
    total = int(counts.sum())
    prob = counts / total
    out = np.empty((len(seeds), len(times)))
    for row, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(total, prob)
        fit = turnbull(lo, hi, weights, tol=tol, start=start)
        out[row] = fit.cdf(times)
    return out


def bootstrap_cdf(
    lo: np.ndarray, hi: np.ndarray, fit: TurnbullFit, times: np.ndarray, draws: int, seed: int,
    tol: float = 1e-8, workers: int | None = None,
) -> np.ndarray:
    """F(times) in each of ``draws`` bootstrap samples (a draws x len(times) array)."""
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), minlength=len(pairs)).astype(float)
    children = np.random.SeedSequence(seed).spawn(draws)
    workers = workers or min(2, os.cpu_count() or 1)
    # Below a few thousand draw-intervals the process start-up costs more than it saves.
    if workers == 1 or draws * len(pairs) < 20_000:
        return _draws((pairs[:, 0], pairs[:, 1], counts, fit, times, children, tol))
    chunks = np.array_split(np.arange(draws), workers)
    jobs = [(pairs[:, 0], pairs[:, 1], counts, fit, times, [children[i] for i in chunk], tol) for chunk in chunks]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return np.vstack(list(pool.map(_draws, jobs)))
