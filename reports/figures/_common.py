"""Helpers shared by the figures: step coordinates, tick positions, numbers at risk and
small-cell suppression.  Plain numpy; matplotlib is imported only by the functions that draw."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toh.analyses.levels import small_count

if TYPE_CHECKING:
    from matplotlib.figure import Figure  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["step_xy", "nice_ticks", "at_risk", "count_text", "suppressed", "slug", "draw_step_band",
           "at_risk_rows", "days_per", "legends_within_figure", "lay_out_once", "new_axes", "percent_axis", "DAYS_PER_YEAR", "SINGLE_IN", "HIDDEN_AT_RISK",
           "NOT_DRAWN"]

DAYS_PER_YEAR = 365.25  # docs/definitions.md; a result that records its own day counts overrides it (days_per)
SINGLE_IN = 85.0 / 25.4  # single-column width in inches


def days_per(table: pd.DataFrame | None, unit_col: str, fallback: float) -> float:
    """Days per unit as the analysis used them (``days / months`` of its landmark table), else
    ``fallback``."""
    if table is not None and len(table) and (table[unit_col] > 0).any():
        row = table[table[unit_col] > 0].iloc[0]
        return float(row["days"] / row[unit_col])
    return fallback


def new_axes(ax: Axes | None, height_in: float, width_in: float = SINGLE_IN) -> Axes:
    """``ax``, or the axes of a new pyplot figure (single column wide) when it is None."""
    if ax is not None:
        return ax
    from toh.reports.figures._style import new_figure

    return new_figure(width_in, height_in, pyplot=True).add_subplot()


def legends_within_figure(fig: Figure, *, laid_out: bool = False) -> bool:
    """Shorten the longest entries of any legend that reaches past the figure's edge (ending
    them in "…") until it fits: a long label from the export (a free-text treatment) cannot push
    a legend off the canvas.  Call when the figure is laid out, just before saving.

    Parameters
    ----------
    fig
        The figure, drawn on the Agg canvas.
    laid_out
        The figure was just drawn (:func:`lay_out_once` draws it): its layout is not computed again
        unless a legend is shortened.

    Returns
    -------
    bool
        Whether a legend entry was shortened (the figure was then laid out again).
    """
    import warnings

    from matplotlib.legend import Legend

    renderer = fig.canvas.get_renderer()
    if not laid_out:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fig.draw_without_rendering()  # lay the figure out first: a legend's place depends on it
    shortened = False
    for legend in fig.findobj(Legend):
        texts = [t for t in legend.get_texts() if t.get_text()]
        for _ in range(500):
            box = legend.get_window_extent(renderer)
            if (box.x0 >= fig.bbox.x0 - 0.5 and box.x1 <= fig.bbox.x1 + 0.5) or not texts:
                break
            longest = max(texts, key=lambda t: len(t.get_text()))
            text = longest.get_text().rstrip("\u2026")
            if len(text) <= 4:
                break
            longest.set_text(text[:-1].rstrip() + "\u2026")
            shortened = True
            with warnings.catch_warnings():  # an intermediate layout may not fit; the last one does
                warnings.simplefilter("ignore", UserWarning)
                fig.draw_without_rendering()  # the legend's box follows its texts only when laid out again
    return shortened


def lay_out_once(fig: Figure) -> None:
    """Draw ``fig`` on its Agg canvas at the raster resolution, fit its legends
    (:func:`legends_within_figure`), then freeze the layout.

    The constrained layout (which measures every text) is then computed once, or again only when
    a legend was shortened, instead of once more for every file written; the canvas holds the
    drawing at :data:`toh.reports.figures._style.DPI`, which :func:`~toh.reports.figures._style.save_figure`
    (``drawn=True``) writes as the PNG without drawing it again.
    """
    from toh.reports.figures._style import DPI

    fig.set_dpi(DPI)
    fig.canvas.draw()
    if legends_within_figure(fig, laid_out=True):
        fig.canvas.draw()
    import matplotlib as mpl

    # keep the positions just computed, with no layout engine at all: with one (even "none", a
    # placeholder) savefig draws the whole figure once more, without output, before the SVG
    with mpl.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)


def slug(text: str) -> str:
    """A lower-case id fragment of letters, digits and hyphens (SVG ids of the figure's artists)."""
    out = "".join(c if c.isalnum() else "-" for c in str(text).lower())
    return "-".join(part for part in out.split("-") if part) or "x"


def step_xy(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of a right-continuous step function drawn with straight segments.

    ``values[i]`` holds on ``[times[i], times[i + 1])``; the last value is a single point at the
    last time.  A NaN value leaves exactly its own stretch empty (a gap in a band), unlike
    ``fill_between(step="post")``, which also drops the stretch before it.

    Parameters
    ----------
    times
        Increasing times.
    values
        Value from each time on.

    Returns
    -------
    x, y
        ``2 n - 1`` points each.
    """
    times = np.asarray(times, float)
    values = np.asarray(values, float)
    if len(times) == 0:
        return times, values
    x = np.empty(2 * len(times) - 1)
    y = np.empty(2 * len(times) - 1)
    x[0::2], y[0::2] = times, values
    x[1::2], y[1::2] = times[1:], values[:-1]
    return x, y


def draw_step_band(ax: Axes, times: np.ndarray, lower: np.ndarray, upper: np.ndarray, colour: str,
                   gid: str, alpha: float = 0.18) -> None:
    """Shade a confidence band between two step functions (gaps where a bound is NaN)."""
    x, lo = step_xy(times, lower)
    _, hi = step_xy(times, upper)
    band = ax.fill_between(x, lo, hi, color=colour, alpha=alpha, linewidth=0, zorder=1)
    band.set_gid(gid)


def nice_ticks(xmax: float, steps: Sequence[float] = (1, 2, 3, 6, 12, 24, 60, 120), max_ticks: int = 8) -> np.ndarray:
    """Ticks 0, s, 2s, ... up to the first multiple of s at or beyond ``xmax``.

    The step s is the smallest of ``steps`` that needs at most ``max_ticks`` ticks.  The axis
    then runs from 0 to the last tick, so a number-at-risk table lines up with every tick.
    """
    xmax = max(float(xmax), 1e-9)
    for step in steps:
        count = math.ceil(xmax / step - 1e-9)
        if count + 1 <= max_ticks:
            return np.arange(count + 1) * float(step)
    step = float(steps[-1]) * math.ceil(xmax / (steps[-1] * (max_ticks - 1)))
    return np.arange(math.ceil(xmax / step - 1e-9) + 1) * step


def at_risk(curve: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Numbers at risk at ``times`` (days): ``n_risk`` of the first curve time >= t, else 0.

    That is R's ``summary(survfit, times =)`` rule (everyone with T >= t), read from the curve
    table, which lists every observed time with its risk set.
    """
    curve_times = curve["days"].to_numpy(float)
    n_risk = curve["n_risk"].to_numpy(int)
    position = np.searchsorted(curve_times, np.asarray(times, float), side="left")
    padded = np.append(n_risk, 0)
    return padded[position]


def drawn_steps(curve: pd.DataFrame, min_cell: int, events: str = "n_event",
                until: float = math.inf) -> tuple[pd.DataFrame, float]:
    """The rows of a step curve a figure draws under the small-cell rule, and the day it ends.

    A step's height counts its events, and a curve's level where few remain at risk is those few
    in disguise (its exact coordinates are in the SVG).  So no step of fewer than ``min_cell``
    events is drawn: consecutive steps are merged into one, drawn at the time of its last event
    (the curve never runs ahead of the data), the last step also holding the fewer than
    ``min_cell`` events after it (so the curve ends at its own last level); and no step after
    which fewer than ``min_cell`` remain at risk (without censoring its level would count them):
    the curve ends at the time before it.  With ``min_cell`` 0 or 1 every step is drawn, to the
    last time.

    Parameters
    ----------
    curve
        One row per distinct time: ``days`` (increasing), ``n_risk`` (at risk just before),
        ``events`` (what makes the curve step) and the values drawn.
    min_cell
        The report's small-cell rule.
    events
        Column of the events of each time.
    until
        Last day that may be drawn (the figure's tick before a number at risk the report hides:
        the curve's level near it would give that number back).

    Returns
    -------
    tuple of (pandas.DataFrame, float)
        The rows of the drawn steps (a subset of ``curve``; each value is the curve's own at that
        time) and the last day drawn (0 when nothing is).
    """
    rows = curve.sort_values("days")
    if min_cell <= 1 or rows.empty:
        return rows, float(rows["days"].max()) if len(rows) else 0.0
    after = np.append(rows["n_risk"].to_numpy()[1:], 0)  # at risk after each time (nobody after the last)
    few = np.flatnonzero((after < min_cell) | (rows["days"].to_numpy(float) > until))
    rows = rows.iloc[: few[0]] if len(few) else rows
    if rows.empty:
        return rows, 0.0
    counts = rows[events].to_numpy(float)
    if counts.sum() < min_cell:  # not one step's worth: the curve stays where it starts
        return rows.iloc[:0], float(rows["days"].iloc[-1])
    # each merged step is drawn at the time of its last event (the last step takes the few after it)
    keep = [first + int(np.flatnonzero(counts[first:last + 1])[-1])
            for first, last in merged_masses(counts, 1.0, min_cell)]
    return rows.iloc[keep], float(rows["days"].iloc[-1])


def merged_masses(mass: np.ndarray, n: float, min_cell: int) -> list[tuple[int, int]]:
    """Ranges ``(first, last)`` of consecutive probability masses drawn as one rise: each holds
    the mass of at least ``min_cell`` of ``n`` episodes (the last range also takes what is left
    after it), so no drawn rise stands for fewer; every mass alone with ``min_cell`` 0 or 1."""
    if min_cell <= 1:
        return [(i, i) for i in range(len(mass))]
    out: list[tuple[int, int]] = []
    start, held = 0, 0.0
    for i, m in enumerate(np.asarray(mass, float)):
        held += m * n
        if held >= min_cell - 1e-9:
            out.append((start, i))
            start, held = i + 1, 0.0
    if start < len(mass):
        out = [*out[:-1], (out[-1][0], len(mass) - 1)] if out else [(0, len(mass) - 1)]
    return out


def suppressed(counts: np.ndarray, min_cell: int, complementary: bool = False) -> np.ndarray:
    """Which counts to hide: 0 < n < min_cell; with ``complementary``, when exactly one count of
    the group is hidden, also the smallest other non-zero one (so a known total does not reveal
    it).  The rule of :mod:`toh.reports.document.tables`."""
    counts = np.asarray(counts)
    mask = np.array([small_count(c, min_cell) for c in counts.ravel()], dtype=bool).reshape(counts.shape)
    if complementary and mask.sum() == 1:
        others = np.flatnonzero(~mask & (counts > 0))
        if len(others):
            mask[others[np.argmin(counts[others])]] = True
    return mask


def count_text(n: int, min_cell: int) -> str:
    """A count as printed: ``"<5"`` for 0 < n < min_cell (``min_cell`` 5), else the number."""
    return f"<{min_cell}" if small_count(n, min_cell) else f"{int(n)}"


#: What the at-risk table prints for a count the disclosure audit hides although it is not small.
HIDDEN_AT_RISK = "\u2013"

#: In a figure's ``hidden`` set, ``(group, NOT_DRAWN)`` marks a group (a stratum, a sex) that is not
#: drawn at all: it is smaller than min_cell, or the report hides its size.
NOT_DRAWN = -1


def at_risk_rows(ax: Axes, ticks: np.ndarray, rows: list[tuple[str, str, np.ndarray]], min_cell: int,
                 prefix: str, hidden: Collection[tuple[str, int]] = ()) -> None:
    """Write a number-at-risk table under ``ax``, one row per curve, one column per x tick.

    The rows hang below the x-axis label (positions follow the label, so they never overlap it);
    the numbers are centred on the ticks.  Each number is a Text whose gid is
    ``{prefix}-at-risk-{row}-{column}`` and whose text is the count (``"<5"`` when suppressed).

    Parameters
    ----------
    ax
        The axes of the curves.
    ticks
        x positions (data coordinates) of the columns.
    rows
        ``(id, label, counts)`` per row; the label is drawn in the row's colour when it names one.
    min_cell
        Counts from 1 to ``min_cell - 1`` are printed as ``"<min_cell"``.
    prefix
        gid prefix of the figure.
    hidden
        ``(row id, column)`` of the counts the report's disclosure audit hides although they
        are not small: printed as :data:`HIDDEN_AT_RISK`.
    """
    from toh.reports.figures._style import colour_for

    size = _points(ax, "xtick.labelsize")
    line = 1.25 * size
    below = (ax.transAxes, ax.xaxis.label)  # x in axes or data coordinates, y from the x label's box
    single = len(rows) == 1
    header_offset = -0.6 * line
    # row labels end left of the first column's numbers, which are centred on x = 0
    widest = max((len(count_text(int(n), min_cell)) for _, _, counts in rows for n in counts[:1]), default=1)
    left = -(0.32 * size * widest + 4)
    ax.annotate("Number at risk", xy=(0, 0), xycoords=below, xytext=(left, header_offset), textcoords="offset points",
                ha="right", va="top", fontweight="bold", annotation_clip=False).set_gid(f"{prefix}-at-risk-header")
    data_x = (ax.transData, ax.xaxis.label)
    for r, (row_id, label, counts) in enumerate(rows):
        y = header_offset - (r if single else r + 1) * line
        colour = "black" if single else colour_for(row_id, r)
        if not single:
            ax.annotate(label, xy=(0, 0), xycoords=below, xytext=(left, y), textcoords="offset points", ha="right",
                        va="top", color=colour, annotation_clip=False).set_gid(f"{prefix}-at-risk-label-{slug(row_id)}")
        for c, (tick, n) in enumerate(zip(ticks, counts)):
            shown = HIDDEN_AT_RISK if (row_id, c) in hidden and not small_count(n, min_cell) else count_text(int(n), min_cell)
            text = ax.annotate(shown, xy=(tick, 0), xycoords=data_x, xytext=(0, y),
                               textcoords="offset points", ha="center", va="top", color=colour, annotation_clip=False)
            text.set_gid(f"{prefix}-at-risk-{slug(row_id)}-{c}")


def _points(ax: Axes, key: str) -> float:
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=rcParams[key]).get_size_in_points())


def percent_axis(axis: Any) -> None:
    """Label an axis drawn on the 0-1 scale in percent, as the report's tables print shares
    ("50", not "0.5": one scale for figures and tables)."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0, symbol=""))
