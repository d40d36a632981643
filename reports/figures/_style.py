"""The house style of the publication figures: palette, journal sizes, fonts and deterministic files.

Nothing here imports matplotlib at module import time (``toh --help`` stays light); the functions
that need it import it when called.

* Colours: the Okabe-Ito palette (Okabe & Ito 2008), safe for the common colour-vision deficiencies;
  each quantity keeps its colour in every figure (men blue, women vermillion, pregnancy-associated
  reddish purple, ...), and strata also differ by line style so a grey-scale print stays readable.
* Sizes: 85 mm (single column) and 180 mm (double column) wide; fonts 7-9 pt; PNG at 300 dpi.
* Files: identical bytes from run to run (no dates or software stamps, a fixed SVG hash salt,
  TrueType fonts embedded in PDF), written through the Agg canvas without pyplot, so nothing is
  left open and the caller's backend is never changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

__all__ = [
    "OKABE_ITO", "COLOURS", "CYCLE", "PUBLISHED_ALPHA", "LINESTYLES", "WIDTHS_MM", "DPI", "RC_PARAMS", "METADATA",
    "FORMATS", "figure_style", "figure_width", "colour_for", "new_figure", "save_figure", "png_size",
]

#: The Okabe-Ito palette (plus its grey), by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "grey": "#999999",
}

#: Colour of each named quantity, the same in every figure.
COLOURS: dict[str, str] = {
    "all": OKABE_ITO["black"],
    "men": OKABE_ITO["blue"],
    "women": OKABE_ITO["vermillion"],
    "pregnancy-associated": OKABE_ITO["reddish_purple"],
    "women, pregnancy-associated": OKABE_ITO["reddish_purple"],
    "not pregnancy-associated": OKABE_ITO["orange"],
    "women, other": OKABE_ITO["orange"],
    "recurrence": OKABE_ITO["blue"],
    "migration": OKABE_ITO["orange"],
    "npmle": OKABE_ITO["black"],
    "weibull": OKABE_ITO["blue"],
    "bootstrap": OKABE_ITO["vermillion"],
    "published": OKABE_ITO["yellow"],  # bands and regions of a published figure (with PUBLISHED_ALPHA)
    "consistent": OKABE_ITO["bluish_green"],
    "not consistent": OKABE_ITO["vermillion"],
    "inconclusive": OKABE_ITO["grey"],
}

#: Opacity of the shading of a published figure: light yellow, unlike the grey of CIs and NPMLE boxes.
PUBLISHED_ALPHA = 0.4

#: Colours for levels without a colour of their own (treatments, unknown strata), in order.
CYCLE: tuple[str, ...] = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish_green"],
                          OKABE_ITO["reddish_purple"], OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"],
                          OKABE_ITO["black"])

#: Line styles of strata, in order (the second cue besides colour).
LINESTYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 2)))

#: Journal column widths in millimetres.
WIDTHS_MM: dict[str, float] = {"single": 85.0, "double": 180.0}

#: Resolution of raster output.
DPI = 300

#: File formats written by :func:`save_figure`.
FORMATS: tuple[str, ...] = ("png", "svg", "pdf")

#: Fixed SVG hash salt: SVG element ids are hashes salted with it, so they repeat from run to run.
SVG_HASHSALT = "toh-cohort"

#: ``savefig`` metadata per format: no dates and no software stamps, so the bytes repeat.
METADATA: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "Producer": None},
}

#: The rcParams of the house style, applied locally by :func:`figure_style`.
RC_PARAMS: dict[str, Any] = {
    "font.family": "sans-serif",
    # DejaVu Sans ships with matplotlib: the same glyphs (and bytes) on every machine.
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 7.0,
    "axes.titlesize": 8.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.title_fontsize": 7.0,
    "figure.titlesize": 9.0,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlelocation": "left",
    "axes.labelpad": 2.0,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.0,
    "patch.linewidth": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.major.pad": 1.5,
    "ytick.major.pad": 1.5,
    "legend.frameon": False,
    "legend.handlelength": 2.2,
    "legend.borderaxespad": 0.3,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "savefig.dpi": DPI,
    "savefig.facecolor": "white",
    "svg.hashsalt": SVG_HASHSALT,
    "svg.fonttype": "path",
    "pdf.fonttype": 42,  # TrueType, editable text, as journals ask
    "ps.fonttype": 42,
}


def figure_width(width: str | float) -> float:
    """Figure width in inches: ``"single"`` (85 mm), ``"double"`` (180 mm) or a number of mm.

    Parameters
    ----------
    width
        Column name or millimetres.

    Returns
    -------
    float
        Width in inches (mm / 25.4).
    """
    if isinstance(width, str):
        if width not in WIDTHS_MM:
            raise ValueError(f"width must be one of {sorted(WIDTHS_MM)} or a number of mm, not {width!r}")
        return WIDTHS_MM[width] / 25.4
    if not width > 0:
        raise ValueError("width must be > 0 mm")
    return float(width) / 25.4


def colour_for(name: str, position: int = 0) -> str:
    """The colour of a named quantity, else the ``position``-th colour of the cycle."""
    return COLOURS.get(name, CYCLE[position % len(CYCLE)])


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """Apply the house rcParams inside a ``with`` block and restore the caller's afterwards.

    Examples
    --------
    >>> with figure_style():  # doctest: +SKIP
    ...     ax = km_resolution(analysis.resolution)
    """
    import matplotlib as mpl
    from cycler import cycler

    params = dict(RC_PARAMS, **{"axes.prop_cycle": cycler(color=list(CYCLE))})
    with mpl.rc_context(params):
        yield


def new_figure(width_in: float, height_in: float, *, pyplot: bool = False) -> Figure:
    """A figure of the given size in inches, using the current rcParams.

    Parameters
    ----------
    width_in, height_in
        Size in inches.
    pyplot
        Register the figure with pyplot (so a notebook shows it).  Otherwise the figure is a
        plain :class:`matplotlib.figure.Figure` drawn by the Agg canvas: it never touches the
        caller's backend and needs no closing.
    """
    if pyplot:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=(width_in, height_in))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS, *, drawn: bool = False) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each format, with identical bytes on every run.

    Call it inside :func:`figure_style` (the hash salt, fonts and dpi are read at save time).

    Parameters
    ----------
    fig
        The figure (its size is kept: no tight bounding box, so the width stays the column width).
    stem
        Path without suffix.
    formats
        Any of ``png``, ``svg``, ``pdf``.
    drawn
        The Agg canvas holds the finished figure drawn at :data:`DPI`
        (:func:`toh.reports.figures._common.lay_out_once`): the PNG is written from it without
        drawing the figure again (otherwise the figure is first drawn at :data:`DPI`).

    Returns
    -------
    list[Path]
        The files written, in the order of ``formats``.

    Notes
    -----
    The PNG is 8-bit RGB without an alpha channel (the figure's background is opaque white), at
    :data:`DPI`: the pixels ``savefig`` draws, stored as a PDF can embed them unchanged
    (:func:`toh.reports.render.pdf.render_pdf` does).
    """
    paths = []
    for fmt in formats:
        if fmt not in METADATA:
            raise ValueError(f"unknown figure format {fmt!r}; choose from {', '.join(FORMATS)}")
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "png":
            if not drawn:
                fig.set_dpi(DPI)
                fig.canvas.draw()
                drawn = True
            _write_png(fig, path)
        else:
            fig.savefig(path, format=fmt, dpi=DPI, metadata=METADATA[fmt])
        paths.append(path)
    return paths


def png_size(width_in: float, height_in: float) -> tuple[int, int]:
    """The width and height in pixels of the PNG :func:`save_figure` writes for a figure of this
    size: the Agg canvas at :data:`DPI` holds ``int(inches * DPI)`` pixels each way (matplotlib
    scales the figure's box by the dpi and truncates; known before the figure is drawn)."""
    return int(width_in * DPI), int(height_in * DPI)


def _write_png(fig: Figure, path: Path) -> None:
    """The Agg canvas's pixels as an RGB PNG at :data:`DPI` (no text chunks: same bytes every run)."""
    from PIL import Image

    width, height = fig.canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    rgba.convert("RGB").save(path, format="png", dpi=(DPI, DPI))
