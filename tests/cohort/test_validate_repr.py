"""The validation report in a notebook: a short repr, ``summary`` a property as on every result."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from pathlib import Path


from toh.cohort.validate import validate_export


def test_repr_is_one_line_and_summary_a_property() -> None:
    report = validate_export(Path(str(files("toh.cohort.demo"))), validation_date=dt.date(2026, 1, 1))
    text = repr(report)
    assert "\n" not in text and len(text) < 300
    assert text.startswith("<ValidationReport demo: valid, 0 error(s)") and "patients 400" in text
    assert list(report.summary.columns) == ["severity", "table", "column", "rule", "n", "example"]
