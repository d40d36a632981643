"""The text of a CSV table before parsing: decoding, header names, the line at fault."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from builders import BASE_EXPORT, VALIDATION_DATE, write_export
from toh.cohort import io as cohort_io
from toh.cohort.csvtext import check_header, decode, line_at, short_record, unclosed_quote_line
from toh.cohort.errors import UnreadableDataError
from toh.cohort.validate import validate_export


def test_lines_are_counted_as_an_editor_counts_them() -> None:
    assert [line_at("a\r\nb\nc\rd", i) for i in (0, 3, 5, 7)] == [1, 2, 3, 4]
    assert line_at(b"a\r\nb\r", 5) == 3


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_a_byte_order_mark_decides_the_encoding(codec: str) -> None:
    text = "patient_id,site\nP1,Zürich\n"
    data = ("\ufeff" + text).encode(codec.replace("-sig", "")) if codec != "utf-16" else text.encode(codec)
    got, utf8 = decode(data, "cp1252", "p.csv")
    assert got == text and utf8 == text.encode("utf-8")


def test_undecodable_bytes_name_the_line_and_a_codec_that_reads_them() -> None:
    data = "a,b\r\n1,2\r\n3,Zürich\r\n".encode("cp1252")
    with pytest.raises(UnreadableDataError, match=r'p.csv: line 3 is not valid utf-8 text \(byte 0xfc\); save it '
                                                  r'as UTF-8, or set encoding = "cp1252" under \[export\]'):
        decode(data, "utf-8", "p.csv")
    with pytest.raises(UnreadableDataError, match='encoding = "latin-1"'):  # 0x81 is no cp1252 character
        decode(b"a,b\n1,\x81\n", "utf-8", "p.csv")


def test_a_header_needs_one_distinct_name_per_column() -> None:
    check_header(["a", "b", "c"], "p.csv")
    with pytest.raises(UnreadableDataError, match=r"p.csv: the header \(line 1\) needs one distinct name per column: "
                                                  r"column 2 has no name; column 4 has a blank name; "
                                                  r"columns 1, 3 are all named 'a'"):
        check_header(["a", "", " a ", "  "], "p.csv")


def test_the_header_check_is_linear() -> None:
    names = [f"c{i}" for i in range(200_000)] * 2
    start = time.perf_counter()
    with pytest.raises(UnreadableDataError, match=r"columns 1, 200001 are all named 'c0'; .* and 199995 more"):
        check_header(names, "p.csv")
    assert time.perf_counter() - start < 5  # a quadratic check would take hours


def test_the_record_at_fault_is_found_by_its_first_line() -> None:
    text = 'a,b,c\n1,"x\ny",3\n\n4,5\n'
    assert short_record(text, ",", 3) == (5, 2)
    assert short_record("a,b\n1,2\n", ",", 2) is None
    assert unclosed_quote_line('a,b\n1,2\n3,"cut', ",") == 3
    assert unclosed_quote_line('a,b\n1,5" tall\n', ",") is None


def test_a_record_longer_than_a_block_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cohort_io, "_BLOCK", 64)  # a 16 MB block, scaled down
    tables = dict(BASE_EXPORT, patients=BASE_EXPORT["patients"].replace(",A\n", ",A" + "y" * 500 + "\n", 1))
    report = validate_export(write_export(tmp_path / "x", tables), validation_date=VALIDATION_DATE)
    assert report.is_valid, report.failures.to_string()
    assert report.tables["patients"]["site"].iloc[0] == "A" + "y" * 500
