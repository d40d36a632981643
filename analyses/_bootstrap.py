"""Seeded, reproducible bootstrap of the Turnbull NPMLE over both cores.

Each draw b has its own random stream, child b of ``SeedSequence(seed)``, so the results do not
depend on the number of workers or their timing (``docs/r-conventions.md``).  A draw resamples
patients (a multinomial over the unique intervals, which is the same thing) and refits the NPMLE
warm-started from the full-data fit.

The refit works on what the likelihood sees: the innermost intervals are the full fit's, and
intervals covering the same run of them are one row (a few hundred rows where a large
registry has thousands of distinct intervals), set up once for all draws; its Newton steps
solve their model in cumulative coordinates (``_turnbull._cumulative_solve``), the draws of a
chunk together (``_turnbull_batch.refit_draws``: bit for bit the same draws in any batch).
A draw costs 0.6 to 2 ms of CPU (a few hundred to 1,500 runs); a worker costs about 0.1 s
to start and end, so one is used from ``_POOL_MIN`` draws x runs on, or when one was forked
ahead (:func:`warm_worker`).  With :func:`start_bootstrap_cdf` the
worker draws while the caller does other work, and the caller draws the chunks still
unclaimed once it collects: two processes on two cores, never three.  The worker first takes
the caller's other work (``beside``: the cohort's other analyses), then draws.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from toh.analyses._turnbull import TurnbullFit, _project, _spans, _warn_unconverged
from toh.analyses._tasks import Outcome, PendingTasks, claim_tasks, limited
from toh.analyses._turnbull_batch import refit_draws
from toh.cohort.workers import Channel, WatchedPool, claim, receive, worker_start

__all__ = ["bootstrap_cdf", "start_bootstrap_cdf", "PendingDraws", "draws_job", "warm_worker", "send_ahead"]

#: draws x runs below which the draws run in this process (see bootstrap_cdf)
_POOL_MIN = 40_000
#: CPU seconds of drawing after which this process, its draws done, also takes the tasks the
#: worker has not started: in a registry that large (about 100,000 patients: 2.5 s of drawing)
#: the tasks left are worth importing scipy.stats and lifelines for (0.5-0.9 s); in a small one
#: (1,000: 0.6 s) they are not, and the worker, which has imported them, finishes them sooner
_TAKE_TASKS_AFTER = 1.5
#: tasks this process leaves to the worker even then: the last ones are the smallest (the
#: tasks run longest first), and the worker, which has imported what they need, finishes three
#: of them (0.1-0.25 s each at 100,000 patients) in about the time this process takes to import
#: scipy.stats (0.5-0.9 s); taking the last one alone made the command 0.55 s longer, one of the
#: last three 0.2 s
_LEAVE_TO_WORKER = 3
#: draws a process claims at a time (15 to 50 ms of work at 1,000 to 100,000 patients)
_CHUNK = 25
#: draws whose refits are solved together (_turnbull_batch); 25 was the cheapest per draw at
#: 1,000 and 10,000 patients (50 and 100 cost more: larger temporaries), level at 100,000
_BATCH = 25


def _draws_in_worker(args: tuple) -> tuple[np.ndarray, tuple[float, int]]:
    """F(times) of each draw, and the largest KKT measure of the refits (with its iterations).

    The refits of up to ``_BATCH`` draws at a time are solved together
    (:func:`~toh.analyses._turnbull_batch.refit_draws`); a draw's result does not depend on
    which draws share its batch.
    """
    first, last, run, counts, start, times, seeds, tol = args
    total = int(counts.sum())
    prob = counts / total
    p0 = _project(start.p + 1e-10)
    at = np.searchsorted(start.right, times, side="right")
    out = np.empty((len(seeds), len(times)))
    worst = (0.0, 0)
    for begin in range(0, len(seeds), _BATCH):
        batch = seeds[begin:begin + _BATCH]
        # patients per distinct interval, then per run of innermost intervals (same likelihood)
        weights = np.stack([np.bincount(run, np.random.default_rng(seed).multinomial(total, prob), len(first))
                            for seed in batch])
        p, kkt, iterations = refit_draws(first, last, weights, p0, tol)
        worst = max(worst, *((float(value), int(steps)) for value, steps in zip(kkt, iterations)))
        cumulative = np.zeros((len(batch), len(p0) + 1))
        cumulative[:, 1:] = np.cumsum(p, axis=1)
        out[begin:begin + len(batch)] = cumulative[:, at]
    return out, worst


class PendingDraws:
    """Bootstrap draws under way in a pool of workers (or done already in this process).

    The draws are cut into chunks that the processes claim one at a time (a counter shared
    through fork): the workers start at once, and :meth:`result`, called when the caller's own
    work is done, draws the chunks still unclaimed in this process before it collects the
    workers' (so no core idles while the other waits).  Which process draws a chunk does not
    change it: each draw has its own random stream.  :meth:`cancel` ends the workers
    (idempotent), so a caller that fails before collecting leaves no process behind.

    The caller's ``beside`` tasks (:class:`~toh.analyses._tasks.PendingTasks`) are the workers':
    a worker takes them first (one at a time, through a second counter; a warm worker may have
    had them ahead of the draws, :func:`send_ahead`) and draws after, while the caller draws (to
    take a task, it would first import what the task needs, which the worker has done already;
    it does when its drawing took more than ``_TAKE_TASKS_AFTER`` CPU seconds, the sign of a
    registry whose tasks are worth it).  :meth:`beside` returns their results in their order,
    with the warnings each raised, raised here in the tasks' order; a task no worker ran (none
    was started, or it failed) runs here then.
    """

    def __init__(self, tol: float, parts: list | None = None, pool: Any = None, pending: Sequence[Any] = (),
                 job: tuple | None = None, counter: Any = None, tasks: PendingTasks | None = None) -> None:
        self._tol, self._parts, self._pool, self._pending = tol, parts, pool, list(pending)
        self._job, self._counter = job, counter
        self._tasks = tasks if tasks is not None else PendingTasks()

    def result(self, meanwhile: Callable[[], Any] | None = None) -> np.ndarray:
        """F(times) of every draw (draws x times), in the order of the draws.  ``meanwhile`` (the
        caller's own remaining work) is done once this process has drawn the chunks it could
        claim, before it waits for the workers; it is not called when the draws were done
        already."""
        if self._parts is None:
            try:
                began = time.process_time()  # CPU seconds: a busy machine does not make a registry large
                chunks = list(limited(_claim_chunks, self._job, self._counter))
                if time.process_time() - began > _TAKE_TASKS_AFTER:  # a large registry: see _TAKE_TASKS_AFTER
                    self._tasks.take(_LEAVE_TO_WORKER)
                if meanwhile is not None:
                    meanwhile()
                self._tasks.collect()  # tasks sent ahead: the worker did them before its draws
                for pending in self._pending:
                    try:
                        for ran, part in pending.get():
                            self._tasks.add(ran)
                            chunks.extend(part)
                    except Exception:  # noqa: BLE001 - the worker could not do its share (it died, or its
                        pass           # work could not be pickled): what it claimed is done here, below
            finally:
                self.cancel()
            drawn = {number for number, _ in chunks}
            chunks += [(number, limited(_draw_chunk, self._job, number))
                       for number in range(len(self._job[-1])) if number not in drawn]
            self._parts = [part for _, part in sorted(chunks, key=lambda chunk: chunk[0])]
        kkt, iterations = max(worst for _, worst in self._parts)
        if kkt > self._tol:  # said here, since a worker's warnings do not reach the command
            _warn_unconverged(iterations, kkt, self._tol)
        return np.vstack([out for out, _ in self._parts])

    def beside(self) -> list[Any]:
        """The results of the ``beside`` tasks, in their order (after :meth:`result`, which it
        calls when needed), as :meth:`toh.analyses._tasks.PendingTasks.results` gives them: the
        warnings of a task run by either process are raised here, in the tasks' order, and a
        task that failed is run again here, so that its error is raised as it would have been
        without a worker."""
        self.result()
        return self._tasks.results()

    def cancel(self) -> None:
        """End the workers (they are done, or their draws are no longer wanted)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None


#: what a worker works on: (job, draw counter, tasks, task counter[, a warm worker's channel]),
#: set by its initializer (inherited through fork; a warm worker's tasks and job come later,
#: pickled through its channel: _warm_tasks, _warm_draws)
_SHARED: list = []


def _worker_init(job: tuple, draws: Any, tasks: Sequence[Callable[[], Any]], claimed: Any) -> None:
    worker_start()
    _SHARED[:] = [job, draws, tasks, claimed]


def _worker_chunks(_: int) -> tuple[dict[int, Outcome], list]:
    """A worker takes the caller's tasks still unclaimed, then draws chunks until none is left."""
    job, draws, tasks, claimed = _SHARED
    return limited(claim_tasks, tasks, claimed), limited(_claim_chunks, job, draws)


#: the worker :func:`warm_worker` started, its two counters and its channel, until a bootstrap
#: takes it; then the tasks sent to it ahead (:func:`send_ahead`), if any
_WARM: list = []


@contextmanager
def warm_worker(preload: Sequence[str] = ("scipy.stats", "lifelines")) -> Iterator[None]:
    """Fork the bootstrap's worker now, so that it imports ``preload`` while this process does
    other work (validating and deriving the export); the next :func:`send_ahead` and
    :func:`start_bootstrap_cdf` inside the block hand it its tasks and draws, pickled (they did
    not exist at the fork; a cohort of 100,000 patients pickles in about 0.1 s) and sent through
    a :class:`~toh.cohort.workers.Channel` of its own, so that a worker still importing or busy
    never holds up the pool's own pipe.  At 1,000 patients the imports (about 0.9 s) were the
    longest wait of ``toh analyze``.  The worker is ended when the block ends, however it ends.
    Nothing is forked on a one-core machine.
    """
    if (os.cpu_count() or 1) < 2:
        yield
        return
    context = multiprocessing.get_context("fork")
    counters = (context.Value("l", 0), context.Value("l", 0))  # draw chunks, tasks
    channel = Channel()
    try:
        pool = WatchedPool(lambda: context.Pool(1, initializer=_warm_init,
                                                initargs=(counters, tuple(preload), channel.reader)))
    except BaseException:  # no worker (it could not be forked): both ends closed
        channel.forked()
        channel.close()
        raise
    channel.forked()
    _WARM[:] = [pool, counters, channel]
    try:
        yield
    finally:
        _WARM.clear()
        pool.terminate()
        channel.close()


def _warm_init(counters: tuple[Any, Any], preload: tuple[str, ...], reader: int) -> None:
    worker_start()
    _SHARED[:] = [None, counters[0], (), counters[1], reader]
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:  # the work that needs it will say so, in the caller's process
            pass


def send_ahead(tasks: Sequence[Callable[[], Any]]) -> PendingTasks:
    """Hand ``tasks`` to the worker :func:`warm_worker` forked, now: it starts on them (the
    cohort's other analyses) while this process fits the NPMLE, instead of waiting for the
    bootstrap.  Pass the result as ``beside`` to the next :func:`start_bootstrap_cdf` (the
    worker then draws once its tasks are done) or collect it with
    :meth:`~toh.analyses._tasks.PendingTasks.results`.  Without a warm worker nothing is sent:
    the bootstrap's pool, or this process, runs the tasks.
    """
    pending = PendingTasks(tasks)
    if len(_WARM) == 3 and pending.tasks and _send(pending, *_WARM):
        _WARM.append(pending)
    return pending


def _send(pending: PendingTasks, pool: Any, counters: tuple[Any, Any], channel: Channel) -> bool:
    """Send ``pending``'s tasks to the warm worker (False, and nothing sent, when they cannot
    be pickled: they run in this process)."""
    try:
        # pickled here, at once (a thread pickling them while this process fits would share its
        # interpreter: at 100,000 patients the worker once got its tasks 2 s late); the channel's
        # thread then only writes the bytes, which frees the GIL
        work = pickle.dumps(pending.tasks, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - tasks that cannot be pickled run here
        return False
    channel.send(work)
    pending.counter, pending.sent = counters[1], pool.apply_async(_warm_tasks, (len(work),))
    return True


def _warm_tasks(size: int) -> list[tuple[dict[int, Outcome], list]]:
    """A warm worker's tasks (``size`` pickled bytes from its channel): it claims them before
    any draw."""
    _SHARED[2] = tasks = pickle.loads(receive(_SHARED[4], size))
    return [(limited(claim_tasks, tasks, _SHARED[3]), [])]


def _warm_draws(size: int) -> list[tuple[dict[int, Outcome], list]]:
    """A warm worker's draws after its tasks: the job (``size`` pickled bytes) from its channel."""
    _SHARED[0] = job = pickle.loads(receive(_SHARED[4], size))
    return [({}, limited(_claim_chunks, job, _SHARED[1]))]



def _claim_chunks(job: tuple, counter: Any) -> list[tuple[int, tuple[np.ndarray, tuple[float, int]]]]:
    """Draw the chunks of ``job`` that no process has claimed yet, one at a time:
    (chunk number, its draws and worst refit) each."""
    done = []
    while (number := claim(counter, len(job[-1]))) is not None:
        done.append((number, _draw_chunk(job, number)))
    return done


def _draw_chunk(job: tuple, number: int) -> tuple[np.ndarray, tuple[float, int]]:
    """The draws of chunk ``number`` of ``job`` and its worst refit."""
    first, last, run, counts, start, times, children, tol, chunks = job
    seeds = [children[i] for i in chunks[number]]
    return _draws_in_worker((first, last, run, counts, start, times, seeds, tol))


def draws_job(lo: np.ndarray, hi: np.ndarray, fit: TurnbullFit, times: np.ndarray, draws: int, seed: int,
              tol: float = 1e-8, weights: np.ndarray | None = None) -> tuple:
    """What the processes draw from: the runs of innermost intervals the distinct intervals
    cover (``first``, ``last``), each interval's run and count, the full fit, the times, one
    seed sequence per draw, the tolerance, and the draws cut into chunks of ``_CHUNK``."""
    w = np.ones(len(lo)) if weights is None else np.asarray(weights, dtype=float)
    pairs, inverse = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=w, minlength=len(pairs)).astype(float)
    first, last = _spans(pairs[:, 0], pairs[:, 1], fit.left, fit.right)
    runs, run = np.unique(first * (len(fit.p) + 1) + last, return_inverse=True)
    first, last = np.divmod(runs, len(fit.p) + 1)
    children = np.random.SeedSequence(seed).spawn(draws)
    chunks = [np.arange(i, min(i + _CHUNK, draws)) for i in range(0, draws, _CHUNK)]
    return first, last, run.ravel(), counts, fit, times, children, tol, chunks


def start_bootstrap_cdf(
    lo: np.ndarray, hi: np.ndarray, fit: TurnbullFit, times: np.ndarray, draws: int, seed: int,
    tol: float = 1e-8, workers: int | None = None, weights: np.ndarray | None = None,
    beside: Sequence[Callable[[], Any]] | PendingTasks = (),
) -> PendingDraws:
    """:func:`bootstrap_cdf`, started: with a pool the draws run while the caller goes on (the
    cohort's other analyses), and :meth:`PendingDraws.result` collects them.

    ``workers`` is the number of processes that draw: this one (once the caller collects) and
    ``workers - 1`` forked ones (default: two processes in all, one per core of a small machine).
    ``beside``: tasks (callables without arguments: inherited through fork, or pickled to a warm
    worker; their results come back pickled) that a worker takes before it draws, each once, or
    those :func:`send_ahead` handed to the warm worker already; :meth:`PendingDraws.beside`
    returns their results.  Without a worker they run in this process when
    :meth:`PendingDraws.beside` is called.
    """
    job = draws_job(lo, hi, fit, times, draws, seed, tol, weights)
    tasks = beside if isinstance(beside, PendingTasks) else PendingTasks(beside)
    workers = workers or min(2, os.cpu_count() or 1)
    # A pool's start-up and tear-down (forking, limiting BLAS to one thread per worker) cost
    # about 0.1 s, a few hundred draws of a small registry (a draw costs from about 0.6 ms at a
    # few hundred runs to 2 ms at 1,500); below that one process is faster.  Above it the
    # worker also takes the caller's ``beside`` tasks off its hands.
    if _WARM and workers == 2:  # a worker forked ahead (warm_worker): its share goes through its channel
        pool, counters, channel, *ahead = _WARM
        _WARM.clear()
        if not (ahead and ahead[0] is tasks and tasks.sent is not None) and tasks.tasks:
            _send(tasks, pool, counters, channel)  # not sent ahead: now (or, unpicklable, run here)
        work = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        channel.send(work)
        try:  # it draws once its tasks are done; a list of (task outcomes, chunks)
            pending = [pool.apply_async(_warm_draws, (len(work),))]
            pool.close()
        except BaseException:
            pool.terminate()
            raise
    elif workers == 1 or draws * len(job[0]) < _POOL_MIN:
        return PendingDraws(tol, [_draws_in_worker(job[:-1])], tasks=tasks)
    else:  # forked now: the workers inherit their share
        context = multiprocessing.get_context("fork")
        counters = (context.Value("l", 0), context.Value("l", 0))  # draw chunks, beside tasks
        tasks.counter = counters[1]
        pool = WatchedPool(lambda: context.Pool(workers - 1, initializer=_worker_init,
                                                initargs=(job, counters[0], tasks.tasks, counters[1])))
        try:  # a list of (task outcomes, chunks), one per worker
            pending = [pool.map_async(_worker_chunks, range(workers - 1))]
            pool.close()
        except BaseException:
            pool.terminate()
            raise
    return PendingDraws(tol, pool=pool, pending=pending, job=job, counter=counters[0], tasks=tasks)


def bootstrap_cdf(
    lo: np.ndarray, hi: np.ndarray, fit: TurnbullFit, times: np.ndarray, draws: int, seed: int,
    tol: float = 1e-8, workers: int | None = None, weights: np.ndarray | None = None,
) -> np.ndarray:
    """F(times) in each of ``draws`` bootstrap samples (a draws x len(times) array).

    ``weights`` (default 1 each) are counts of patients per row: rows collapsed to distinct
    intervals with their counts (a site's bundle, or counts summed over sites) give the draws
    of the rows themselves.  The workers are ended however this returns (an error, Ctrl-C,
    SIGTERM turned into an exception by the command line), so none is left running.
    """
    started = start_bootstrap_cdf(lo, hi, fit, times, draws, seed, tol, workers, weights)
    try:
        return started.result()
    finally:
        started.cancel()
