"""Scheduled builds: configuration file, exit codes, --if-changed, atomic replacement, logs,
determinism."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toh.cohort.errors import ConfigError, InvalidDataError
from report_builders import REPORT_DAY, demo_export, report_config
from toh.reports.cli import _build_steps
from toh.reports.cli.build import build_report
from toh.reports.config import ReportConfig, load_report_config

TOH = [sys.executable, "-c", "from toh.reports.cli import main; main()"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _quiet(config: ReportConfig, **kwargs: object) -> object:
    return build_report(config, log=lambda _: None, interactive=False, **kwargs)  # type: ignore[arg-type]


def test_config_file_paths_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "report.toml"
    path.write_text('[report]\nexport = "../export"\nout = "out"\nformats = ["html", "md"]\n'
                    '[analysis]\nseed = 7\nbootstrap_draws = 0\nstrata = ["sex"]\nvalidation_date = 2026-01-01\n'
                    '[privacy]\nmin_cell = 10\nmachine_readable = true\n')
    config = load_report_config(path)
    assert config.export == tmp_path / "cfg" / "../export" and config.out == tmp_path / "cfg" / "out"
    assert (config.formats, config.seed, config.bootstrap_draws, config.strata) == (("html", "md"), 7, 0, ("sex",))
    assert config.validation_date == REPORT_DAY and config.min_cell == 10 and config.machine_readable
    assert not ReportConfig().machine_readable  # a shared report folder carries no unsuppressed data by default
    changed = config.with_overrides(formats="pdf", min_cell=None, seed=3)
    assert changed.formats == ("pdf",) and changed.min_cell == 10 and changed.seed == 3


@pytest.mark.parametrize("text, message", [
    ("[report]\nexprot = 'x'\n", "[report] has unknown keys ['exprot']"),
    ("[reprot]\n", "unknown sections ['reprot']"),
    ("[privacy]\nmin_cell = 'five'\n", "[privacy].min_cell must be int, got 'five'"),
    ("[privacy]\nmin_cell = -1\n", "min_cell must be 0 or more"),
    ("[analysis]\nstrata = ['sex', 'age']\n", "[analysis] strata: unknown stratum 'age'; strata are sex, pregnancy, "
                                             "treatment and the declared category or boolean columns"),
    ("[analysis]\ncovariates = ['age', 'bmi']\n", "[analysis] covariates: unknown Cox covariate 'bmi'"),
    ("[analysis]\ncovariates = ['age', 'bmi']\ncox_strata = ['bmi']\n[analysis.columns]\n"
     "bmi = { table = 'patients', type = 'number' }\n", "both a Cox covariate and a Cox stratum"),
    ("[analysis]\ncovariates = ['age']\ncox_strata = ['bmi']\n[analysis.columns]\n"
     "bmi = { table = 'patients', type = 'number' }\n", "[analysis] cox_strata: unknown Cox stratum 'bmi'"),
    ("[analysis.columns]\nbmi = { table = 'patients', type = 'float' }\n",
     "[analysis.columns].bmi: extra column 'bmi': type must be one of number, category, boolean"),
    ("[analysis]\ncox_strata = 'treatment'\n", "[analysis].cox_strata must be list"),
    ("[report]\nformats = ['html', 'docx']\n", "formats must name formats among html, pdf, md"),
    ("[analysis]\nvalidation_date = '2026-13-01'\n", "validation_date must be YYYY-MM-DD"),
    ("[report\n", "not a valid TOML file"),
])
def test_config_mistakes_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "report.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_report_config(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


@pytest.mark.slow  # reports built by the command in subprocesses
def test_cli_exit_codes_for_report_builds(tmp_path: Path, hostile_export: Path) -> None:
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[privacy]\nmin_cell = 'x'\n")
    usage = subprocess.run([*TOH, "report", "--config", str(bad_config)], capture_output=True, text=True)
    assert usage.returncode == 2 and "min_cell must be int" in usage.stderr and "Traceback" not in usage.stderr
    missing = subprocess.run([*TOH, "report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "export not found" in missing.stderr
    invalid = tmp_path / "invalid"
    shutil.copytree(hostile_export, invalid)
    (invalid / "patients.csv").write_text((invalid / "patients.csv").read_text().replace(",M,", ",X,", 1))
    failures = tmp_path / "failures.csv"
    result = subprocess.run([*TOH, "report", str(invalid), "--out", str(tmp_path / "o"), "--failures", str(failures),
                             "--validation-date", REPORT_DAY.isoformat(), "--bootstrap", "0"],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "invalid" in result.stderr and failures.is_file()
    assert not (tmp_path / "o").exists()


@pytest.mark.slow  # full rebuilds of the demo report
def test_if_changed_skips_and_rebuilds(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(demo_export(), export, ignore=shutil.ignore_patterns("*.json", "__*"))
    config = report_config(export, tmp_path / "out", bootstrap_draws=0, formats=("md",))
    first = _quiet(config, if_changed=True)
    lines: list[str] = []
    again = build_report(config, if_changed=True, log=lines.append, interactive=False)
    assert first.built and not again.built and again.fingerprint == first.fingerprint  # type: ignore[attr-defined]
    assert any("unchanged" in line and "skipped" in line for line in lines)
    assert _quiet(config.with_overrides(min_cell=3), if_changed=True).built  # type: ignore[attr-defined]
    events = export / "events.csv"
    events.write_text(events.read_text())  # same bytes: still unchanged
    assert not _quiet(config.with_overrides(min_cell=3), if_changed=True).built  # type: ignore[attr-defined]
    events.write_text(events.read_text().replace("surgery", "other", 1))
    assert _quiet(config.with_overrides(min_cell=3), if_changed=True).built  # type: ignore[attr-defined]


@pytest.mark.slow  # full rebuilds of the demo report
def test_failed_or_killed_build_leaves_the_last_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    config = report_config(demo_export(), out, bootstrap_draws=0, formats=("md",))
    _quiet(config)
    before = {p.name: _sha(p) for p in out.rglob("*") if p.is_file()}

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the build is stopped while it renders

    monkeypatch.setattr(_build_steps, "_write_tables", killed)
    lines: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        build_report(config.with_overrides(min_cell=7), log=lines.append, interactive=False)
    monkeypatch.undo()
    # the cron log says where it stopped: the tables are written beside the figures, in their step
    assert "toh report: figures" in lines[-1] and lines[-1].endswith("failed")
    assert {p.name: _sha(p) for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder or lock left
    invalid = tmp_path / "invalid"
    shutil.copytree(demo_export(), invalid, ignore=shutil.ignore_patterns("*.json", "__*"))
    (invalid / "episodes.csv").write_text((invalid / "episodes.csv").read_text().replace(",hip,", ",hipp,", 1))
    with pytest.raises(InvalidDataError):
        _quiet(report_config(invalid, out, bootstrap_draws=0))
    assert {p.name: _sha(p) for p in out.rglob("*") if p.is_file()} == before
    # a build killed between its two renames left .out.previous: the next build restores it first
    out.rename(tmp_path / ".out.previous")
    assert _quiet(config).built  # type: ignore[attr-defined]
    assert not (tmp_path / ".out.previous").exists() and (out / "report.md").is_file()


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    with pytest.raises(ConfigError, match="not the output of a toh command"):
        _quiet(report_config(demo_export(), precious, bootstrap_draws=0))
    assert (precious / "chapter1.tex").read_text() == "years of work"


@pytest.mark.slow  # full rebuilds of the demo report
def test_same_inputs_give_the_same_bytes(demo_report: tuple[Path, list[str]], tmp_path: Path) -> None:
    first, _ = demo_report
    second = tmp_path / "again"
    _quiet(report_config(demo_export(), second))
    for name in ("report.html", "report.md", "report.pdf", "manifest.json", "data/results.json",
                 "figures/km_resolution_sex.png", "tables/table1.csv"):
        assert _sha(first / name) == _sha(second / name), name


def test_log_has_one_line_per_step_with_its_time(demo_report: tuple[Path, list[str]]) -> None:
    _, lines = demo_report
    timed = [line for line in lines if line.split()[-1] == "s" or " s  " in line]
    assert len(timed) == 9 and all("toh report:" in line for line in timed)
    assert lines[-1].startswith("toh report: wrote ")


@pytest.mark.slow  # full rebuilds of the demo report
def test_progress_shows_only_on_an_interactive_terminal(tmp_path: Path) -> None:
    import io

    config = report_config(demo_export(), tmp_path / "out", bootstrap_draws=0, formats=("md",))
    shown, hidden = io.StringIO(), io.StringIO()
    build_report(config, log=lambda _: None, progress=shown, interactive=True)
    build_report(config, log=lambda _: None, progress=hidden)  # a StringIO is not a terminal
    assert "[2/7] validate ..." in shown.getvalue() and "\r" in shown.getvalue()
    assert hidden.getvalue() == ""


@pytest.mark.slow  # a whole report from a workbook
def test_report_of_a_foreign_workbook_through_its_mapping_and_a_config_file(tmp_path: Path) -> None:
    foreign = Path(__file__).parents[2] / "data" / "foreign"
    config = tmp_path / "report.toml"
    config.write_text(f'[report]\nexport = "{foreign / "registry.xlsx"}"\nmapping = "{foreign / "mapping_xlsx.toml"}"\n'
                      'out = "built"\nformats = ["md"]\n[analysis]\nbootstrap_draws = 0\nvalidation_date = 2025-06-30\n'
                      '[privacy]\nmin_cell = 0\n')
    result = subprocess.run([*TOH, "report", "--config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "built" / "report.md").is_file() and not (tmp_path / "built" / "report.html").exists()
    import json

    manifest = json.loads((tmp_path / "built" / "manifest.json").read_text())
    assert set(manifest["provenance"]["inputs_sha256"]) == {"registry.xlsx", "mapping:mapping_xlsx.toml",
                                                             "config:report.toml"}
    text = (tmp_path / "built" / "report.md").read_text()
    assert "No counts are suppressed" in text
    # three patients: the Weibull fit has no finite covariance; the report and the log say so
    assert "Cautions raised by the estimators on these data: the interval-censored Weibull fit of 2" in text
    assert "toh report: caution: the interval-censored Weibull fit of 2 intervals is degenerate" in result.stdout
    assert "RuntimeWarning" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # three whole reports
@pytest.mark.parametrize("patients, seed", [(1, 1), (2, 4), (4, 6)])
def test_a_tiny_registry_still_gives_a_report_with_its_cautions(tmp_path: Path, patients: int, seed: int) -> None:
    # found by building reports of 1-15 simulated patients x 6 seeds: the Weibull fit, the Cox model
    # and cox.zph failed on (2, 4) and (4, 6); they now report NaN / empty tables with a caution
    from toh.cohort.simulate import simulate_registry, write_registry

    write_registry(simulate_registry(patients, seed), tmp_path / "export", "csv")
    lines: list[str] = []
    outcome = build_report(report_config(tmp_path / "export", tmp_path / "out", bootstrap_draws=10, formats=("md",),
                                         validation_date=None), log=lines.append, interactive=False)
    assert outcome.built and (tmp_path / "out" / "report.md").is_file()
    cautions = [line for line in lines if "caution:" in line]
    if (patients, seed) != (1, 1):
        from toh.reports.render.markdown import md_escape

        text = (tmp_path / "out" / "report.md").read_text()
        assert cautions and all(md_escape(c.split("caution: ")[1]) in text for c in cautions)


def test_two_builds_never_write_the_same_folder_at_once(tmp_path: Path) -> None:
    import os

    out = tmp_path / "out"
    # another live process (this test's parent) holds the folder's lock
    (tmp_path / ".out.toh-lock").write_text(f"{os.getppid()}\n", encoding="ascii")
    with pytest.raises(ConfigError, match=f"another toh command \\(process {os.getppid()}\\) is writing"):
        _quiet(report_config(demo_export(), out, bootstrap_draws=0, formats=("md",)))
    assert not out.exists()
