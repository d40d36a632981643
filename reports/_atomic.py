"""Replace an output folder only when a build has finished, so a failed or killed build leaves
the last good report in place.

A build writes into a hidden sibling ``.<name>.building-<pid>``; when it is complete the old
folder is renamed to ``.<name>.previous``, the new one renamed into place and the previous one
removed.  The two renames are each atomic; a build killed between them leaves ``.previous``,
which the next build restores before it starts.  A lock file keeps two builds from writing the
same folder at once.  A folder that is not a toh report (no ``manifest.json`` written by
``toh report``) is never replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from toh.cohort.errors import ConfigError

__all__ = ["staged_folder", "MANIFEST", "MARKER"]

MANIFEST = "manifest.json"
MARKER = "toh-report"


def _is_report(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("kind") == MARKER
    except (OSError, ValueError, AttributeError):
        return False


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not _is_report(out):
        raise ConfigError(f"output folder {out} is not empty and holds no toh report (no {MANIFEST} written by "
                          "toh report); it is left untouched: choose a new or empty --out folder")


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Yield a fresh staging folder; on normal exit it replaces ``out``, on error it is removed.

    Raises
    ------
    ConfigError
        ``out`` is a file, a non-empty folder that is not a toh report, or another build holds
        its lock.
    """
    out = Path(out)
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    previous = parent / f".{out.name}.previous"
    if not out.exists() and previous.is_dir():  # a build was killed between its two renames
        os.rename(previous, out)
    _check_replaceable(out)
    lock_path = parent / f".{out.name}.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another build is writing {out} (lock {lock_path})") from None
        for stale in parent.glob(f".{out.name}.building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = parent / f".{out.name}.building-{os.getpid()}"
        staging.mkdir()
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if previous.exists():
            shutil.rmtree(previous)
        if out.exists():
            os.rename(out, previous)
        os.rename(staging, out)
        shutil.rmtree(previous, ignore_errors=True)
