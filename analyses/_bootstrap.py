"""Seeded, reproducible bootstrap of the Turnbull NPMLE over both cores.

Each draw b has its own random stream, child b of ``SeedSequence(seed)``, so the results do not
depend on the number of workers or their timing (``docs/r-conventions.md``).  A draw resamples
patients (a multinomial over the unique intervals, which is the same thing) and refits the NPMLE
warm-started from the full-data fit.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

import numpy as np

from toh.analyses._turnbull import TurnbullFit, turnbull

__all__ = ["bootstrap_cdf"]


def _worker_start() -> None:
    """Make a worker end with its parent and stay quiet on Ctrl-C.

    Ctrl-C goes to the whole process group: the parent handles it (and terminates the pool),
    so a worker ignores SIGINT instead of printing a traceback; SIGTERM (what ``Pool.terminate``
    sends) ends it at once; and on Linux the kernel sends it SIGTERM when the parent dies, even
    by SIGKILL, so no worker outlives the command.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's terminate() still ends the pool
        pass


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
    tol: float = 1e-8, workers: int | None = None, weights: np.ndarray | None = None,
) -> np.ndarray:
    """F(times) in each of ``draws`` bootstrap samples (a draws x len(times) array).

    ``weights`` (default 1 each) are counts of patients per row: rows collapsed to distinct
    intervals with their counts (a site's bundle, or counts summed over sites) give the draws
    of the rows themselves.
    """
    w = np.ones(len(lo)) if weights is None else np.asarray(weights, dtype=float)
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w, minlength=len(pairs)).astype(float)
    children = np.random.SeedSequence(seed).spawn(draws)
    workers = workers or min(2, os.cpu_count() or 1)
    # Below a few thousand draw-intervals the process start-up costs more than it saves.
    if workers == 1 or draws * len(pairs) < 20_000:
        return _draws((pairs[:, 0], pairs[:, 1], counts, fit, times, children, tol))
    chunks = np.array_split(np.arange(draws), workers)
    jobs = [(pairs[:, 0], pairs[:, 1], counts, fit, times, [children[i] for i in chunk], tol) for chunk in chunks]
    # Pool's context manager terminates the workers however the block ends (an error, Ctrl-C,
    # SIGTERM turned into an exception by the command line), so none is left running.
    with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_start) as pool:
        return np.vstack(pool.map(_draws, jobs))
