"""The ``toh`` command: exit codes, messages without tracebacks, outputs, light start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from builders import BASE_EXPORT, set_cell, write_export
from toh.reports.cli import cli

DATE = ["--validation-date", "2025-06-30"]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_validate_valid_export_describes_the_cohort(base_export: Path, tmp_path: Path) -> None:
    code, out = _run("validate", str(base_export), *DATE, "--failures", str(tmp_path / "f.csv"))
    assert code == 0, out
    assert "VALID: 0 error(s)" in out
    assert "Cohort: 2 patients with an index hip episode (1 men, 1 women)" in out
    assert not (tmp_path / "f.csv").exists()


def test_validate_broken_export_lists_every_problem(tmp_path: Path) -> None:
    tables = set_cell(BASE_EXPORT, "patients", 0, "sex", "=HYPERLINK(\"x\")")
    tables = set_cell(tables, "episodes", 3, "onset_date", "2021-02-30")
    tables = set_cell(tables, "imaging", 0, "episode_id", "E99")
    export = write_export(tmp_path / "bad", tables)
    failures = tmp_path / "failures.csv"
    code, out = _run("validate", str(export), *DATE, "--failures", str(failures))
    assert code == 1
    assert "INVALID: 3 error(s)" in out and "Traceback" not in out
    frame = pd.read_csv(failures, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["severity", "table", "file", "row", "column", "source_column", "value",
                                   "rule", "message", "patient_id", "episode_id", "exam_id", "event_id",
                                   "related_table", "related_file", "related_row", "related_column", "related_value"]
    ids = set(zip(frame["table"], frame["patient_id"], frame["episode_id"], frame["exam_id"], frame["event_id"]))
    assert ids == {("patients", "P1", "", "", ""), ("episodes", "P1", "E4", "", ""), ("imaging", "", "E99", "X1", "")}
    got = set(zip(frame["file"], frame["row"], frame["column"], frame["value"], frame["rule"]))
    assert got == {
        ("patients.csv", "2", "sex", "'=HYPERLINK(\"x\")", "code_list"),  # defused for spreadsheets
        ("episodes.csv", "5", "onset_date", "2021-02-30", "date_format"),
        ("imaging.csv", "2", "episode_id", "E99", "episode_exists"),
    }


def test_usage_and_config_errors_exit_2_without_traceback(tmp_path: Path, base_export: Path) -> None:
    code, out = _run("validate", str(tmp_path / "nowhere"))
    assert code == 2 and "export not found" in out and "Traceback" not in out
    bad = tmp_path / "m.toml"
    bad.write_text("[tables.patients.columns]\nheight = 'x'\n")
    code, out = _run("validate", str(base_export), "--mapping", str(bad))
    assert code == 2 and "not a column of the patients table" in out
    code, out = _run("simulate", "--patients", "0", str(tmp_path / "sim"))
    assert code == 2


def test_derive_writes_the_tables(base_export: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "derived"
    code, out = _run("derive", str(base_export), *DATE, "--out", str(out_dir))
    assert code == 0, out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [".toh-output.json", "attrition.parquet", "attrition_summary.parquet", "episodes.parquet", "events.parquet",
                     "imaging.parquet", "index.parquet"]
    index = pd.read_parquet(out_dir / "index.parquet")
    assert list(index["patient_id"]) == ["P1", "P2"]
    code, _ = _run("derive", str(base_export), *DATE, "--out", str(tmp_path / "csv"), "--format", "csv")
    assert code == 0
    episodes = pd.read_csv(tmp_path / "csv" / "episodes.csv")
    assert episodes.loc[episodes["episode_id"] == "E6", "xr_upper_day"].item() == float("inf")


def test_derive_refuses_an_invalid_export(tmp_path: Path) -> None:
    export = write_export(tmp_path / "bad", set_cell(BASE_EXPORT, "patients", 0, "sex", "X"))
    code, _ = _run("derive", str(export), *DATE, "--out", str(tmp_path / "out"),
                   "--failures", str(tmp_path / "f.csv"))
    assert code == 1 and not (tmp_path / "out").exists()


def test_simulate_is_reproducible_and_valid(tmp_path: Path) -> None:
    for name in ("a", "b"):
        code, out = _run("simulate", "--patients", "60", "--seed", "7", str(tmp_path / name))
        assert code == 0, out
    for table in ("patients", "episodes", "imaging", "events"):
        assert (tmp_path / "a" / f"{table}.csv").read_bytes() == (tmp_path / "b" / f"{table}.csv").read_bytes()
    code, out = _run("validate", str(tmp_path / "a"), "--failures", str(tmp_path / "f.csv"))
    assert code == 0, out


@pytest.mark.slow  # the whole demo report (CI also runs `toh demo` itself)
def test_demo_runs_on_the_bundled_registry(tmp_path: Path) -> None:
    code, out = _run("demo", "--out", str(tmp_path / "demo"))
    assert code == 0, out
    for name in ("report.html", "report.pdf", "report.md", "figures/km_resolution_sex.png",
                 "tables/table1.csv", "manifest.json"):
        assert (tmp_path / "demo" / name).is_file(), name
    # the report folder is what people share: no unsuppressed data unless machine_readable = true
    assert not (tmp_path / "demo" / "data").exists()
    assert f"Open {tmp_path / 'demo' / 'report.html'}" in out
    assert not (tmp_path / "demo" / "derived").exists()  # derived tables hold patient ids: not in a report


@pytest.mark.slow  # every figure of the demo, twice
def test_figures_command(tmp_path: Path) -> None:
    demo = Path(__file__).parents[3] / "cohort" / "demo"
    args = ["figures", str(demo), "--format", "png", "--bootstrap", "20", "--validation-date", "2026-01-31"]
    code, out = _run(*args, "--out", str(tmp_path / "a"))
    assert code == 0, out
    names = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != ".toh-output.json")
    assert "claims_forest.png" in names and "km_resolution_all.png" in names and len(names) == 10
    code, _ = _run(*args, "--out", str(tmp_path / "b"))
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    code, out = _run("figures", str(demo), "--out", str(tmp_path / "c"), "--format", "gif")
    assert code == 2 and "formats must be among" in out


def test_version() -> None:
    code, out = _run("--version")
    assert code == 0 and out.startswith("toh, version ")


@pytest.mark.parametrize("start", [
    "from toh.reports.cli import main\nsys.argv = ['toh', '--help']\ntry:\n    main()\nexcept SystemExit:\n    pass\n",
    # the public API: its names are listed and resolvable without importing any of them
    "import toh\nassert 'kaplan_meier' in toh.__all__ and 'kaplan_meier' in dir(toh)\ntoh.__version__\n",
], ids=["toh --help", "import toh"])
def test_start_up_imports_no_heavy_library(start: str) -> None:
    probe = (
        "import sys\n"
        + start +
        "heavy = {'lifelines', 'seaborn', 'statsmodels', 'matplotlib', 'pandas', 'pandera', 'scipy'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parents[3])
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_closed_stdout_ends_the_command_quietly(tmp_path: Path, monkeypatch, capsys) -> None:
    export = write_export(tmp_path / "bad", set_cell(BASE_EXPORT, "patients", 0, "sex", "X"))
    read, write = os.pipe()
    os.close(read)  # the reader has gone, as `head -1` goes after one line
    stream = os.fdopen(write, "w")
    monkeypatch.setattr(sys, "stdout", stream)
    with pytest.raises(SystemExit) as stopped:
        cli(["validate", str(export), *DATE, "--failures", str(tmp_path / "f.csv")])
    stream.write("more output after the pipe closed\n")
    stream.flush()  # goes to the null device now: no second BrokenPipeError at exit
    stream.close()
    assert stopped.value.code == 1  # cut short, the export is still invalid: a pipeline must see it
    assert "internal error" not in capsys.readouterr().err
    assert (tmp_path / "f.csv").is_file()  # written before anything is printed


@pytest.mark.slow
def test_validate_piped_into_head(tmp_path: Path) -> None:
    export = write_export(tmp_path / "x", BASE_EXPORT)
    toh = Path(sys.executable).with_name("toh")
    result = subprocess.run(f"'{toh}' validate '{export}' --failures '{tmp_path / 'f.csv'}' | true; "
                            'echo "exit ${PIPESTATUS[0]}"', shell=True, executable="/bin/bash",
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.stdout.strip().splitlines()[-1] == "exit 0"
    assert "Error" not in result.stderr and "internal error" not in result.stderr


def test_a_configuration_declares_extra_columns_for_validate_derive_and_analyze(tmp_path: Path) -> None:
    tables = dict(BASE_EXPORT)
    lines = tables["patients"].splitlines()
    tables["patients"] = "\n".join([lines[0] + ",bmi", lines[1] + ",24.5", lines[2] + ",heavy", lines[3] + ","]) + "\n"
    export = write_export(tmp_path / "x", tables)
    config = tmp_path / "report.toml"
    config.write_text('[analysis.columns]\nbmi = { table = "patients", type = "number" }\n')
    failures = tmp_path / "failures.csv"
    code, output = _run("validate", str(export), "--config", str(config), "--failures", str(failures),
                        "--validation-date", "2025-06-30")
    assert code == 1 and "number" in output
    failed = pd.read_csv(failures, dtype=str, keep_default_na=False)
    assert failed[["file", "row", "column", "value", "rule", "patient_id"]].values.tolist() == [
        ["patients.csv", "3", "bmi", "heavy", "number", "P2"]]
    code, output = _run("validate", str(export), "--failures", str(failures), "--validation-date", "2025-06-30")
    assert code == 0 and "extra_column" in output  # undeclared: kept, a warning, never used
    config.write_text("[analysis]\ncovariates = ['age', 'bmi2']\n")
    code, output = _run("analyze", str(export), "--config", str(config), "--out", str(tmp_path / "out"))
    assert code == 2 and "covariates" in output and "bmi2" in output
