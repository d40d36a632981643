"""Render a report document as one self-contained HTML file.

Jinja2 with autoescape on: every text of the document (including anything that came from the
export, such as an extra column's name) is neutralised (:func:`toh.reports.safe_text.neutralise`:
bidi and control characters made visible) and escaped; only :func:`fragments` builds markup, and it
escapes each piece itself.  Figures are embedded as ``data:`` URIs of their SVG files inside
``<img>`` elements (never inline SVG), and a Content-Security-Policy forbids every network
request and every script, so the file opens anywhere, offline, and runs nothing.
"""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from toh.reports.document._writer import Num, ReportDocument, Text
from toh.reports.safe_text import neutralise

__all__ = ["render_html"]

_MIME = {"svg": "image/svg+xml", "png": "image/png"}
#: figures are drawn at journal width (85 or 180 mm) and shown larger on screen (capped at the page width)
_SCREEN_SCALE = 1.6


def _num(num: Num) -> Markup:
    if num.suppressed:
        attrs = ' class="suppressed" data-suppressed="1"'
        if num.key:
            attrs += f' data-key="{escape(num.key)}"'
        return Markup(f"<span{attrs}>{escape(num.text)}</span>")
    if num.key is None or num.value is None:
        return escape(num.text)
    return Markup(
        f'<span class="num" data-key="{escape(num.key)}" data-value="{num.value!r}" data-scale="{num.scale!r}" '
        f'data-digits="{num.digits}" data-kind="{escape(num.kind)}">{escape(num.text)}</span>'
    )


def fragments(text: Text | str) -> Markup:
    """Markup of a sentence or cell: text escaped, numbers marked with their results.json key."""
    if isinstance(text, str):
        return escape(neutralise(text))
    return Markup("").join(escape(neutralise(f)) if isinstance(f, str) else _num(f) for f in text)


def _finalize(value: object) -> object:
    """Every ``{{ value }}`` of the template: markup built here passes, any text is neutralised
    (bidi and control characters made visible) before autoescape."""
    return value if isinstance(value, Markup) else neutralise(str(value))


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("toh.reports.render", "templates"), autoescape=True, keep_trailing_newline=True,
                      finalize=_finalize)
    env.filters["fragments"] = fragments
    return env


def data_uri(path: Path) -> str:
    """The file as a base64 ``data:`` URI."""
    mime = _MIME[path.suffix.lstrip(".").lower()]
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def render_html(doc: ReportDocument, figures_dir: str | Path, out: str | Path, version: str,
                image_format: str = "svg", figure_width_mm: float = 85.0) -> Path:
    """Write the report as one HTML file with every figure embedded.

    Parameters
    ----------
    doc
        The report document.
    figures_dir
        Folder holding ``<figure>.<image_format>`` for every figure of the document.
    out
        HTML file to write.
    version
        toh-cohort version (in the generator meta tag).
    image_format
        "svg" or "png".
    figure_width_mm
        Width of the figures as drawn; shown 1.6 times larger on screen, never wider than the page.

    Returns
    -------
    pathlib.Path
    """
    folder = Path(figures_dir)
    images = {name: data_uri(folder / f"{name}.{image_format}") for name in dict.fromkeys(doc.figure_names())}
    html = _environment().get_template("report.html.j2").render(
        doc=doc, images=images, version=version, figure_css_width=f"{_SCREEN_SCALE * figure_width_mm:g}mm")
    path = Path(out)
    path.write_text(html, encoding="utf-8")
    return path
