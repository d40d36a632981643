"""Figures written by two processes at once, the worker started before the figures are known.

:func:`start_split` forks one worker, which warms up (imports matplotlib: some 0.4 s) while this
process goes on (a report builds its document, whose disclosure audit says what the figures
hide).  :meth:`Split.run` then sends the worker a small picklable payload; both processes make
the same job list from it (``make_jobs``: fork copies the drawing closures, nothing is pickled
but the payload and the paths) and claim jobs one at a time, in the order given, through a
counter they share, so the heaviest figure, claimed first, does not leave one process idle at
the end.  Each figure is drawn from scratch in its own :class:`matplotlib.figure.Figure` under
the house style, so its bytes do not depend on which process drew it or on what was drawn
before (``tests/reports/figures/test_figures.py`` compares the files of one and of two processes).

A task of this process (the report's PDF) can take a place in the order: this process runs it
when it claims that place (the worker passes over it); the task waits for each figure it needs
(:meth:`Split.run`'s ``ready``), drawing the next unclaimed figure itself while it waits, and
the worker goes on drawing the others.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from toh.cohort.workers import claim, worker_start

__all__ = ["Split", "TASK", "start_split", "write_split"]

Job = Callable[[], list[Path]]

#: Fewer jobs than this are run in one process: forking and ending a worker costs about 0.1 s.
_MIN_SPLIT = 4


#: The place of this process's own task in a claim order.
TASK = -1


def _claims(counter: Any, order: Sequence[int]) -> Iterator[int]:
    """The jobs of ``order`` no process has claimed yet, claimed one at a time."""
    while (number := claim(counter, len(order))) is not None:
        yield order[number]


def _run(jobs: list[Job], i: int, done: Any) -> list[Path]:
    paths = jobs[i]()
    done[i] = 1  # the files are written and closed
    return paths


def _serve(conn: Any, counter: Any, done: Any, make_jobs: Callable[[Any], list[Job]],
           warm: Callable[[], None] | None) -> None:
    """The worker: warm up, wait for the payload, run the jobs it claims, send back their paths
    (job index -> paths as text) or the error that stopped it."""
    worker_start()
    failed: BaseException | None = None
    try:
        if warm is not None:
            warm()
    except BaseException as exc:  # reported once the parent asks for work
        failed = exc
    message = conn.recv()
    if message is None:  # the parent needs no figures after all
        return
    payload, order = message
    try:
        if failed is not None:
            raise failed
        jobs = make_jobs(payload)
        conn.send(("done", {i: [str(p) for p in _run(jobs, i, done)] for i in _claims(counter, order) if i != TASK}))
    except BaseException as exc:
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class Split:
    """Jobs shared by this process and a forked worker (:func:`start_split`)."""

    def __init__(self, make_jobs: Callable[[Any], list[Job]], process: Any = None, conn: Any = None,
                 counter: Any = None, done: Any = None) -> None:
        self._make_jobs, self._process, self._conn = make_jobs, process, conn
        self._counter, self._done = counter, done
        self._reply: tuple[str, Any] | None = None
        self._jobs: list[Job] = []
        self._order: list[int] = []
        self._mine: dict[int, list[Path]] = {}  # the jobs this process ran

    def run(self, payload: Any = None, order: Sequence[int] | None = None,
            task: tuple[int, Callable[[Callable[[int], None]], None]] | None = None) -> list[list[Path]]:
        """Run the jobs ``make_jobs(payload)`` makes, claimed in ``order`` (default: job order)
        by both processes; return their paths in job order.

        ``task`` is ``(place, run)``: this process calls ``run(ready)`` once, when it claims
        ``place`` in ``order`` (or, if the worker passed over it, as soon as this process sees
        that); ``ready(i)`` returns once job ``i`` is written, and while it is not, this process
        runs the next unclaimed job (so it never idles while the worker draws what is needed).
        An error in the worker is raised here; the worker has ended when this returns or raises.
        """
        jobs = self._make_jobs(payload)
        order = list(range(len(jobs))) if order is None else list(order)
        if sorted(order) != list(range(len(jobs))):
            raise ValueError("order must name every job once")
        if self._process is None or len(jobs) > len(self._done):
            self.close()
            done = [jobs[i]() for i in range(len(jobs))]
            if task is not None:
                task[1](lambda i: None)
            return done
        place = len(order) if task is None else min(max(task[0], 0), len(order))
        order.insert(place, TASK)
        self._jobs, self._order, self._mine = jobs, order, {}
        try:
            self._conn.send((payload, order))
            pending = task
            while (i := self._claim()) is not None:
                if i != TASK:
                    self._mine[i] = _run(jobs, i, self._done)
                if pending is not None and (i == TASK or self._counter.value > place):
                    pending[1](self._ready)  # its place is claimed, by this process or passed over by the worker
                    pending = None
            if pending is not None:
                pending[1](self._ready)
            kind, value = self._reply or self._receive()
            if kind == "error":
                raise value
            done = dict(self._mine)
            done.update({i: [Path(p) for p in paths] for i, paths in value.items()})
            self._process.join()
        except BaseException:
            self.close(wait=False)  # an error or a signal here: the worker is ended at once
            raise
        finally:
            self.close()
        return [done[i] for i in range(len(jobs))]

    def _claim(self) -> int | None:
        """The next unclaimed place of the order (None when every place is claimed)."""
        number = claim(self._counter, len(self._order))
        return None if number is None else self._order[number]

    def _receive(self) -> tuple[str, Any]:
        """The worker's reply (its paths or its error), waited for."""
        while not self._conn.poll(0.05):
            if not self._process.is_alive():
                self._died()
        try:
            self._reply = self._conn.recv()
        except (EOFError, OSError):  # the worker died: its end of the pipe closed without a reply
            self._died()
        return self._reply

    def _died(self) -> NoReturn:
        self._process.join(1.0)
        raise RuntimeError(f"the figure worker ended unexpectedly (exit code {self._process.exitcode})")

    def _ready(self, i: int) -> None:
        """Return once job ``i`` is written, running unclaimed jobs meanwhile; raise the
        worker's error if it stopped."""
        while not self._done[i]:
            j = self._claim()
            if j is not None:
                if j != TASK:
                    self._mine[j] = _run(self._jobs, j, self._done)
                continue
            if self._reply is None and self._conn.poll(0.005):
                self._receive()
            if self._reply is not None:
                if self._reply[0] == "error":
                    raise self._reply[1]
                if not self._done[i]:  # the worker ended without it: cannot happen
                    raise RuntimeError(f"figure job {i} was never run")
            elif not self._process.is_alive():
                self._died()

    def close(self, wait: bool = True) -> None:
        """End the worker (if any) without running anything more: told to stop (it waits for
        :meth:`run`), or, without ``wait`` or when it does not stop within 0.5 s, terminated."""
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            if wait and process.is_alive():
                try:
                    self._conn.send(None)
                except OSError:
                    pass
                process.join(0.5)
        finally:
            if process.is_alive():
                process.terminate()
                process.join()
            self._conn.close()


def start_split(make_jobs: Callable[[Any], list[Job]], workers: int, size: int,
                warm: Callable[[], None] | None = None) -> Split:
    """Fork a worker (when ``workers`` is 2 or more and ``size``, the most jobs there will be,
    is at least :data:`_MIN_SPLIT`) that runs ``warm`` and then waits for :meth:`Split.run`.

    Call :meth:`Split.run` or :meth:`Split.close` in every case (a ``try``/``finally``).
    """
    if workers < 2 or size < _MIN_SPLIT:
        return Split(make_jobs)
    context = multiprocessing.get_context("fork")
    counter = context.Value("l", 0)
    done = context.Array("b", size)  # job i written: set by the process that ran it
    mine, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs, counter, done, make_jobs, warm), daemon=True)
    process.start()
    theirs.close()
    return Split(make_jobs, process, mine, counter, done)


def write_split(jobs: list[Job], workers: int, order: Sequence[int] | None = None) -> list[list[Path]]:
    """Run ``jobs`` (each writes one figure's files and returns their paths), shared with a
    forked worker when ``workers`` is 2 or more; return their paths in job order."""
    return start_split(lambda _: jobs, workers, len(jobs)).run(None, order)
