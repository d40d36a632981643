"""The pipeline every command and the API share: validate, derive, analyse, cautions."""

from __future__ import annotations

import ast
import datetime as dt
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Iterator

import pytest

from builders import BASE_EXPORT, set_cell, write_export
from toh.analyses.pipeline import analyse_export, derive_export
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from toh.cohort.derive import derive_cohort
from toh.cohort.errors import InvalidDataError
from toh.cohort.validate import load_valid_export

DAY = dt.date(2026, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


def test_the_pipeline_equals_its_steps_run_by_hand() -> None:
    demo = Path(str(files("toh.cohort.demo")))
    options = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=10))
    seen: list[str] = []

    @contextmanager
    def step(name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {}
        yield note
        seen.append(f"{name}: {note.get('text', '')}")

    run = analyse_export(demo, options=options, validation_date=DAY, step=step)
    by_hand = analyse_cohort(derive_cohort(load_valid_export(demo, validation_date=DAY).tables), options)
    assert run.analysis.headline() == by_hand.headline()
    assert run.analysis.baseline.table.equals(by_hand.baseline.table)  # Table 1's data travels with it
    assert [s.split(":")[0] for s in seen] == ["validate", "derive", "analyse"]
    assert seen[1] == "derive: 400 patients in the cohort"
    assert isinstance(run.cautions, tuple) and "400 patients" in repr(run)


def test_an_invalid_export_stops_after_validation_with_its_report(tmp_path: Path) -> None:
    export = write_export(tmp_path / "bad", set_cell(BASE_EXPORT, "patients", 0, "sex", "X"))
    reports = []
    with pytest.raises(InvalidDataError) as caught:
        analyse_export(export, validation_date=DAY, on_validated=reports.append)
    assert len(reports) == 1 and caught.value.report is reports[0]
    assert "1 error(s)" in str(caught.value)
    report, derived = derive_export(write_export(tmp_path / "good", BASE_EXPORT), validation_date=dt.date(2025, 6, 30))
    assert report.is_valid and len(derived.index) == 2


def test_no_command_runs_the_steps_itself() -> None:
    """validate_export, derive_cohort and analyse_cohort are called only by the pipeline (and
    the validation report's own helpers): the command line and the report build go through it."""
    steps = {"validate_export", "derive_cohort", "analyse_cohort", "load_valid_export"}
    callers = []
    for path in sorted((ROOT / "reports").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in steps:
                callers.append(f"{path.name}:{node.lineno}")
    assert not callers, callers
