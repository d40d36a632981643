"""Output folders and files: no user file is ever overwritten or deleted, outputs are replaced
atomically, one writer at a time, and file-system faults are named plainly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from toh.cohort.errors import ConfigError, OutputError
from toh.cohort.outputs import MARKER, check_output, output_file, output_folder


def _write(folder: Path, name: str = "a.csv", text: str = "x\n") -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def _litter(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_the_folder_appears_complete_with_its_marker(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out, "derive") as stage:
        _write(stage, "a.csv")
        _write(stage, "sub/b.csv", "y\n")
        assert not out.exists()  # nothing is visible before the block ends
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["kind"] == "derive" and sorted(marker["files"]) == ["a.csv", "sub/b.csv"]
    assert _litter(tmp_path) == []  # no lock, staging or previous folder left


def test_the_same_command_replaces_its_own_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for text in ("first\n", "second\n"):
        with output_folder(out, "derive") as stage:
            _write(stage, "a.csv", text)
    assert (out / "a.csv").read_text(encoding="utf-8") == "second\n"


@pytest.mark.parametrize("fault", ["foreign file", "changed file", "other command", "not toh"])
def test_a_folder_holding_anything_else_stops_the_command_untouched(tmp_path: Path, fault: str) -> None:
    out = tmp_path / "out"
    if fault == "not toh":
        out.mkdir()
        _write(out, "thesis.tex", "draft\n")
    else:
        with output_folder(out, "analyze" if fault == "other command" else "derive") as stage:
            _write(stage, "a.csv")
    if fault == "foreign file":
        _write(out, "notes.txt", "mine\n")
    if fault == "changed file":
        _write(out, "a.csv", "edited by hand\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError) as caught:
        check_output(out, "derive")
    with pytest.raises(ConfigError), output_folder(out, "derive") as stage:
        _write(stage, "a.csv", "new\n")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    message = str(caught.value)
    expected = {"foreign file": "notes.txt", "changed file": "a.csv", "other command": "toh analyze",
                "not toh": "not the output of a toh command"}[fault]
    assert expected in message and str(out) in message
    assert _litter(tmp_path) == []


@pytest.mark.parametrize("where", ["the export", "inside the export", "around the export", "the mapping"])
def test_an_output_never_touches_an_input(tmp_path: Path, where: str) -> None:
    export = tmp_path / "export"
    export.mkdir()
    _write(export, "patients.csv", "patient_id\n")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("", encoding="utf-8")
    out = {"the export": export, "inside the export": export / "derived", "around the export": tmp_path,
           "the mapping": mapping}[where]
    with pytest.raises(ConfigError, match="export|input|file"):
        check_output(out, "derive", (export, mapping))
    assert (export / "patients.csv").read_text(encoding="utf-8") == "patient_id\n"
    assert sorted(p.name for p in export.iterdir()) == ["patients.csv"]


def test_a_symlinked_folder_is_followed_and_the_link_kept(tmp_path: Path) -> None:
    target = tmp_path / "disk" / "real"
    target.parent.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    for text in ("1\n", "2\n"):
        with output_folder(link, "figures") as stage:
            _write(stage, "f.svg", text)
    assert link.is_symlink() and (target / "f.svg").read_text(encoding="utf-8") == "2\n"
    assert _litter(target.parent) == []


@pytest.mark.parametrize("how", [RuntimeError, KeyboardInterrupt])
def test_a_failed_or_interrupted_command_keeps_the_last_output(tmp_path: Path, how: type[BaseException]) -> None:
    out = tmp_path / "out"
    with output_folder(out, "analyze") as stage:
        _write(stage, "results.json", "{}\n")
    with pytest.raises(how), output_folder(out, "analyze") as stage:
        _write(stage, "results.json", "half\n")
        raise how("stopped halfway")
    assert (out / "results.json").read_text(encoding="utf-8") == "{}\n"
    assert _litter(tmp_path) == []


def test_a_kill_between_the_two_renames_is_repaired(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_folder(out, "report") as stage:
        _write(stage, "report.md", "old\n")
    out.rename(tmp_path / ".out.previous")  # what a kill after the first rename leaves
    (tmp_path / ".out.building-999999999").mkdir()  # and the staging folder of a dead process
    check_output(out, "report")  # the pre-flight check accepts it too
    with output_folder(out, "report") as stage:
        assert (out / "report.md").read_text(encoding="utf-8") == "old\n"  # restored first
        _write(stage, "report.md", "new\n")
    assert (out / "report.md").read_text(encoding="utf-8") == "new\n"
    assert _litter(tmp_path) == []


@pytest.fixture
def sleeper() -> Iterator[int]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process.pid
    process.kill()
    process.wait()


def test_a_live_lock_is_respected_and_a_dead_one_taken_over(tmp_path: Path, sleeper: int) -> None:
    out = tmp_path / "out"
    lock = tmp_path / ".out.toh-lock"
    lock.write_text(f"{sleeper}\n", encoding="ascii")
    with pytest.raises(ConfigError, match=f"process {sleeper}"), output_folder(out, "derive"):
        pass
    assert lock.exists() and not out.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(dead.stdout, encoding="ascii")
    with output_folder(out, "derive") as stage:
        _write(stage)
    assert (out / "a.csv").exists() and _litter(tmp_path) == []


def test_a_killed_holder_not_yet_reaped_holds_no_lock(tmp_path: Path) -> None:
    """A command killed a moment ago (kill -9) is a zombie until its parent reaps it: its pid
    still exists, but its lock is taken over at once, as a dead one is."""
    import signal
    import time

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(process.pid, signal.SIGKILL)
        for _ in range(200):  # until the kernel has made it a zombie (not reaped: no wait yet)
            if Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                break
            time.sleep(0.01)
        os.kill(process.pid, 0)  # the pid exists
        out = tmp_path / "out"
        (tmp_path / ".out.toh-lock").write_text(f"{process.pid}\n", encoding="ascii")
        with output_folder(out, "derive") as stage:
            _write(stage)
        assert (out / "a.csv").exists() and _litter(tmp_path) == []
    finally:
        process.wait()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only: the CI machine and the developer's run as root)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_named_and_the_last_output_kept(tiny_disk: Path) -> None:
    out = tiny_disk / "out"
    with output_folder(out, "figures") as stage:
        _write(stage, "small.svg", "ok\n")
    with pytest.raises(OutputError, match="the disk is full"), output_folder(out, "figures") as stage:
        (stage / "big.png").write_bytes(os.urandom(256 * 1024))
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "small.svg"]
    assert _litter(tiny_disk) == []


def test_a_link_to_another_file_system_is_replaced_there(tmp_path: Path, tiny_disk: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tiny_disk / "real", target_is_directory=True)
    for text in ("1\n", "2\n"):
        with output_folder(link, "derive") as stage:
            _write(stage, "a.csv", text)
    assert link.is_symlink() and (tiny_disk / "real" / "a.csv").read_text(encoding="utf-8") == "2\n"
    assert _litter(tiny_disk) == [] and _litter(tmp_path) == []


def test_a_read_only_location_is_named(tiny_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    with pytest.raises(OutputError, match="read-only"), output_folder(tiny_disk / "out", "derive"):
        pass


def test_the_failure_csv_replaces_only_its_own_file(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    header = "severity,table,file"
    own = tmp_path / "failures.csv"
    for text in (f"{header}\nfirst\n", f"{header}\nsecond\n"):
        with output_file(own, inputs=(export,), own_header=header) as temporary:
            temporary.write_text(text, encoding="utf-8")
    assert own.read_text(encoding="utf-8").endswith("second\n")
    mine = tmp_path / "notes.csv"
    mine.write_text("my notes\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not written by toh"), output_file(mine, own_header=header):
        pass
    with pytest.raises(ConfigError, match="inside the input"), output_file(export / "f.csv", inputs=(export,)):
        pass
    assert mine.read_text(encoding="utf-8") == "my notes\n" and list(export.iterdir()) == []
    assert _litter(tmp_path) == []
