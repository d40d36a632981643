"""The pipeline every command and the API share: validate, derive, analyse, cautions."""

from __future__ import annotations

import ast
import datetime as dt
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Iterator

import pandas as pd
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
    # the pipeline's analyses ran in the worker it forked before validation (pickled to it), those
    # by hand in this process: every table the same
    for name, table in by_hand.tables().items():
        pd.testing.assert_frame_equal(run.analysis.tables()[name], table, check_exact=True)
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


def _demo_with_extras(folder: Path, bmi_of_second: str = "31.5") -> Path:
    """The demo export with two extra patients' columns: BMI (one missing) and smoking."""
    import shutil

    import pandas as pd

    shutil.copytree(Path(str(files("toh.cohort.demo"))), folder, ignore=shutil.ignore_patterns("*.json", "__*"))
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    n = len(patients)
    patients["bmi"] = [f"{20 + (i * 7) % 15}.5" for i in range(n)]
    patients.loc[1, "bmi"] = bmi_of_second
    patients.loc[2, "bmi"] = ""
    patients["smoking"] = [("never", "never", "former", "current")[i % 4] for i in range(n)]
    patients.to_csv(folder / "patients.csv", index=False)
    return folder


def test_declared_extra_columns_go_from_the_export_to_the_cox_model_and_strata(tmp_path: Path) -> None:
    from toh.analyses.resolution import ResolutionOptions
    from toh.cohort.columns import ExtraColumn

    columns = (ExtraColumn("bmi", "patients", "number", "BMI", per=5), ExtraColumn("smoking", "patients", "category"))
    options = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0), columns=columns,
                              resolution=ResolutionOptions(strata=("sex", "smoking"), cox_covariates=(
                                  "male", "age", "pregnancy_associated", "treatment", "bmi", "smoking")))
    run = analyse_export(_demo_with_extras(tmp_path / "x"), options=options, validation_date=DAY)
    assert {"bmi", "smoking"} <= set(run.derived.index.columns)
    cox = run.analysis.resolution.cox
    assert {"BMI, per 5", "Smoking: never (reference)", "Smoking: current (vs never)"} <= set(cox["label"])
    assert run.analysis.resolution.cox_missing >= 1  # the patient without a BMI
    assert set(run.analysis.resolution.medians.query("variable == 'smoking'")["stratum"]) == {
        "current", "former", "never"}
    head = run.analysis.headline()
    assert "resolution.cox.bmi_per_5.estimate" in head and "resolution.logrank.smoking.p" in head
    with pytest.raises(InvalidDataError) as caught:  # a value of the wrong type stops the run
        analyse_export(_demo_with_extras(tmp_path / "y", "obese"), options=options, validation_date=DAY)
    bad = caught.value.report.errors
    assert list(bad[["column", "value", "rule"]].itertuples(index=False, name=None)) == [("bmi", "obese", "number")]
