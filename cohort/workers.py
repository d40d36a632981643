"""Worker processes that end with their command: one initializer for every process pool of
toh-cohort (the bootstrap's draws, the figures drawn beside the main process), the counter
through which processes claim their work one piece at a time, and the channel through which a
worker forked ahead gets its (large) work."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

__all__ = ["Channel", "claim", "receive", "worker_start"]


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
