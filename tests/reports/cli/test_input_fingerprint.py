"""`toh report --if-changed` fingerprints exactly the files the export is read from (as the
mapping resolves them) and the mapping itself."""

from __future__ import annotations

from pathlib import Path

from builders import BASE_EXPORT, write_export
from report_builders import report_config
from toh.reports.cli.build import input_fingerprint


def test_the_fingerprint_follows_the_files_the_mapping_names(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", BASE_EXPORT)
    (export / "sub").mkdir()
    (export / "patients.csv").rename(export / "sub" / "pts.csv")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[tables.patients]\nfile = "sub/pts.csv"\n')
    config = report_config(export, tmp_path / "out", mapping=mapping)
    first = input_fingerprint(config, "0")
    (export / "notes.txt").write_text("not a table of the export")
    (export / "patients.csv").write_text("an old file the mapping does not name")
    assert input_fingerprint(config, "0") == first
    pts = export / "sub" / "pts.csv"
    pts.write_text(pts.read_text().replace("P3,M", "P3,F"))
    second = input_fingerprint(config, "0")
    assert second != first
    mapping.write_text('[tables.patients]\nfile = "sub/pts.csv"\n[export]\nmissing = ["", "NA", "?"]\n')
    assert input_fingerprint(config, "0") != second


def test_a_table_that_appears_changes_the_fingerprint(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", {k: v for k, v in BASE_EXPORT.items() if k != "events"})
    config = report_config(export, tmp_path / "out")
    first = input_fingerprint(config, "0")
    write_export(export, {"events": BASE_EXPORT["events"]})
    assert input_fingerprint(config, "0") != first
