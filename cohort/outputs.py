"""Output folders that never cost the user a file: marked, staged, replaced atomically.

Every command that writes a folder (``toh derive``, ``analyze``, ``figures``, ``report``,
``simulate``) writes it through :func:`output_folder`:

* The folder is built in a hidden sibling, ``.<name>.building-<pid>``, and renamed into place
  only when complete, so a failed, interrupted or killed command leaves the last good output as
  it was (a kill between the two renames leaves ``.<name>.previous``, restored by the next run).
* Each output folder holds a marker, :data:`MARKER`, naming the command that wrote it and the
  SHA-256 of every file it wrote.  A non-empty folder is replaced only when it is the same
  command's output and holds exactly the files that command wrote, unchanged; anything else
  there (a thesis draft, an edited table, another command's output) stops the command with a
  message naming it, and nothing is touched.
* The output may never be, hold or lie inside one of the command's inputs (the export, the
  mapping, the configuration).
* A symlinked output folder is followed: the folder it points to is replaced, the link kept,
  and the staging folder sits beside the target, on the same file system, so the final rename
  is atomic there too.
* One command at a time per folder: a lock file beside it holds the writer's process id; the
  lock of a process that no longer runs is taken over.  Lock and staging folder are removed
  when the command ends, however it ends (short of SIGKILL, which the next run repairs).
* A full disk, a read-only or otherwise unwritable location becomes an :class:`OutputError`
  naming the folder and the cause (exit code 2), with the last good output kept.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from toh.cohort import interrupts
from toh.cohort.errors import ConfigError, OutputError

__all__ = ["MARKER", "output_folder", "output_file", "check_output", "check_output_location", "written_files"]

#: The marker file of every output folder (JSON: kind, files with their SHA-256).
MARKER = ".toh-output.json"
#: Reports written before the marker existed carry this manifest (kept readable).
_LEGACY_MANIFEST, _LEGACY_KIND = "manifest.json", "toh-report"
_SHOWN = 5  # unknown files named in a refusal


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def written_files(folder: Path) -> dict[str, str]:
    """Relative path (POSIX) -> SHA-256 of every file under ``folder`` but the marker, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
    return {p.relative_to(folder).as_posix(): _sha256(p) for p in files if p.name != MARKER or p.parent != folder}


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_output_location(out: Path, inputs: Iterable[Path | None] = ()) -> Path:
    """The real folder ``out`` stands for (a symlink followed), after refusing one that is,
    holds or lies inside an input.

    Raises
    ------
    ConfigError
        ``out`` is an existing file, or it overlaps an input.
    """
    out = Path(out)
    real = out.resolve() if out.is_symlink() else out.absolute()
    if out.is_symlink() and real.exists() and not real.is_dir():
        raise ConfigError(f"output {out} is a link to a file ({real}), not a folder")
    real = Path(os.path.realpath(real))
    if real.exists() and not real.is_dir():
        raise ConfigError(f"output {out} is a file, not a folder: choose a new or empty --out folder")
    for given in inputs:
        if given is None:
            continue
        source = Path(os.path.realpath(Path(given).absolute()))
        if _within(source, real):
            raise ConfigError(f"output folder {out} holds the input {given}: writing it would replace the input; "
                              "choose an --out folder outside the export")
        if source.is_dir() and _within(real, source):
            raise ConfigError(f"output folder {out} lies inside the export {given}: toh never writes into an "
                              "export; choose an --out folder outside it")
    return real


def _owner(folder: Path) -> tuple[str, dict[str, str] | None]:
    """(kind, files) of the command that wrote ``folder``; ('', None) when no toh command did."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return str(marker["kind"]), {str(k): str(v) for k, v in marker["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    try:  # a report of an earlier version: its manifest, no file list
        manifest = json.loads((folder / _LEGACY_MANIFEST).read_text(encoding="utf-8"))
        if isinstance(manifest, dict) and manifest.get("kind") == _LEGACY_KIND:
            return "report", None
    except (OSError, ValueError):
        pass
    return "", None


def _check_replaceable(real: Path, out: Path, kind: str) -> None:
    if not real.is_dir() or not any(real.iterdir()):
        return
    owner, files = _owner(real)
    if owner != kind:
        what = f"the output of toh {owner}" if owner else "not the output of a toh command"
        raise ConfigError(f"output folder {out} is not empty and is {what}; it is left untouched: choose a new "
                          f"or empty --out folder (or the folder a previous toh {kind} wrote)")
    if files is None:
        return
    found = written_files(real)
    foreign = sorted(set(found) - set(files))
    changed = sorted(k for k in set(found) & set(files) if found[k] != files[k])
    if foreign or changed:
        names = ", ".join((foreign + changed)[:_SHOWN]) + (" ..." if len(foreign) + len(changed) > _SHOWN else "")
        why = "files toh did not write" if foreign else "files changed since toh wrote them"
        if foreign and changed:
            why = "files toh did not write or that changed since"
        raise ConfigError(f"output folder {out} holds {why} ({names}); nothing was replaced: move them away "
                          "or choose another --out folder")


def check_output(out: str | Path, kind: str, inputs: Iterable[Path | None] = ()) -> None:
    """Refuse, before any work is done, an output folder :func:`output_folder` would refuse
    (it checks again, under its lock, when it writes)."""
    out = Path(out)
    _check_replaceable(check_output_location(out, list(inputs)), out, kind)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs: a zombie (killed, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:  # no /proc (macOS): a process that exists counts as running
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]  # the state follows the command's name in parentheses


@contextlib.contextmanager
def _lock(real: Path, out: Path) -> Iterator[None]:
    """A lock file beside the folder holding this process's id; a dead holder's lock is taken over."""
    path = real.parent / f".{real.name}.toh-lock"
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = int(path.read_text(encoding="ascii").strip() or "0")
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                raise ConfigError(f"another toh command (process {holder}) is writing {out}; "
                                  f"try again when it has finished (lock {path})") from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process has ended
            continue
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        break
    else:
        raise ConfigError(f"could not take the lock {path} of {out}")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _repair(real: Path) -> None:
    """Undo what a killed run left: restore ``.previous`` when the folder is gone, drop the
    staging folders of processes that no longer run."""
    previous = real.parent / f".{real.name}.previous"
    if not real.exists() and previous.is_dir():
        os.rename(previous, real)
    elif previous.is_dir():
        shutil.rmtree(previous, ignore_errors=True)
    for stale in real.parent.glob(f".{real.name}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


_CAUSES = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
           errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
           errno.EPERM: "permission denied", errno.EXDEV: "the staging folder is on another file system"}


def _output_error(exc: OSError, out: Path) -> OutputError:
    cause = _CAUSES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"could not write {out}: {cause}{where}; the last output in {out}, if any, is kept as it was")


@contextlib.contextmanager
def output_folder(out: str | Path, kind: str, *, inputs: Iterable[Path | None] = ()) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends normally it replaces ``out`` with a
    marker naming ``kind``; when it raises (or is interrupted), ``out`` is left as it was.

    Parameters
    ----------
    out
        The output folder (created with its parents when missing; a symlink is followed).
    kind
        The command writing it (``"derive"``, ``"report"``, ...): only a folder of the same kind
        is replaced.
    inputs
        Paths the command reads (export folder or workbook, mapping, configuration): the output
        may not be, hold or lie inside any of them.

    Raises
    ------
    ConfigError
        The folder is a file, overlaps an input, holds files toh did not write, or another
        command is writing it (exit code 2).
    OutputError
        The disk is full, or the location is read-only or not writable (exit code 2).
    """
    out = Path(out)
    inputs = list(inputs)
    real = check_output_location(out, inputs)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        with _lock(real, out):
            _repair(real)
            _check_replaceable(real, out, kind)
            staging = real.parent / f".{real.name}.building-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                yield staging
                interrupts.check()  # a signal whose KeyboardInterrupt a library swallowed: nothing is replaced
                marker = {"kind": kind, "files": written_files(staging)}
                (staging / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n", encoding="utf-8")
                previous = real.parent / f".{real.name}.previous"
                if real.exists():
                    os.rename(real, previous)
                os.rename(staging, real)
                shutil.rmtree(previous, ignore_errors=True)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        where = Path(os.path.realpath(exc.filename)) if isinstance(exc.filename, str) else None
        if exc.errno in _CAUSES and (where is None or _within(where, real.parent)):
            raise _output_error(exc, out) from None
        raise


@contextlib.contextmanager
def output_file(path: str | Path, *, inputs: Iterable[Path | None] = (), own_header: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it replaces
    ``path`` (one atomic rename), otherwise it is removed.

    A single-file output (the failure CSV) may not lie inside an input, and an existing file is
    replaced only when its first line starts with ``own_header`` (a file toh wrote).

    Raises
    ------
    ConfigError
        ``path`` is a folder, lies inside an input, or is a file toh did not write.
    OutputError
        The disk is full, or the location is read-only or not writable.
    """
    path = Path(path)
    real = Path(os.path.realpath(path.absolute()))
    for given in inputs:
        if given is not None and _within(real, Path(os.path.realpath(Path(given).absolute()))):
            raise ConfigError(f"{path} lies inside the input {given}: toh never writes into an export; "
                              "choose a path outside it")
    if real.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name")
    if real.exists():
        try:
            with open(real, encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
        except OSError:
            first = ""
        if not own_header or not first.startswith(own_header):
            raise ConfigError(f"{path} exists and was not written by toh; it is left untouched: choose another path")
    temporary = real.parent / f".{real.name}.{os.getpid()}.tmp"
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield temporary
            interrupts.check()
            os.replace(temporary, real)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    except OSError as exc:
        if exc.errno in _CAUSES:
            raise _output_error(exc, path) from None
        raise
