"""Worker processes that end with their command: one initializer for every process pool of
toh-cohort (the bootstrap's draws, the figures drawn beside the main process)."""

from __future__ import annotations

import signal

__all__ = ["worker_start"]


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
