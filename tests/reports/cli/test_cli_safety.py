"""Every command that writes a folder, used as a new user would: twice into the same --out,
--out pointing at the export, a folder of the user's own, and a signal halfway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from builders import BASE_EXPORT, set_cell, write_export
from toh.reports.cli import cli

DATE = ["--validation-date", "2025-06-30"]
QUICK = ["--bootstrap", "5"]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _commands(export: Path, out: Path) -> dict[str, list[str]]:
    return {
        "derive": ["derive", str(export), "--out", str(out), "--format", "csv", *DATE],
        "analyze": ["analyze", str(export), "--out", str(out), *QUICK, *DATE],
        "figures": ["figures", str(export), "--out", str(out), "--format", "svg", *QUICK, *DATE],
        "report": ["report", str(export), "--out", str(out), "--format", "md", *QUICK, *DATE],
        "simulate": ["simulate", "--patients", "7", "--seed", "3", str(out)],
    }


@pytest.mark.parametrize("command", ["derive", "analyze", "simulate",
                                     pytest.param("figures", marks=pytest.mark.slow),
                                     pytest.param("report", marks=pytest.mark.slow)])
def test_twice_into_the_same_out_and_never_into_a_users_folder(tmp_path: Path, command: str) -> None:
    export = write_export(tmp_path / "export", BASE_EXPORT)
    os.chdir(tmp_path)  # the failure CSV's default place
    out = tmp_path / "out"
    args = _commands(export, out)[command]
    for _ in range(2):
        code, text = _run(*args)
        assert code == 0, text
    assert (out / ".toh-output.json").is_file()
    thesis = tmp_path / "thesis"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("my draft\n", encoding="utf-8")
    code, text = _run(*_commands(export, thesis)[command])
    assert code == 2 and "left untouched" in text and "Traceback" not in text
    assert _snapshot(thesis) == {"chapter1.tex": b"my draft\n"}
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    code, text = _run(*args)
    assert code == 2 and "notes.txt" in text
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("command", ["derive", "analyze", "figures", "report"])
@pytest.mark.parametrize("where", ["export", "inside"])
def test_out_pointing_at_the_export_is_refused_before_any_work(tmp_path: Path, command: str, where: str) -> None:
    export = write_export(tmp_path / "export", BASE_EXPORT)
    before = _snapshot(export)
    out = export if where == "export" else export / "results"
    code, text = _run(*_commands(export, out)[command])
    assert code == 2, text
    assert "export" in text and "Validation" not in text  # refused before validating
    assert _snapshot(export) == before


def test_the_failure_csv_never_lands_in_the_export(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", set_cell(BASE_EXPORT, "patients", 0, "sex", "X"))
    before = _snapshot(export)
    code, text = _run("validate", str(export), *DATE, "--failures", str(export / "failures.csv"))
    assert code == 2 and "never writes into an export" in text
    assert _snapshot(export) == before


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


TOH = [sys.executable, "-m", "toh"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A 20,000-patient registry (its bootstrap draws in a forked worker beside the command) and a
    first report of it."""
    folder = tmp_path_factory.mktemp("signals")
    export, out = folder / "registry", folder / "report"
    subprocess.run([*TOH, "simulate", "--patients", "20000", "--seed", "5", str(export)], check=True,
                   capture_output=True)
    report = [*TOH, "report", str(export), "--out", str(out), "--format", "md", "--validation-date", "2026-11-01"]
    subprocess.run([*report, "--bootstrap", "0"], check=True, capture_output=True)
    return folder, report


@pytest.mark.slow
@pytest.mark.parametrize("number, moment, group, twice", [
    (signal.SIGTERM, "start", False, False),      # while it validates
    (signal.SIGTERM, "bootstrap", False, False),  # a scheduler stopping the job
    (signal.SIGHUP, "bootstrap", False, False),   # the terminal closed
    (signal.SIGINT, "bootstrap", True, False),    # Ctrl-C: the terminal signals the whole process group
    (signal.SIGTERM, "bootstrap", False, True),   # an impatient scheduler: a second SIGTERM during the clean-up
])
def test_a_signal_ends_the_workers_and_keeps_the_last_report(
        built: tuple[Path, list[str]], number: signal.Signals, moment: str, group: bool, twice: bool) -> None:
    folder, report = built
    out = folder / "report"
    last = _snapshot(out)
    # 40,000 draws keep the bootstrap's worker (and the command, which draws the chunks the worker has
    # not claimed) busy for tens of seconds (a draw is ~2 ms), so the signal lands while it runs
    process = subprocess.Popen([*report, "--bootstrap", "40000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    workers: list[int] = []
    if moment == "start":
        time.sleep(2.0)  # inside validation (the command line catches signals from its first step)
    else:
        deadline = time.monotonic() + 120
        while not _children(process.pid) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
        time.sleep(1.0)  # well inside the draws
        workers = _children(process.pid)
        assert workers and process.poll() is None, "the bootstrap's worker never started"
    if group:
        os.killpg(process.pid, number)
    else:
        process.send_signal(number)
    if twice:
        for _ in range(20):  # again and again while it unwinds: ignored, the first one is being handled
            time.sleep(0.01)
            if process.poll() is None:
                process.send_signal(number)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"interrupted by {number.name}" in err and "Traceback" not in err
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "a worker outlived the command"
    assert _snapshot(out) == last
    assert sorted(p.name for p in folder.iterdir()) == ["registry", "report"]  # no lock or staging left


@pytest.mark.parametrize("how", ["-m", "script"])
def test_ctrl_c_while_the_command_line_loads_exits_130_without_a_traceback(tmp_path: Path, how: str) -> None:
    """Ctrl-C in the first moment, while ``toh`` is still importing its command line (before a
    command installs its own handling), ends with 130 and one line, not Python's traceback: the
    KeyboardInterrupt is raised here as the import of click begins."""
    (tmp_path / "sitecustomize.py").write_text(
        "import builtins\n"
        "real = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'click':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n")
    script = Path(sys.executable).with_name("toh")
    command = [sys.executable, "-m", "toh"] if how == "-m" else [str(script)]
    if how == "script" and not script.exists():
        pytest.skip("no toh console script beside this interpreter")
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 130, done.stderr
    assert "toh: interrupted" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_signal_inside_code_run_from_a_string_still_exits_130(tmp_path: Path) -> None:
    """A signal that lands while code made from a string runs (exec: a dataclass or namedtuple
    being made by a module imported on the way) leaves a KeyboardInterrupt that CPython marks as
    unhandled even once the command has caught it; under ``python -m toh`` the process then died
    by SIGINT (exit -2) after saying it was interrupted.  It exits 130, as for any other moment."""
    export = write_export(tmp_path / "registry", BASE_EXPORT)
    (tmp_path / "signal_in_exec.py").write_text(
        "import sys\n"
        "import toh.cohort.validate as validate\n"
        "real = validate.validate_export\n"
        "def validate_export(*args, **kwargs):\n"
        "    exec('import os, signal, time\\nos.kill(os.getpid(), signal.SIGTERM)\\ntime.sleep(5)', {})\n"
        "    return real(*args, **kwargs)\n"
        "validate.validate_export = validate_export\n"
        "from toh.reports.cli import main\n"
        "sys.argv = ['toh', 'validate', sys.argv[1]]\n"
        "main()\n")
    done = subprocess.run([sys.executable, "-m", "signal_in_exec", str(export)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert "interrupted by SIGTERM" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done.stderr


@pytest.mark.parametrize("command", [["analyze", "--bootstrap", "5"],
                                     pytest.param(["report", "--format", "md", "--bootstrap", "5"],
                                                  marks=pytest.mark.slow)])
def test_a_signal_a_library_swallows_still_stops_the_command(tmp_path: Path, command: list[str]) -> None:
    """A library that swallows the KeyboardInterrupt of a signal (``try: ... except: pass``, as
    around an optional import) does not let the command publish: it exits 130 at its next step
    or before its folder is renamed into place, and the last output stays as it was."""
    export = write_export(tmp_path / "registry", BASE_EXPORT)
    out = tmp_path / "out"
    code, text = _run(command[0], str(export), "--out", str(out), *command[1:], *DATE)
    assert code == 0, text
    last = _snapshot(out)
    (tmp_path / "swallowing.py").write_text(
        "import os, signal, sys, time\n"
        "import toh.cohort.derive as derive\n"
        "real = derive.derive_cohort\n"
        "def derive_cohort(*args, **kwargs):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    except BaseException:\n"
        "        pass\n"
        "    return real(*args, **kwargs)\n"
        "derive.derive_cohort = derive_cohort\n"
        "from toh.reports.cli import main\n"
        "sys.argv = ['toh', *sys.argv[1:]]\n"
        "main()\n")
    done = subprocess.run([sys.executable, "-m", "swallowing", command[0], str(export), "--out", str(out),
                           *command[1:], *DATE], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert done.returncode == 130, done.stderr
    assert "interrupted by SIGTERM" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert _snapshot(out) == last
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging or lock left


@pytest.mark.slow  # a whole report with its PDF
def test_a_12000_character_free_text_cell_neither_breaks_the_pdf_nor_fills_the_page(tmp_path: Path) -> None:
    """A free-text value typed into a code column (treatment) once ended the PDF step with an
    internal error ("too high to be rendered on a single page"); every table cell is now cut to
    120 characters, saying how long it was, in every format."""
    export = write_export(tmp_path / "export", set_cell(BASE_EXPORT, "episodes", 0, "treatment", "x" * 12000))
    out = tmp_path / "report"
    code, text = _run("report", str(export), "--out", str(out), "--format", "pdf,md", *QUICK, *DATE,
                      "--min-cell", "0")
    assert code == 0, text
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "x" * 120 in markdown and "(12,000 characters)" in markdown and "x" * 121 not in markdown
    assert (out / "report.pdf").stat().st_size > 10_000


@pytest.mark.slow  # a whole report
def test_a_report_of_an_export_without_events_says_not_estimable(tmp_path: Path) -> None:
    """No events table: the complications section gives the reason instead of zeros, its figure
    is not drawn, the claims resting on it are not assessable, and the data section says so."""
    import shutil

    from report_builders import demo_export

    export = tmp_path / "export"
    shutil.copytree(demo_export(), export, ignore=shutil.ignore_patterns("*.json", "__*", "events.csv"))
    out = tmp_path / "report"
    code, text = _run("report", str(export), "--out", str(out), "--format", "md", *QUICK,
                      "--validation-date", "2026-01-01")
    assert code == 0, text
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "Not estimable: the export has no events table." in markdown
    assert "absent: not in the export" in markdown and "not assessable" in markdown
    assert not (out / "figures" / "complications.png").exists()
    assert (out / "figures" / "radiographic_change.png").exists()
