"""The interrupting signals (Ctrl-C, SIGTERM, SIGHUP) a command has received, checked again
before anything is published.

The command line's handler (:func:`toh.reports.cli._base.guarded`) raises KeyboardInterrupt at
the first signal and notes it here.  A library may swallow that exception (a ``try: ...
except: pass`` around an optional import, say), and the command would then run on and publish
after the user stopped it.  :func:`check` raises it again: at each step of a report build and
just before an output folder or file is renamed into place, so an interrupted command never
replaces the last output.
"""

from __future__ import annotations

__all__ = ["received", "signalled", "check", "clear"]

_RECEIVED: list[str] = []


def received(name: str) -> None:
    """Note an interrupting signal (its name, e.g. ``"SIGTERM"``)."""
    _RECEIVED.append(name)


def signalled() -> str | None:
    """The first interrupting signal noted since :func:`clear`, or None."""
    return _RECEIVED[0] if _RECEIVED else None


def check() -> None:
    """Raise KeyboardInterrupt when an interrupting signal was noted (and swallowed on the way)."""
    if _RECEIVED:
        raise KeyboardInterrupt(_RECEIVED[0])


def clear() -> None:
    """Forget the signals noted (a command starting in the same process)."""
    _RECEIVED.clear()
