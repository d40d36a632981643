"""Reading exports: source rows as a user sees them, Parquet and workbook inputs, parser properties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from builders import BASE_EXPORT, VALIDATION_DATE, write_export
from toh.cohort.errors import ConfigError, UnreadableDataError
from toh.cohort.io import RawTable
from toh.cohort.mapping import ColumnMapping, TableMapping
from toh.cohort.parse import parse_table
from toh.cohort.validate import validate_export


def _validate(path: Path, mapping: Path | None = None):
    return validate_export(path, mapping, validation_date=VALIDATION_DATE)


def test_source_rows_follow_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    tables = dict(BASE_EXPORT)
    # P1's site holds a line break (lines 2-3); a blank line follows; P2 starts on line 5,
    # P3 (with a bad sex code) on line 6.
    tables["patients"] = (
        "patient_id,sex,birth_date,birth_year,death_date,site\n"
        'P1,M,1970-01-01,,,"A\nnorth"\n'
        "\n"
        "P2,F,,1990,2021-06-01,B\n"
        "P3,Q,1960-01-01,,,A\n"
    )
    report = _validate(write_export(tmp_path / "x", tables))
    assert list(report.tables["patients"].index) == [2, 5, 6]
    assert list(zip(report.errors["row"], report.errors["value"])) == [(6, "Q")]


def test_byte_order_mark_and_whitespace(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", BASE_EXPORT)
    text = BASE_EXPORT["patients"].replace("P1,M,", " P1 , M ,")
    (folder / "patients.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = _validate(folder)
    assert report.is_valid, report.failures.to_string()
    assert report.tables["patients"]["patient_id"].iloc[0] == "P1"


def test_parquet_export_reads_typed_columns_without_text_detour(tmp_path: Path, base_export: Path) -> None:
    canonical = _validate(base_export)
    folder = tmp_path / "pq"
    folder.mkdir()
    for table, frame in canonical.tables.items():
        frame.reset_index(drop=True).to_parquet(folder / f"{table}.parquet", index=False)
    report = _validate(folder)
    assert report.is_valid, report.failures.to_string()
    for table, frame in canonical.tables.items():
        got = report.tables[table]
        assert list(got.index) == list(range(1, len(frame) + 1))  # 1-based record numbers
        pd.testing.assert_frame_equal(got.reset_index(drop=True), frame.reset_index(drop=True))


def test_workbook_serial_dates(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", {k: v for k, v in BASE_EXPORT.items() if k != "patients"})
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "patients"
    sheet.append(["patient_id", "sex", "birth_date", "death_date"])
    # 25569 is 1970-01-01 in the 1900 date system (day zero 1899-12-30).
    sheet.append(["P1", "M", 25569, None])
    sheet.append(["P2", "F", dt.datetime(1990, 7, 1), 44348])  # 44348 = 2021-06-01
    sheet.append(["P3", "M", "1960-01-01", None])
    book.save(tmp_path / "book.xlsx")
    for table in ("episodes", "imaging", "events"):
        frame = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
        with pd.ExcelWriter(tmp_path / "book.xlsx", mode="a", engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name=table, index=False)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[export]\ndate_format = "%Y-%m-%d"\n[tables.patients.date_formats]\n'
                       'birth_date = "excel"\ndeath_date = "excel"\n')
    report = _validate(tmp_path / "book.xlsx", mapping)
    assert report.is_valid, report.failures.to_string()
    patients = report.tables["patients"]
    assert list(patients["birth_date"]) == [pd.Timestamp("1970-01-01"), pd.Timestamp("1990-07-01"),
                                            pd.Timestamp("1960-01-01")]
    assert patients["death_date"].iloc[1] == pd.Timestamp("2021-06-01")


def test_a_missing_export_is_a_config_error_and_unreadable_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="export not found"):
        _validate(tmp_path / "missing")
    (tmp_path / "book.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(UnreadableDataError, match="book.xlsx: not a readable workbook"):
        _validate(tmp_path / "book.xlsx")
    folder = write_export(tmp_path / "x", BASE_EXPORT)
    (folder / "patients.csv").write_bytes(BASE_EXPORT["patients"].encode() + b"P4,F,1980-01-01,,,\xff\n")
    with pytest.raises(UnreadableDataError, match=r"patients.csv: line 5 is not valid utf-8 text \(byte 0xff\)"):
        _validate(folder)


def _raw(values: list[str | None], column: str = "onset_date", table: str = "episodes") -> RawTable:
    frame = pd.DataFrame({column: pd.Series(values, dtype=object)})
    frame.index = pd.RangeIndex(2, len(values) + 2, name="row")
    return RawTable(table, Path("x.csv"), "csv", frame)


FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d.%m.%Y"]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))), max_size=20),
       st.sampled_from(FORMATS))
def test_dates_written_in_a_format_parse_back(dates: list[dt.date | None], fmt: str) -> None:
    texts = [d.strftime(fmt) if d else None for d in dates]
    mapping = ColumnMapping(date_format=fmt)
    parsed = parse_table(_raw(texts), mapping)
    assert parsed.issues[parsed.issues["rule"] == "date_format"].empty
    got = parsed.typed["onset_date"]
    assert [None if pd.isna(v) else v.date() for v in got] == dates


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s)), max_size=20))
def test_recoding_passes_unknown_values_through(values: list[str | None]) -> None:
    codes = {"1": "M", "2": "F"}
    mapping = ColumnMapping(tables={"patients": TableMapping(values={"sex": codes})})
    parsed = parse_table(_raw(values, "sex", "patients"), mapping)
    expected = [codes.get(v, v) if v else None for v in values]
    sex = parsed.typed["sex"].astype(object)  # text is pandas' str dtype: missing is NaN
    assert list(sex.where(sex.notna(), None)) == expected
    assert list(parsed.text["sex"]) == values  # the export's own text is kept for messages


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.sampled_from(["true", "FALSE", "True", "ja", "NEE", "maybe", None]), max_size=20))
def test_booleans(values: list[str | None]) -> None:
    mapping = ColumnMapping(true_values=("true", "ja"), false_values=("false", "nee"))
    parsed = parse_table(_raw(values, "osteopenia", "imaging"), mapping)
    truth = {"true": True, "false": False, "ja": True, "nee": False}
    expected = [truth.get(v.lower()) if v else None for v in values]
    got = [None if pd.isna(v) else bool(v) for v in parsed.typed["osteopenia"]]
    assert got == expected
    bad = parsed.issues[parsed.issues["rule"] == "boolean"]
    assert list(bad["row"]) == [i + 2 for i, v in enumerate(values) if v == "maybe"]


def test_arrow_never_swaps_the_signal_handlers_while_a_csv_is_read(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With its signal handling on, pyarrow's CSV reader asks which SIGINT and SIGTERM handlers
    are installed and swaps them for its own during the read; a signal landing then was lost
    (the command ran on after Ctrl-C) or raised a second time (it died by SIGINT instead of
    exiting 130), under load.  An export's CSV is read with it off: pyarrow never asks."""
    import signal

    import pyarrow as pa
    import pyarrow.csv as pacsv

    asked: list[int] = []
    real = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda number: asked.append(number) or real(number))
    pacsv.read_csv(pa.BufferReader(b"a,b\n1,2\n"))  # the check can see pyarrow ask
    assert asked, "pyarrow no longer asks for the handlers: this test cannot see what it checks"
    asked.clear()
    report = _validate(write_export(tmp_path / "x", BASE_EXPORT))
    assert report.is_valid, report.failures.to_string()
    assert asked == []
    pacsv.read_csv(pa.BufferReader(b"a,b\n1,2\n"))  # and its default is back for everyone else
    assert asked
