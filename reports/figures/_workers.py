"""Figures written by two processes at once: the parent draws every other figure while a forked
worker draws the rest.

Each figure is drawn from scratch in its own :class:`matplotlib.figure.Figure` under the house
style, so a figure's bytes do not depend on which process drew it or on what was drawn before
(``tests/reports/test_figures.py`` compares the files of one and of two processes).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path

from toh.cohort.workers import worker_start

__all__ = ["write_split"]

#: The jobs of the current :func:`write_split`, read by the forked worker (fork copies them: a
#: figure's drawing function, a closure over the analysis, is never pickled).
_JOBS: list[Callable[[], list[Path]]] = []

#: Fewer figures than this are drawn in one process: forking and ending a worker costs about 0.1 s.
_MIN_SPLIT = 4


def _run(indices: list[int]) -> list[list[str]]:
    return [[str(path) for path in _JOBS[i]()] for i in indices]


def write_split(jobs: list[Callable[[], list[Path]]], workers: int) -> list[list[Path]]:
    """Run ``jobs`` (each writes one figure's files and returns their paths), the odd-numbered
    ones in a forked worker when ``workers`` is 2 or more; return their paths in job order.

    An error in the worker is raised here; the worker is ended however this returns.
    """
    global _JOBS
    if workers < 2 or len(jobs) < _MIN_SPLIT:
        return [job() for job in jobs]
    theirs = list(range(1, len(jobs), 2))
    _JOBS = jobs
    pool = multiprocessing.get_context("fork").Pool(1, initializer=worker_start)
    try:
        pending = pool.apply_async(_run, (theirs,))
        pool.close()
        done = {i: jobs[i]() for i in range(0, len(jobs), 2)}
        done.update({i: [Path(p) for p in paths] for i, paths in zip(theirs, pending.get())})
        pool.join()
    finally:
        pool.terminate()
        _JOBS = []
    return [done[i] for i in range(len(jobs))]
