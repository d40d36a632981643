"""PDF tables: no word of a table cell is broken inside (issue 13: "consis/tent", "verdi/ct")."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from report_builders import demo_export, report_document
from toh.reports.document._writer import ReportTable, plain_text


def _broken_words(table: ReportTable) -> list[tuple[str, str, float, float]]:
    """Words of ``table`` wider than the text width of their column as the PDF lays it out:
    fpdf2 breaks a word inside exactly when it does not fit the cell's width less its padding."""
    from toh.reports.render.pdf import _FONT, _PADDING, LONGEST_UNBROKEN_MM, _widths, new_pdf

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


@pytest.mark.slow  # measures every word of every demo table in the font (CI runs it)
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


@pytest.mark.slow  # builds the demo PDF and decodes every embedded image (CI runs it)
def test_the_pdf_embeds_each_figure_png_pixel_for_pixel(demo_report: tuple[Path, list[str]]) -> None:
    """The figures' PNGs (RGB, 300 dpi) are embedded as they are compressed: read back from the
    PDF, every image has exactly the pixels of its PNG."""
    import numpy as np
    from PIL import Image
    from pypdf import PdfReader

    out, _ = demo_report
    pngs = {path.name: np.asarray(Image.open(path)) for path in (out / "figures").glob("*.png")}
    assert pngs and all(p.ndim == 3 and p.shape[2] == 3 for p in pngs.values())  # RGB, no alpha
    images = [np.asarray(image.image.convert("RGB")) for page in PdfReader(out / "report.pdf").pages
              for image in page.images]
    matched = [[name for name, png in pngs.items() if png.shape == image.shape and (png == image).all()]
               for image in images]
    assert len(images) == len(pngs) and all(len(m) == 1 for m in matched)
    assert sorted(m[0] for m in matched) == sorted(pngs)


def test_an_image_other_than_an_rgb_png_goes_through_fpdf2(tmp_path: Path) -> None:
    from PIL import Image

    from toh.reports.render.pdf import _image, _png_stream, new_pdf

    rgba, grey = tmp_path / "rgba.png", tmp_path / "grey.png"
    Image.new("RGBA", (20, 10), (255, 0, 0, 128)).save(rgba)
    Image.new("L", (20, 10), 128).save(grey)
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (20, 10), (0, 128, 255)).save(rgb)
    assert _png_stream(rgba) is None and _png_stream(grey) is None
    assert _png_stream(rgb)["w"] == 20
    pdf = new_pdf()
    pdf.add_page()
    for path in (rgba, grey, rgb, rgb):  # the same figure twice is stored once
        _image(pdf, path, 40)
    assert len(pdf.image_cache.images) == 3
    assert bytes(pdf.output()).startswith(b"%PDF")


def _small_document(figures: int = 3):
    from toh.reports.document._writer import ReportDocument, ReportFigure, Section

    table = ReportTable("t", "A table", ("column", "verdict"), ((("a longer cell of words",), ("consistent",)),) * 3)
    sections = tuple(Section(f"s{i}", f"Section {i}", (f"Paragraph {i} " * 30,),
                             (ReportFigure(f"fig{i}", f"Figure {i}", f"alt {i}"),), (table,)) for i in range(figures))
    # a figure shared by two sections is printed once
    sections += (Section("again", "Again", ("The first figure again.",), (sections[0].figures[0],)),)
    return ReportDocument("Small report", "subtitle", sections, 5)


def _pngs(folder: Path, sizes: dict[str, tuple[int, int]]) -> None:
    from PIL import Image

    for i, (name, size) in enumerate(sizes.items()):
        Image.new("RGB", size, (40 * i, 128, 255 - 40 * i)).save(folder / f"{name}.png")


def test_a_pdf_laid_out_before_its_figures_has_the_same_bytes(tmp_path: Path) -> None:
    """With the PNGs' sizes known, the document is laid out before any figure is written and
    each figure is waited for only when the PDF is written: the same bytes as from the files."""
    import datetime as dt

    from toh.reports.render.pdf import lay_out_pdf, render_pdf

    doc, day = _small_document(), dt.date(2026, 1, 2)
    sizes = {"fig0": (1003, 750), "fig1": (1003, 2844), "fig2": (1003, 877)}
    figures = tmp_path / "figures"
    figures.mkdir()
    asked: list[str] = []
    draft = lay_out_pdf(doc, figures, day, 85.0, sizes, ready=asked.append)
    assert asked == [] and not list(figures.iterdir())  # laid out without a single figure

    def ready(name: str) -> None:
        asked.append(name)
        if name == "fig0":
            _pngs(figures, sizes)  # "drawn" while the PDF waits

    lazy = draft.write(tmp_path / "lazy.pdf", ready)
    assert asked == ["fig0", "fig1", "fig2"]
    eager = render_pdf(doc, figures, tmp_path / "eager.pdf", day, 85.0)
    assert lazy.read_bytes() == eager.read_bytes()


def test_a_figure_other_than_announced_lays_the_pdf_out_again(tmp_path: Path) -> None:
    """A PNG of another size than announced, or not 8-bit RGB, would not match its placement:
    the PDF is then laid out again from the files, with the bytes of a PDF made from them."""
    import datetime as dt

    from PIL import Image

    from toh.reports.render.pdf import render_pdf

    doc, day = _small_document(), dt.date(2026, 1, 2)
    sizes = {"fig0": (1003, 750), "fig1": (1003, 2844), "fig2": (1003, 877)}
    _pngs(tmp_path, sizes)
    eager = render_pdf(doc, tmp_path, tmp_path / "eager.pdf", day).read_bytes()
    wrong = dict(sizes, fig1=(1003, 2843))
    asked: list[str] = []
    assert render_pdf(doc, tmp_path, tmp_path / "wrong.pdf", day, ready=asked.append, sizes=wrong).read_bytes() == eager
    assert asked == ["fig0", "fig1", "fig0", "fig1", "fig2"]  # laid out again, each figure waited for again
    Image.new("RGBA", sizes["fig2"], (0, 0, 0, 255)).save(tmp_path / "fig2.png")
    eager = render_pdf(doc, tmp_path, tmp_path / "eager.pdf", day).read_bytes()
    assert render_pdf(doc, tmp_path, tmp_path / "rgba.pdf", day, sizes=sizes).read_bytes() == eager


@settings(max_examples=examples(60), deadline=None)
@given(texts=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30), max_size=8),
       size=st.sampled_from([7.0, 8.0, 9.0, 16.0, 7.25]))
def test_widths_measured_by_prefix_are_fpdf2s_own(texts: list[str], size: float) -> None:
    """The remembered prefix sums give exactly fpdf2's widths (==, no tolerance), for every
    prefix of each text in the order the line breaker asks, and for texts asked at random."""
    from fpdf.fonts import TTFFont

    from toh.reports.render.pdf import new_pdf

    pdf = new_pdf()
    for font in pdf.fonts.values():
        assert type(font) is not TTFFont  # measured by prefix
        for text in texts:
            for end in [*range(len(text) + 1), len(text) // 2]:
                assert font.get_text_width(text[:end], size, None) == TTFFont.get_text_width(font, text[:end], size, None)


def test_the_pdf_is_the_same_with_widths_measured_by_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from toh.reports.render import pdf as module

    doc, day = _small_document(), dt.date(2026, 1, 2)
    sizes = {"fig0": (1003, 750), "fig1": (1003, 2844), "fig2": (1003, 877)}
    _pngs(tmp_path, sizes)
    fast = module.render_pdf(doc, tmp_path, tmp_path / "fast.pdf", day).read_bytes()
    monkeypatch.setattr(module, "_measure_by_prefix", lambda font: None)
    assert module.render_pdf(doc, tmp_path, tmp_path / "plain.pdf", day).read_bytes() == fast
