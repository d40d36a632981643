"""Worker processes that end with their command: one initializer for every process pool of
toh-cohort (the bootstrap's draws, the figures drawn beside the main process), the counter
through which processes claim their work one piece at a time, the channel through which a
worker forked ahead gets its (large) work, and a process pool whose results are not waited for
for ever when a worker dies (:class:`WatchedPool`)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Channel", "WorkerDied", "Watched", "WatchedPool", "claim", "receive", "worker_start"]


def claim(counter: Any, total: int, leave: int = 0) -> int | None:
    """The next of ``total`` pieces of work no process has claimed yet (its number), or None
    when all are, or when only ``leave`` are left (those are another process's to claim):
    ``counter`` is a ``multiprocessing.Value`` shared through fork."""
    with counter.get_lock():
        number = counter.value
        if number >= total - leave:
            return None
        counter.value = number + 1
    return number


#: Whether the last fork of this process was made by its main thread (set just before each
#: fork, read by the child: a pool's worker that replaces a dead one is forked by the pool's own
#: thread).
_FORKED_BY_MAIN = [True]


def _before_fork() -> None:
    _FORKED_BY_MAIN[0] = threading.current_thread() is threading.main_thread()


os.register_at_fork(before=_before_fork)


def worker_start() -> None:
    """Make a worker end with its parent and stay quiet on Ctrl-C.

    Ctrl-C goes to the whole process group: the parent handles it (and terminates the pool),
    so a worker ignores SIGINT instead of printing a traceback; SIGTERM (what ``Pool.terminate``
    sends) ends it at once; and on Linux the kernel sends it SIGTERM when the parent dies, even
    by SIGKILL, so no worker outlives the command.

    The kernel's signal follows the *thread* that forked the worker.  A pool forks a worker that
    replaces a dead one from its own thread, which ends when the pool is terminated: that
    worker, waiting for work with the pool's queue locked, would die with the lock held and
    ``Pool.terminate`` would wait for the lock for ever.  Such a worker instead watches its
    parent process from a thread of its own and ends when it has gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    if not _FORKED_BY_MAIN[0]:
        threading.Thread(target=_end_with, args=(os.getppid(),), daemon=True).start()
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's terminate() still ends the pool
        pass


def _end_with(parent: int) -> None:
    """End this process once ``parent`` has ended (this process is then another's child)."""
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


class Channel:
    """Bytes from this process to one worker forked after it was made, through a pipe of its own.

    A process pool sends its work through a pipe that this process can also read, written by a
    feeder thread: a large piece of work (a pickled cohort, tens of megabytes) that the worker is
    not reading yet (it is still importing, or busy) blocks that thread, and ending the pool
    then waits for it forever.  Here the worker holds the only read end (:meth:`forked` closes
    this process's), so a write fails at once when the worker has gone; each :meth:`send` is
    written by a daemon thread, after the previous one, while this process goes on.  The worker
    reads with :func:`receive`, in the order of the sends.
    """

    def __init__(self) -> None:
        self.reader, self._write = os.pipe()
        try:  # a wider pipe (Linux): 94 MB pass in 0.1 s instead of 0.2 s of 64 kB wake-ups
            import fcntl

            fcntl.fcntl(self._write, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except (ImportError, OSError):
            pass
        self._writing: threading.Thread | None = None

    def forked(self) -> None:
        """The worker has the read end now (forked): this process closes its copy."""
        os.close(self.reader)

    def send(self, data: bytes) -> None:
        """Write ``data`` in the background, after what was sent before."""
        self._writing = threading.Thread(target=_write_all, args=(self._write, data, self._writing), daemon=True)
        self._writing.start()

    def close(self) -> None:
        """Close this process's write end once the writing has ended (the worker has read it all
        or has gone; call it after ending the worker).  Should a write still hang, the end is
        left open rather than closed under the writing thread."""
        if self._writing is not None:
            self._writing.join(2.0)
            if self._writing.is_alive():
                return
        os.close(self._write)


def _write_all(fd: int, data: bytes, before: threading.Thread | None) -> None:
    if before is not None:
        before.join()
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:  # the worker has gone (a broken pipe): what it did not read is done elsewhere
        pass


def receive(fd: int, size: int) -> bytearray:
    """Read exactly ``size`` bytes a :class:`Channel` sent (in a worker, from its inherited
    ``reader``); EOFError when the writer has gone first."""
    out = bytearray(size)
    view, got = memoryview(out), 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError(f"the channel closed after {got:,} of {size:,} bytes")
        got += n
    return out


class WorkerDied(RuntimeError):
    """A worker of a process pool ended while its task was under way (killed by the kernel's
    out-of-memory killer, say): the task's result will never come."""


class Watched:
    """A pool's pending result that cannot be waited for forever.

    ``multiprocessing.Pool`` replaces a worker that died and never completes the task that
    worker held, so ``AsyncResult.get()`` would wait for ever (a command stuck until a person
    kills it).  :meth:`get` waits in short steps and raises :class:`WorkerDied` once one of
    ``processes`` (the pool's, :class:`WatchedPool`) has ended; the caller does the work
    itself.
    """

    def __init__(self, result: Any, processes: tuple[Any, ...], poll: float = 0.1) -> None:
        self._result, self._processes, self._poll = result, processes, poll

    def get(self) -> Any:
        """The result, as ``AsyncResult.get()`` gives it; WorkerDied when a worker has ended
        before it came."""
        while not self._result.ready():
            self._result.wait(self._poll)
            if not self._result.ready() and any(p.exitcode is not None for p in self._processes):
                raise WorkerDied("a worker process ended before its work was done")
        return self._result.get()


class WatchedPool:
    """The ``multiprocessing`` pool ``start()`` makes, whose pending results are :class:`Watched`
    against the processes it started."""

    def __init__(self, start: Callable[[], Any]) -> None:
        import multiprocessing

        self._before = set(multiprocessing.active_children())
        self.pool = start()
        self.processes = tuple(p for p in multiprocessing.active_children() if p not in self._before)

    def apply_async(self, func: Callable[..., Any], args: tuple = ()) -> Watched:
        return Watched(self.pool.apply_async(func, args), self.processes)

    def map_async(self, func: Callable[..., Any], iterable: Any) -> Watched:
        return Watched(self.pool.map_async(func, iterable), self.processes)

    def close(self) -> None:
        self.pool.close()

    def terminate(self) -> None:
        """End the pool.  When one of its workers has died, ``Pool.terminate`` can wait for ever
        (a worker killed while it waited for work leaves the pool's queue locked for good): the
        pool's workers, those it started in place of the dead one too, are then killed, and the
        pool's own ending is left to a thread that is waited for a moment only."""
        if not any(p.exitcode is not None for p in self.processes):
            self.pool.terminate()
            return
        import multiprocessing
        import time

        ending = threading.Thread(target=self.pool.terminate, daemon=True)
        ending.start()  # the pool stops replacing workers at once, then may wait on the lock
        quiet = 0
        deadline = time.monotonic() + 5.0
        while quiet < 3 and ending.is_alive() and time.monotonic() < deadline:
            workers = [p for p in multiprocessing.active_children()  # multiprocessing names a pool's workers so
                       if p not in self._before and "PoolWorker" in p.name and p.pid is not None]
            for p in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, signal.SIGKILL)
                p.join(1.0)
            quiet = 0 if workers else quiet + 1
            ending.join(0.1)
