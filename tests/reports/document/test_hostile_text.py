"""Text from an export cannot run as a formula, reorder what a reader sees, or break a table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from builders import BASE_EXPORT, write_export
from toh.reports.cli import cli
from toh.reports.render.html import _environment, fragments
from toh.reports.render.markdown import md_escape
from toh.reports.safe_text import neutralise
from toh.reports.document.tables import render_table
from toh.cohort.validate import validate_export

SPOOF = "invoice\u202egpj.exe"  # shows as "invoiceexe.jpg" where bidi controls act
CONTROLS = "a\x00b\x1bc\x7fd\x85e\u2066f\u2069g\u2028h"


def test_neutralise_makes_every_bidi_and_control_character_visible() -> None:
    assert neutralise(SPOOF) == "invoice\\u202egpj.exe"
    assert neutralise(CONTROLS) == "a\\u0000b\\u001bc\\u007fd\\u0085e\\u2066f\\u2069g\\u2028h"
    assert neutralise("tab\there\nline\r\nend é ü 中") == "tab\there\nline\r\nend é ü 中"


def test_html_and_markdown_show_the_escape_not_the_control() -> None:
    assert str(fragments(SPOOF)) == "invoice\\u202egpj.exe"
    page = _environment().from_string("<p>{{ name }}</p><p>{{ 3 }}</p>").render(name=SPOOF + "<b>")
    assert page == "<p>invoice\\u202egpj.exe&lt;b&gt;</p><p>3</p>"
    assert md_escape(SPOOF) == "invoice\\\\u202egpj.exe"
    assert "\u202e" not in md_escape(CONTROLS) and "\x1b" not in md_escape(CONTROLS)


def test_tables_neutralise_and_latex_survives_blank_lines() -> None:
    table = pd.DataFrame({SPOOF: ["first line\n\nsecond line\r\nthird", "100%"]})
    latex = render_table(table, "latex")
    body = latex.splitlines()
    assert r"first line  second line third \\" in body
    assert "\u202e" not in latex and "invoice\\textbackslash{}u202egpj.exe" in latex
    assert all(line.strip() for line in body)  # no blank line ends the tabular's paragraph
    html = render_table(table, "html")
    assert "\u202e" not in html and "invoice\\u202egpj.exe" in html


def test_derive_csv_defuses_a_formula_in_a_column_name(tmp_path: Path) -> None:
    tables = dict(BASE_EXPORT)
    tables["episodes"] = "".join(
        line + (',=HYPERLINK("x")' if i == 0 else ",1") + "\n"
        for i, line in enumerate(BASE_EXPORT["episodes"].splitlines())
    )
    export = write_export(tmp_path / "x", tables)
    result = CliRunner().invoke(cli, ["derive", str(export), "--validation-date", "2025-06-30", "--format", "csv",
                                      "--out", str(tmp_path / "out"), "--failures", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    header = (tmp_path / "out" / "episodes.csv").read_text().splitlines()[0]
    assert ",\"'=HYPERLINK(\"\"x\"\")\"" in header and ',=HYPERLINK' not in header
    warnings = pd.read_csv(tmp_path / "f.csv", dtype=str, keep_default_na=False)
    assert list(warnings["column"]) == ["'=HYPERLINK(\"x\")"]


def test_pdf_and_terminal_show_control_characters_as_escapes(tmp_path: Path) -> None:
    """The PDF renderer and the terminal summary neutralise text too: a bidi control in an extra
    column's name (a validation warning names it) reaches neither raw."""
    from pypdf import PdfReader

    from toh.reports.cli._console import validation_summary
    from toh.reports.document._writer import ReportDocument, ReportTable, Section
    from toh.reports.render.pdf import render_pdf

    table = ReportTable("t", f"caption {SPOOF}", (SPOOF,), (((SPOOF,),),), note=SPOOF)
    doc = ReportDocument(f"title {SPOOF}", SPOOF, (Section("s", SPOOF, ((SPOOF,),), (), (table,)),), 5)
    pdf = tmp_path / "r.pdf"
    render_pdf(doc, tmp_path, pdf, dt.date(2026, 1, 1))
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "\u202e" not in text and text.count("invoice\\u202egpj.exe") >= 5
    tables = dict(BASE_EXPORT)
    tables["episodes"] = "".join(line + (f",{SPOOF}\x1b[31m" if i == 0 else ",1") + "\n"
                                 for i, line in enumerate(BASE_EXPORT["episodes"].splitlines()))
    report = validate_export(write_export(tmp_path / "x", tables), validation_date=dt.date(2025, 6, 30))
    summary = validation_summary(report)
    assert "\u202e" not in summary and "\x1b" not in summary and "\\u202e" in summary


def test_the_pdf_shows_markup_script_and_formulas_as_text(tmp_path: Path) -> None:
    """What the hostile export puts in a report (an extra column named with a script, a title
    with markup, a formula in a cell) reaches the PDF as the text itself, never as markup (the
    hostile report's own checks read its HTML, Markdown, LaTeX and CSV files)."""
    from pypdf import PdfReader

    from report_builders import HOSTILE_COLUMN, HOSTILE_FORMULA, HOSTILE_IMG
    from toh.reports.document._writer import ReportDocument, ReportTable, Section
    from toh.reports.render.pdf import render_pdf

    table = ReportTable("t", f"caption {HOSTILE_IMG}", (HOSTILE_COLUMN, "value"),
                        (((HOSTILE_COLUMN,), (HOSTILE_FORMULA,)),), note=HOSTILE_IMG)
    doc = ReportDocument(f"Report {HOSTILE_IMG}", HOSTILE_COLUMN,
                         (Section("s", HOSTILE_COLUMN, ((HOSTILE_IMG,),), (), (table,)),), 5)
    pdf = tmp_path / "r.pdf"
    render_pdf(doc, tmp_path, pdf, dt.date(2026, 1, 1))
    reader = PdfReader(pdf)
    text = "".join(page.extract_text() for page in reader.pages).replace("\n", "")
    assert text.count(HOSTILE_IMG) >= 3 and text.count(HOSTILE_COLUMN) >= 3 and HOSTILE_FORMULA in text
    assert reader.metadata.title == f"Report {HOSTILE_IMG}"
