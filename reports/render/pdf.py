"""Render a report document as PDF with fpdf2 (pure Python; no browser or TeX needed).

Text is set in DejaVu Sans, the TrueType font matplotlib ships, so every character of the
report prints; figures are the PNG files (300 dpi).  The creation date is fixed (the validation
day), so the same document gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from toh.reports.document._writer import ReportDocument, ReportTable, Text, plain_text
from toh.reports.safe_text import neutralise

__all__ = ["render_pdf", "lay_out_pdf", "PdfDraft", "new_pdf", "table_grid", "LONGEST_UNBROKEN_MM"]

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


#: A token longer than this (mm at the table's font size: a URL, a hash) may break anywhere; every
#: shorter word of a cell fits its column whole.
LONGEST_UNBROKEN_MM = 40.0
_PADDING = 0.8


def _tokens(text: str) -> list[str]:
    return text.split()


def _widths(pdf: Any, table: ReportTable, page: float) -> tuple[float, ...]:
    """Column widths (mm) filling ``page``: each column at least as wide as its longest word
    (heading in bold, cells in regular, up to :data:`LONGEST_UNBROKEN_MM`), so no word breaks
    inside; what is left shared by the length of the columns' text."""
    columns = range(len(table.columns))
    need = []
    for i in columns:
        pdf.set_font(_FONT, "B", size=7)
        words = [pdf.get_string_width(t) for t in _tokens(_shown(table.columns[i]))]
        pdf.set_font(_FONT, size=7)
        words += [pdf.get_string_width(t) for row in table.rows for t in _tokens(_shown(row[i]))]
        need.append(min(max(words, default=0.0), LONGEST_UNBROKEN_MM) + 2 * _PADDING + 0.2)
    if sum(need) >= page:  # more words than a page holds side by side: shrink evenly
        return tuple(page * n / sum(need) for n in need)
    longest = [max([len(c)] + [len(_shown(row[i])) for row in table.rows]) for i, c in enumerate(table.columns)]
    weights = [min(max(n, 4), 60) for n in longest]
    spare = page - sum(need)
    return tuple(n + spare * w / sum(weights) for n, w in zip(need, weights))


def table_grid(pdf: Any, table: ReportTable) -> None:
    """The table itself: a heading row and a row per table row, at 7 points."""
    page = pdf.w - pdf.l_margin - pdf.r_margin
    widths = _widths(pdf, table, page)
    pdf.set_font(_FONT, size=7)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=3.6, padding=_PADDING,
                   first_row_as_headings=True) as out:
        head = out.row()
        for column in table.columns:
            head.cell(_shown(column))
        for row in table.rows:
            cells = out.row()
            for cell in row:
                cells.cell(_shown(cell))


def _table(pdf: Any, table: ReportTable) -> None:
    if pdf.get_y() > pdf.h - pdf.b_margin - 30:  # a caption stays with (the start of) its table
        pdf.add_page()
    pdf.set_font(_FONT, "B", size=8)
    pdf.multi_cell(0, 4.5, _shown(table.caption), new_x="LMARGIN", new_y="NEXT")
    table_grid(pdf, table)
    if table.note:
        pdf.set_font(_FONT, size=7)
        pdf.set_text_color(90)
        pdf.multi_cell(0, 3.6, _shown(table.note), new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.set_text_color(0)
    pdf.ln(3)


def _png_stream(path: Path) -> dict[str, Any] | None:
    """An 8-bit RGB PNG's compressed pixels as a PDF image stream (PNG's IDAT data is a Flate
    stream with PNG predictors, which PDF reads as it is); None for any other PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    position, idat, header = 8, [], b""
    while position + 8 <= len(data):
        length = int.from_bytes(data[position:position + 4], "big")
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind in (b"PLTE", b"tRNS", b"iCCP", b"gAMA", b"cHRM", b"sRGB"):
            return None  # colour or transparency information a plain DeviceRGB stream would drop
        position += 12 + length
    # width, height, bit depth 8, colour type 2 (RGB), compression 0, filter 0, interlace 0
    if len(header) != 13 or header[8:] != b"\x08\x02\x00\x00\x00" or not idat:
        return None
    return _stream(b"".join(idat), int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big"))


def _stream(data: bytes, width: int, height: int) -> dict[str, Any]:
    """A PDF image stream of an 8-bit RGB PNG's compressed pixels (IDAT data)."""
    return {"data": data, "w": width, "h": height, "cs": "DeviceRGB", "iccp": None, "bpc": 8,
            "dpn": 3, "f": "FlateDecode", "inverted": False, "dp": f"/Predictor 15 /Colors 3 /Columns {width}"}


def _image(pdf: Any, path: Path, width_mm: float, size: tuple[int, int] | None = None) -> bool:
    """Place a PNG ``width_mm`` wide.  The figures' PNGs (8-bit RGB) are embedded as they are
    compressed, instead of fpdf2 decoding and compressing them again (a tenth of a second per
    figure); any other image goes through fpdf2's own reading.

    With ``size`` (the PNG's width and height in pixels, known before it is written), the
    image is placed at once, its pixels to be filled in by :func:`_fill` before the PDF is
    written; True when so placed, False when the file was read (or fpdf2's image cache is not
    as expected: then the file must exist now).
    """
    name = str(path)
    try:  # fpdf2's image cache is not public API: where it differs, fpdf2 reads the PNG itself
        from fpdf.image_datastructures import RasterImageInfo

        stream = None
        if name not in pdf.image_cache.images:
            stream = _png_stream(path) if size is None else _stream(b"", *size)
        if stream is not None:
            info = RasterImageInfo(stream)
            info.update({"i": len(pdf.image_cache.images) + 1, "usages": 0, "iccp_i": None})
            pdf.image_cache.images[name] = info  # fpdf2 reuses a cached image of the same name
    except (ImportError, AttributeError, TypeError):
        pdf.image_cache.images.pop(name, None) if hasattr(getattr(pdf, "image_cache", None), "images") else None
        if size is not None:
            return False
    pdf.image(name, w=width_mm)
    return size is not None


def _fill(pdf: Any, path: Path, size: tuple[int, int]) -> bool:
    """Put the pixels of the PNG at ``path``, placed by :func:`_image` with ``size`` before it was
    written, into the PDF; False when the PNG is not the 8-bit RGB image of that size placed."""
    stream = _png_stream(path)
    if stream is None or (stream["w"], stream["h"]) != size:
        return False
    pdf.image_cache.images[str(path)]["data"] = stream["data"]
    return True


def new_pdf(title: str = "") -> Any:
    """An A4 document with the report's fonts (:func:`_measure_by_prefix`), header and footer."""
    regular, bold = _fonts()
    pdf = _pdf_class()(format="A4", unit="mm")
    pdf.running_title = title
    pdf.add_font(_FONT, "", str(regular))
    pdf.add_font(_FONT, "B", str(bold))
    for font in pdf.fonts.values():
        _measure_by_prefix(font)
    return pdf


#: Texts whose width one font remembers (each line's every prefix: some 80,000 for the demo).
_REMEMBERED = 200_000


def _measure_by_prefix(font: Any) -> None:
    """Let ``font`` measure a text from the width of the text less its last character.

    fpdf2's line breaking measures the line again for every character it adds (and each table
    cell twice: for the row's height, then to draw it), summing the width of every character
    each time: 1.4 million additions for the demo's PDF.  The sum of a text here is the sum of
    its prefix (remembered) plus its last character, the same additions in the same order, so
    every width, and the PDF, is exactly what fpdf2 computes (tested against fpdf2's own
    measure); only a TrueType font without text shaping or symbol mapping, and only where
    fpdf2's measure agrees on a sample, is so measured.
    """
    try:
        from fpdf.fonts import TTFFont
    except ImportError:  # pragma: no cover - fpdf2 is a dependency
        return
    measure = getattr(TTFFont, "get_text_width", None)
    if type(font) is not TTFFont or measure is None or getattr(font, "is_symbol", True):
        return
    cw, sums = font.cw, {"": 0}

    def get_text_width(self: Any, text: str, font_size_pt: float, *args: Any, **kwargs: Any) -> tuple[int, float]:
        if self is not font or any(args) or any(kwargs.values()):  # a copy, or text shaping
            return measure(self, text, font_size_pt, *args, **kwargs)  # type: ignore[no-any-return]
        if font_size_pt > self.biggest_size_pt:
            self.biggest_size_pt = font_size_pt
        total = sums.get(text)
        if total is None:
            head = sums.get(text[:-1])
            total = head + cw[ord(text[-1])] if head is not None else sum(cw[ord(c)] for c in text)
            if len(sums) >= _REMEMBERED:
                sums.clear()
                sums[""] = 0
            sums[text] = total
        return len(text), total * font_size_pt * 0.001

    samples = [("Ag (95% CI) \u2264 \u2013 x", 7.0), ("Ag (95% CI) \u2264 \u2013", 7.0), ("W", 9.0), ("", 12.0)]
    expected = [measure(font, text, size, None) for text, size in samples]
    try:
        font.__class__ = type("TTFFont", (TTFFont,), {"__slots__": (), "get_text_width": get_text_width})
        if [font.get_text_width(text, size, None) for text, size in samples] == expected:
            return
    except TypeError:  # a font whose class cannot be so extended
        return
    font.__class__ = TTFFont


def render_pdf(doc: ReportDocument, figures_dir: str | Path, out: str | Path, created: dt.date,
               figure_width_mm: float = 85.0, ready: Callable[[str], None] | None = None,
               sizes: Mapping[str, tuple[int, int]] | None = None) -> Path:
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
    ready
        Called with a figure's name before its PNG is read; returns once the file is written
        (the PDF is assembled while the figures are drawn:
        :meth:`toh.reports.figures.PendingFigures.finish`).
    sizes
        As in :func:`lay_out_pdf`: the figures are then waited for only once the whole document
        is laid out.
    """
    return lay_out_pdf(doc, figures_dir, created, figure_width_mm, sizes, ready).write(out, ready)


class PdfDraft:
    """A PDF laid out (:func:`lay_out_pdf`) whose figures may not be written yet."""

    def __init__(self, pdf: Any, doc: ReportDocument, folder: Path, created: dt.date, figure_width_mm: float,
                 placed: list[tuple[str, tuple[int, int]]]) -> None:
        self._pdf, self._doc, self._folder, self._created = pdf, doc, folder, created
        self._width, self._placed = figure_width_mm, placed

    def write(self, out: str | Path, ready: Callable[[str], None] | None = None) -> Path:
        """Put in the pixels of the figures placed before they were written (each once
        ``ready(name)`` returns) and write the PDF to ``out``.  Should a PNG be other than its
        announced size (or not an 8-bit RGB PNG), the PDF is laid out again from the files."""
        for name, size in self._placed:
            if ready is not None:
                ready(name)
            if not _fill(self._pdf, self._folder / f"{name}.png", size):  # laid out again, as each is written
                return render_pdf(self._doc, self._folder, out, self._created, self._width, ready)
        path = Path(out)
        path.write_bytes(bytes(self._pdf.output()))
        return path


def lay_out_pdf(doc: ReportDocument, figures_dir: str | Path, created: dt.date, figure_width_mm: float = 85.0,
                sizes: Mapping[str, tuple[int, int]] | None = None,
                ready: Callable[[str], None] | None = None) -> PdfDraft:
    """Lay out the PDF of ``doc`` (:func:`render_pdf`) without writing it.

    A figure with a size in ``sizes`` (its PNG's width and height in pixels, known before it is
    drawn: :meth:`toh.reports.figures.PendingFigures.png_sizes`) is placed without reading its
    file, which :meth:`PdfDraft.write` reads; any other figure is read now, once ``ready(name)``
    returns.  The bytes written are those of :func:`render_pdf` without ``sizes``.
    """
    folder = Path(figures_dir)
    placed: list[tuple[str, tuple[int, int]]] = []  # figures placed before they were written
    return PdfDraft(_lay_out(doc, folder, created, figure_width_mm, ready, sizes or {}, placed), doc, folder,
                    created, figure_width_mm, placed)


def _lay_out(doc: ReportDocument, folder: Path, created: dt.date, figure_width_mm: float,
             ready: Callable[[str], None] | None, sizes: Mapping[str, tuple[int, int]],
             placed: list[tuple[str, tuple[int, int]]]) -> Any:
    """The PDF of ``doc`` (:func:`render_pdf`), not yet written; the figures placed before their
    PNG was written (``sizes``) are appended to ``placed``."""
    pdf = new_pdf(_shown(doc.title))
    pdf.set_creation_date(dt.datetime.combine(created, dt.time(), tzinfo=dt.timezone.utc))
    pdf.set_title(doc.title)
    pdf.set_creator("toh-cohort")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font(_FONT, "B", size=16)
    pdf.multi_cell(0, 8, _shown(doc.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=9)
    pdf.multi_cell(0, 5, _shown(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
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
            path, size = folder / f"{figure.name}.png", sizes.get(figure.name)
            if size is not None and _image(pdf, path, figure_width_mm, size):
                placed.append((figure.name, size))
            else:
                if ready is not None:
                    ready(figure.name)
                _image(pdf, path, figure_width_mm)
            pdf.set_font(_FONT, size=7)
            pdf.set_text_color(90)
            pdf.multi_cell(0, 3.6, _shown(figure.caption), new_x="LMARGIN", new_y="NEXT")
            pdf.set_text_color(0)
            pdf.ln(2)
        for table in section.tables:
            _table(pdf, table)
    return pdf
