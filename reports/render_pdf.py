"""Render a report document as PDF with fpdf2 (pure Python; no browser or TeX needed).

Text is set in DejaVu Sans, the TrueType font matplotlib ships, so every character of the
report prints; figures are the PNG files (300 dpi).  The creation date is fixed (the validation
day), so the same document gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from toh.reports._document import ReportDocument, ReportTable, Text, plain_text
from toh.reports.safe_text import neutralise

__all__ = ["render_pdf"]

_FONT = "DejaVu"


def _shown(text: Text | str) -> str:
    """Text as the PDF shows it: control and bidi characters from the export made visible."""
    return neutralise(plain_text(text))


def _fonts() -> tuple[Path, Path]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


def _pdf_class() -> type:
    from fpdf import FPDF

    class ReportPDF(FPDF):  # type: ignore[misc]
        """A4 pages with the title in the header and page numbers in the footer."""

        running_title = ""

        def header(self) -> None:
            if self.page_no() > 1:
                self.set_font(_FONT, size=7)
                self.set_text_color(90)
                self.cell(0, 5, self.running_title, align="L")
                self.ln(7)
                self.set_text_color(0)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FONT, size=7)
            self.set_text_color(90)
            self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")
            self.set_text_color(0)

    return ReportPDF


def _widths(table: ReportTable, page: float) -> tuple[float, ...]:
    longest = [max([len(c)] + [len(_shown(row[i])) for row in table.rows]) for i, c in enumerate(table.columns)]
    weights = [min(max(n, 4), 60) for n in longest]
    total = sum(weights)
    return tuple(page * w / total for w in weights)


def _table(pdf: Any, table: ReportTable) -> None:
    pdf.set_font(_FONT, "B", size=8)
    pdf.multi_cell(0, 4.5, _shown(table.caption), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=7)
    page = pdf.w - pdf.l_margin - pdf.r_margin
    with pdf.table(col_widths=_widths(table, page), text_align="LEFT", line_height=3.6, padding=0.8,
                   first_row_as_headings=True) as out:
        head = out.row()
        for column in table.columns:
            head.cell(_shown(column))
        for row in table.rows:
            cells = out.row()
            for cell in row:
                cells.cell(_shown(cell))
    if table.note:
        pdf.set_font(_FONT, size=7)
        pdf.set_text_color(90)
        pdf.multi_cell(0, 3.6, _shown(table.note), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
    pdf.ln(3)


def render_pdf(doc: ReportDocument, figures_dir: str | Path, out: str | Path, created: dt.date,
               figure_width_mm: float = 85.0) -> Path:
    """Write the report as an A4 PDF.

    Parameters
    ----------
    doc
        The report document.
    figures_dir
        Folder holding ``<figure>.png`` for every figure of the document.
    out
        PDF file to write.
    created
        Creation date written into the file (fixed, so rebuilding gives the same bytes).
    figure_width_mm
        Width at which figures are placed.
    """
    regular, bold = _fonts()
    pdf = _pdf_class()(format="A4")
    pdf.running_title = _shown(doc.title)
    pdf.set_creation_date(dt.datetime.combine(created, dt.time(), tzinfo=dt.timezone.utc))
    pdf.set_title(doc.title)
    pdf.set_creator("toh-cohort")
    pdf.add_font(_FONT, "", str(regular))
    pdf.add_font(_FONT, "B", str(bold))
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(_FONT, "B", size=16)
    pdf.multi_cell(0, 8, _shown(doc.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=9)
    pdf.multi_cell(0, 5, _shown(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    folder = Path(figures_dir)
    shown: set[str] = set()
    for section in doc.sections:
        if pdf.get_y() > pdf.h - 60:
            pdf.add_page()
        pdf.set_font(_FONT, "B", size=12)
        pdf.start_section(section.title)
        pdf.multi_cell(0, 7, _shown(section.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(_FONT, size=9)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 4.6, _shown(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        for figure in section.figures:
            if figure.name in shown:  # a figure shared by two sections is printed once
                continue
            shown.add(figure.name)
            pdf.image(str(folder / f"{figure.name}.png"), w=figure_width_mm)
            pdf.set_font(_FONT, size=7)
            pdf.set_text_color(90)
            pdf.multi_cell(0, 3.6, _shown(figure.caption), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0)
            pdf.ln(2)
        for table in section.tables:
            _table(pdf, table)
    path = Path(out)
    path.write_bytes(bytes(pdf.output()))
    return path
