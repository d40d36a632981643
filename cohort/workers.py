"""Worker processes that end with their command: one initializer for every process pool of
toh-cohort (the bootstrap's draws, the figures drawn beside the main process), and the counter
through which processes claim their work one piece at a time."""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["claim", "worker_start"]


def claim(counter: Any, total: int) -> int | None:
    """The next of ``total`` pieces of work no process has claimed yet (its number), or None
    when all are: ``counter`` is a ``multiprocessing.Value`` shared through fork."""
    with counter.get_lock():
        number = counter.value
        counter.value = number + 1
    return number if number < total else None


def worker_start() -> None:
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
