"""PDF tables: no word of a table cell is broken inside (issue 13: "consis/tent", "verdi/ct")."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_builders import demo_export, report_document
from toh.reports._document import ReportTable, plain_text


def _broken_words(table: ReportTable) -> list[tuple[str, str, float, float]]:
    """Words of ``table`` wider than the text width of their column as the PDF lays it out:
    fpdf2 breaks a word inside exactly when it does not fit the cell's width less its padding."""
    from toh.reports.render_pdf import _FONT, _PADDING, LONGEST_UNBROKEN_MM, _widths, new_pdf

    pdf = new_pdf()
    pdf.add_page()
    widths = _widths(pdf, table, pdf.w - pdf.l_margin - pdf.r_margin)
    broken = []
    for style, rows in (("B", [tuple((c,) for c in table.columns)]), ("", table.rows)):
        pdf.set_font(_FONT, style, size=7)
        for row in rows:
            for text, width in zip(row, widths):
                for word in plain_text(text).split():
                    size = pdf.get_string_width(word)
                    if size <= LONGEST_UNBROKEN_MM and size > width - 2 * _PADDING:
                        broken.append((table.name, word, size, width))
    return broken


def test_no_word_of_a_demo_table_breaks_inside() -> None:
    doc = report_document(demo_export())
    tables = [t for s in doc.sections for t in s.tables]
    assert any(t.name == "claims" for t in tables)
    assert [b for t in tables for b in _broken_words(t)] == []


@pytest.mark.parametrize("columns", [3, 7, 12])
def test_a_crowded_table_keeps_its_words_whole(columns: int) -> None:
    """Seven columns of long words (the claims table's shape), and more than a page can hold
    side by side: every word up to the limit stays whole while the page allows it."""
    words = ["consistent", "inconclusive", "verdict", "Clopper-Pearson", "pregnancy-associated"]
    table = ReportTable("crowded", "c", tuple(f"column {i} verdict" for i in range(columns)),
                        tuple(tuple((f"{words[(i + r) % len(words)]} x",) for i in range(columns)) for r in range(4)))
    broken = _broken_words(table)
    if columns <= 7:
        assert broken == []
    else:  # 12 columns of 'pregnancy-associated' cannot stand side by side on A4: shrunk evenly
        assert broken


def test_a_long_url_may_break(tmp_path: Path) -> None:
    url = "https://insights.ovid.com/crossref?an=01337441-200904000-00012" * 2
    table = ReportTable("refs", "r", ("source", "verdict"), (((url,), ("consistent",)),))
    assert [b[1] for b in _broken_words(table)] == []  # the URL is past the limit; 'consistent' fits
