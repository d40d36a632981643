"""Foreign-layout exports load through a mapping file; broken mappings are configuration errors.

tests/data/foreign is made by tests/data/make_foreign.py from the canonical base export, so the
typed tables read through the mapping must equal those read from the canonical export.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from builders import VALIDATION_DATE
from toh.cohort.errors import ConfigError
from toh.cohort.mapping import load_mapping
from toh.cohort.validate import validate_export

FOREIGN = Path(__file__).parents[1] / "data" / "foreign"


def _canonical(base_export: Path):
    return validate_export(base_export, validation_date=VALIDATION_DATE)


def test_foreign_csv_export_loads_through_the_mapping(base_export: Path) -> None:
    report = validate_export(FOREIGN / "csv", FOREIGN / "mapping.toml", validation_date=VALIDATION_DATE)
    assert report.is_valid, report.failures.to_string()
    assert report.files["patients"] == "patienten.csv"
    expected = _canonical(base_export)
    for table, frame in expected.tables.items():
        pd.testing.assert_frame_equal(report.tables[table], frame, check_like=False)


def test_foreign_workbook_loads_through_the_mapping(base_export: Path) -> None:
    report = validate_export(FOREIGN / "registry.xlsx", FOREIGN / "mapping_xlsx.toml",
                             validation_date=VALIDATION_DATE)
    assert report.is_valid, report.failures.to_string()
    assert report.files["episodes"] == "registry.xlsx[Episodes]"
    expected = _canonical(base_export)
    for table, frame in expected.tables.items():
        pd.testing.assert_frame_equal(report.tables[table], frame)


def test_failure_names_the_exports_own_file_column_and_value(tmp_path: Path) -> None:
    export = tmp_path / "csv"
    shutil.copytree(FOREIGN / "csv", export)
    path = export / "patienten.csv"
    path.write_text(path.read_text().replace("P2;2;", "P2;3;"))
    report = validate_export(export, FOREIGN / "mapping.toml", validation_date=VALIDATION_DATE)
    error = report.errors.iloc[0]
    assert (error["file"], error["row"], error["column"], error["source_column"], error["value"], error["rule"]) == (
        "patienten.csv", 3, "sex", "Geslacht", "3", "code_list")


def test_unmapped_code_is_not_silently_dropped(tmp_path: Path) -> None:
    export = tmp_path / "csv"
    shutil.copytree(FOREIGN / "csv", export)
    path = export / "gebeurtenissen.csv"
    path.write_text(path.read_text().replace("operatie", "heupprothese"))
    report = validate_export(export, FOREIGN / "mapping.toml", validation_date=VALIDATION_DATE)
    assert list(zip(report.errors["column"], report.errors["value"], report.errors["rule"])) == [
        ("event_type", "heupprothese", "code_list")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tables.patients.columns]\nheight = 'Lengte'\n", "not a column of the patients table"),
        ("[tables.visits]\nfile = 'x.csv'\n", "unknown table"),
        ("[export]\ndate_fmt = '%d'\n", "unknown keys"),
        ("[export\n", "not a valid TOML file"),
        ("[export]\ndelimiter = ';;'\n", "one character"),
        ("[tables.patients.columns]\npatient_id = 'A'\nsex = 'A'\n", "more than one column"),
    ],
)
def test_broken_mapping_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


def test_missing_mapping_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.toml")


def test_mapped_column_absent_from_the_file(tmp_path: Path, base_export: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text("[tables.patients.columns]\nsite = 'Centre'\n")
    report = validate_export(base_export, path, validation_date=VALIDATION_DATE)
    hits = report.failures[report.failures["rule"] == "column_missing"]
    assert list(zip(hits["table"], hits["column"])) == [("patients", "site")]
