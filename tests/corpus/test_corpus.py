"""Every broken export of the corpus (tests/corpus/cases.py) through `toh validate`: the right exit
code (1 data, 2 usage or configuration, never 3), a message naming what is wrong, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cases import CASES, Case
from toh.reports.cli import cli


def _param(case: Case) -> object:
    return pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_toh_validate_on_a_broken_export(tmp_path: Path, case: Case) -> None:
    (tmp_path / "case").mkdir()
    args = case.build(tmp_path / "case")
    failures = tmp_path / "failures.csv"
    result = CliRunner().invoke(cli, ["validate", *args, "--validation-date", "2025-06-30",
                                      "--failures", str(failures)], catch_exceptions=False)
    said = result.output
    assert result.exit_code == case.code, said
    assert "Traceback" not in said and "internal error" not in said
    assert "TOPSECRET" not in said  # never the content of a file that is not a table of the export
    for fragment in case.says:
        assert fragment in said
    if case.code == 1 and "INVALID" in said:
        assert failures.is_file()  # row failures are written


def test_the_corpus_covers_every_kind_of_fault() -> None:
    names = {c.name for c in CASES}
    assert {"corrupted_bytes", "truncated_mid_record", "nul_bytes", "utf16_with_bom", "mixed_line_endings",
            "cr_only_line_endings", "cp1252_text", "huge_header", "huge_cell", "empty_column_name",
            "duplicate_column_name", "blank_column_name", "missing_files", "misnamed_file",
            "workbook_missing_sheet", "impossible_date", "out_of_range_dates", "overflowing_integer",
            "mapping_path_escape", "mapping_bad_directive", "mapping_unknown_key", "mapping_wrong_types"} <= names
    assert {c.code for c in CASES} <= {0, 1, 2}
