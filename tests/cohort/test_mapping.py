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
        ("[export]\ndate_format = '%d/%q/%Y'\n", r"\[export\].date_format = '%d/%q/%Y' is not a date format: 'q' is a bad"),
        ("[export]\ndate_format = '%Y-%m-%d %'\n", "stray %"),
        ("[export]\ndate_format = '%H:%M'\n", "does not name a year, month and day"),
        ("[tables.episodes.date_formats]\nonset_date = '%Q'\n", r"\[tables.episodes\].date_formats.onset_date"),
        ("[tables.episodes.date_formats]\njoint = '%Y'\n", "'joint', which is not a date column"),
        ("[tables.episodes.date_formats]\nonset_date = 20200101\n", "must be a str"),
        ("[export]\nencoding = 'klingon'\n", "not an encoding Python knows"),
        ("[export]\nmissing = 'NA'\n", r"\[export\].missing must be a list"),
        ("[export]\nmissing = ['NA', 1.5]\n", "must list texts, got 1.5"),
        ("[export]\ndelimiter = '\"'\n", "other than a quote"),
        ("[booleans]\ntrue = ['ja']\nfalse = ['JA']\n", "as both true and false"),
        ("[tables.patients.values.sex]\n'1' = 'male'\n", r"recodes to \['male'\], not among the codes of sex \(M, F\)"),
        ("[tables.patients.values.birth_date]\n'?' = ''\n", "dates and true/false are not recoded"),
        ("[tables.patients.values]\nsex = 'M'\n", r"\[tables.patients\].values.sex must be a Mapping"),
        ("[tables.patients]\nfile = ['a.csv']\n", r"\[tables.patients\].file must be a str"),
        ("tables = 3\n", r"\[tables\] must be a Mapping"),
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


def test_an_unreadable_mapping_is_a_config_error_that_quotes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_mapping(tmp_path)
    path = tmp_path / "m.toml"
    path.write_bytes(b"secret = 'x'\n\xff\xfe hidden text")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(at byte 13\)") as raised:
        load_mapping(path)
    assert "hidden" not in str(raised.value)


@pytest.mark.parametrize("file", ["../outside.csv", "/etc/passwd", "link.csv"])
def test_a_table_file_outside_the_export_is_refused(tmp_path: Path, base_export: Path, file: str) -> None:
    (tmp_path / "outside.csv").write_text("TOPSECRET-7f3a:x:0:0\n")
    (base_export / "link.csv").symlink_to(tmp_path / "outside.csv")
    path = tmp_path / "mapping.toml"
    path.write_text(f'[tables.patients]\nfile = "{file}"\n')
    with pytest.raises(ConfigError, match=f'\\[tables.patients\\].file = "{file}" points outside the export folder') as raised:
        validate_export(base_export, path, validation_date=VALIDATION_DATE)
    assert "TOPSECRET" not in str(raised.value)


def test_a_table_file_in_a_subfolder_of_the_export_is_read(tmp_path: Path, base_export: Path) -> None:
    (base_export / "sub").mkdir()
    (base_export / "patients.csv").rename(base_export / "sub" / "pts.csv")
    path = tmp_path / "mapping.toml"
    path.write_text('[tables.patients]\nfile = "sub/pts.csv"\n')
    report = validate_export(base_export, path, validation_date=VALIDATION_DATE)
    assert report.is_valid, report.failures.to_string()
