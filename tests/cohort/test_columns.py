"""Declared extra columns: typed at validation (a bad value is a failure like any other, an absent
column a column_missing error), carried to the index table, refused when the declaration is wrong."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from builders import BASE_EXPORT, VALIDATION_DATE, write_export
from toh.cohort.columns import RESERVED_NAMES, ExtraColumn, parse_columns
from toh.cohort.derive import derive_cohort
from toh.cohort.errors import ConfigError
from toh.cohort.validate import validate_export

COLUMNS = (ExtraColumn("bmi", "patients", "number"), ExtraColumn("smoking", "patients", "category"),
           ExtraColumn("vitd_low", "episodes", "boolean"))


def _with_extras(patients: dict[str, list[str]], episodes: dict[str, list[str]]) -> dict[str, str]:
    out = dict(BASE_EXPORT)
    for table, extra in (("patients", patients), ("episodes", episodes)):
        lines = out[table].splitlines()
        names = list(extra)
        rows = [line + "".join(f",{extra[n][i]}" for n in names) for i, line in enumerate(lines[1:])]
        out[table] = "\n".join([lines[0] + "".join(f",{n}" for n in names), *rows]) + "\n"
    return out


GOOD_PATIENTS = {"bmi": ["24.5", "", " 31 "], "smoking": ["never", "current ", ""]}
GOOD_EPISODES = {"vitd_low": ["true", "false", "", "", "", "false", ""]}


def test_declared_columns_are_typed_and_reach_the_index_table(tmp_path: Path) -> None:
    export = write_export(tmp_path / "x", _with_extras(GOOD_PATIENTS, GOOD_EPISODES))
    report = validate_export(export, validation_date=VALIDATION_DATE, columns=COLUMNS)
    assert report.is_valid and report.warnings.empty  # declared: no extra_column warning
    patients = report.tables["patients"]
    assert patients["bmi"].dtype == "float64" and patients["bmi"].tolist()[0] == 24.5
    assert patients["bmi"].isna().tolist() == [False, True, False] and patients["bmi"].iloc[2] == 31
    assert patients["smoking"].tolist()[:2] == ["never", "current"] and pd.isna(patients["smoking"].iloc[2])
    assert str(report.tables["episodes"]["vitd_low"].dtype) == "boolean"
    derived = derive_cohort(report.tables, columns=COLUMNS)
    index = derived.index.set_index("patient_id")
    # P1's index episode is E1 (vitd_low true), P2's is E6 (the sixth row: false)
    assert index.loc["P1", "bmi"] == 24.5 and pd.isna(index.loc["P2", "bmi"])
    assert index.loc["P1", "smoking"] == "never" and index.loc["P2", "smoking"] == "current"
    assert bool(index.loc["P1", "vitd_low"]) is True and bool(index.loc["P2", "vitd_low"]) is False
    episodes = derived.episodes.set_index("episode_id")
    assert episodes.loc["E2", "bmi"] == 24.5  # a patients' column on each of the patient's episodes
    assert derived.columns == COLUMNS


def test_a_value_of_the_wrong_type_is_a_validation_failure(tmp_path: Path) -> None:
    patients = {"bmi": ["24.5", "heavy", "inf"], "smoking": ["never", "current", ""]}
    episodes = {"vitd_low": ["true", "maybe", "", "", "", "", ""]}
    report = validate_export(write_export(tmp_path / "x", _with_extras(patients, episodes)),
                             validation_date=VALIDATION_DATE, columns=COLUMNS)
    assert not report.is_valid
    errors = report.errors[["table", "file", "row", "column", "value", "rule", "patient_id", "episode_id"]]
    got = {tuple(r) for r in errors.astype(object).itertuples(index=False)}
    assert got == {("patients", "patients.csv", 3, "bmi", "heavy", "number", "P2", None),
                   ("patients", "patients.csv", 4, "bmi", "inf", "number", "P3", None),
                   ("episodes", "episodes.csv", 3, "vitd_low", "maybe", "boolean", "P1", "E2")}


def test_an_absent_declared_column_is_a_column_missing_error(tmp_path: Path) -> None:
    report = validate_export(write_export(tmp_path / "x", _with_extras(GOOD_PATIENTS, {})),
                             validation_date=VALIDATION_DATE, columns=COLUMNS)
    missing = report.errors[report.errors["rule"] == "column_missing"]
    assert list(missing["column"]) == ["vitd_low"] and "declared in [analysis.columns]" in missing["message"].iloc[0]


def test_an_undeclared_extra_column_stays_a_warning(tmp_path: Path) -> None:
    report = validate_export(write_export(tmp_path / "x", _with_extras(GOOD_PATIENTS, {})),
                             validation_date=VALIDATION_DATE)
    assert report.is_valid and set(report.warnings["rule"]) == {"extra_column"}


@pytest.mark.parametrize("raw, message", [
    ({"bmi": {"table": "imaging", "type": "number"}}, "table must be one of patients, episodes"),
    ({"bmi": {"table": "patients", "type": "float"}}, "type must be one of number, category, boolean"),
    ({"bmi": {"table": "patients"}}, "needs type"),
    ({"bmi": {"table": "patients", "type": "number", "unit": "kg"}}, "unknown keys ['unit']"),
    ({"bmi": {"table": "patients", "type": "category", "per": 5}}, "per is for numbers only"),
    ({"sex": {"table": "patients", "type": "category"}}, "a column of the contract"),
    ({"died": {"table": "patients", "type": "boolean"}}, "name of a derived column"),
    ({"bmi (kg/m2)": {"table": "patients", "type": "number"}}, "rename the column in the export"),
    ({"bmi": "number"}, "must be an inline table"),
])
def test_bad_declarations_are_config_errors_naming_the_column(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_columns(raw, "report.toml: [analysis.columns]")
    assert "report.toml: [analysis.columns]" in str(caught.value) and message in str(caught.value)


def test_every_derived_column_is_reserved(tmp_path: Path) -> None:
    report = validate_export(write_export(tmp_path / "x", BASE_EXPORT), validation_date=VALIDATION_DATE)
    derived = derive_cohort(report.tables)
    contract = {c for frame in report.tables.values() for c in frame.columns}
    made = (set(derived.index.columns) | set(derived.episodes.columns)) - contract
    assert made <= RESERVED_NAMES, sorted(made - RESERVED_NAMES)
