"""The cohort's other analyses, run as tasks that the bootstrap's worker and this process share.

Each task (a callable without arguments, e.g. ``partial(analyse_resolution, cohort, options)``)
runs once: a process claims it through a counter shared with the worker
(:func:`toh.cohort.workers.claim`) and records its result and the warnings it raised.
:meth:`PendingTasks.results` gives the results in the tasks' order and raises the warnings
again there, in that order, whichever process ran them; a task that failed in the worker, or
that no process ran, is run here, so that its own error is raised as it would have been
without a worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from toh.cohort.workers import claim

__all__ = ["PendingTasks", "Outcome", "claim_tasks", "limited"]

#: a task's outcome: (it ran, its result, the warnings it raised as (text, category, filename,
#: line)); (False, None, []) when it failed
Outcome = tuple[bool, Any, list[tuple[str, type[Warning], str, int]]]


def limited(work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` with one BLAS thread: the processes share the cores (the caller's two BLAS
    threads made its draws a fifth slower, competing with the worker for the other core), and a
    task gives the same bits in either process."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return work(*args)


def claim_tasks(tasks: Sequence[Callable[[], Any]], counter: Any, leave: int = 0) -> dict[int, Outcome]:
    """Run the tasks no process has claimed yet, one at a time, recording the warnings of each,
    until only ``leave`` are left unclaimed; a task that fails is marked so
    (:meth:`PendingTasks.results` runs it again, to raise its error)."""
    ran: dict[int, Outcome] = {}
    while (number := claim(counter, len(tasks), leave)) is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # every one: the caller's filters judge them when raised there
            try:
                value = tasks[number]()
            except Exception:  # noqa: BLE001 - re-raised by the caller, which runs the task again
                ran[number] = (False, None, [])
                continue
        ran[number] = (True, value, [(str(item.message), item.category, item.filename, item.lineno)
                                     for item in caught])
    return ran


class PendingTasks:
    """Tasks of the caller's, each run once, by a worker or here.

    ``counter`` is the claim counter shared with the worker (None: no worker, every task runs
    here); ``sent`` is the worker's pending result for these tasks alone, when they were handed
    to it ahead of the bootstrap's draws (:func:`toh.analyses._bootstrap.send_ahead`): an object
    whose ``get()`` returns ``[(outcomes, [])]`` or raises.
    """

    def __init__(self, tasks: Sequence[Callable[[], Any]] = (), counter: Any = None, sent: Any = None) -> None:
        self.tasks = tuple(tasks)
        self.counter, self.sent = counter, sent
        self._ran: dict[int, Outcome] = {}  # task number -> its outcome, once collected
        self._results: list[Any] | None = None

    def add(self, ran: dict[int, Outcome]) -> None:
        """Record the outcomes a worker sent back."""
        self._ran.update(ran)

    def take(self, leave: int = 0) -> None:
        """Run here the tasks no process has claimed yet, but the last ``leave`` of them, which
        the worker takes (none without a worker to share them: :meth:`results` runs them)."""
        if self.counter is not None:
            self.add(limited(claim_tasks, self.tasks, self.counter, leave))

    def collect(self) -> None:
        """Wait for the outcomes of the tasks sent ahead (if any); a worker that could not run
        them (they could not be pickled, say) leaves them to :meth:`results`."""
        sent, self.sent = self.sent, None
        if sent is None:
            return
        try:
            for ran, _ in sent.get():
                self.add(ran)
        except Exception:  # noqa: BLE001 - what the worker did not finish is run here
            pass

    def results(self) -> list[Any]:
        """The tasks' results, in their order (computed once).  The tasks still unclaimed run
        here, while a worker finishes those it took; the warnings of each task are raised here,
        in the tasks' order; a task that failed, or that no process ran, runs here."""
        if self._results is None:
            self.take()
            self.collect()
            done = []
            for number, task in enumerate(self.tasks):
                outcome = self._ran.get(number)
                if outcome is not None and outcome[0]:
                    _, value, said = outcome
                    for text, category, filename, lineno in said:
                        warnings.warn_explicit(text, category, filename, lineno)
                    done.append(value)
                else:  # not run by a worker, or failed there: here, with its own error
                    done.append(task())
            self._results = done
        return self._results
