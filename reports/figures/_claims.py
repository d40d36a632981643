"""The claims-check forest plot: one small panel per published claim, each on its own scale.

Claims are on different scales (a ratio, shares, months), so one shared axis would mislead.
Each claim gets a row: the claim as its title, the registry's estimate and confidence interval
on the claim's own axis (ratios on a log axis, shares in %), the published figure drawn on the same axis (a
dashed line for a value, a shaded region for a range or for the side of a threshold the claim
asserts, read from the claim's rule in the claims file), the estimate and interval printed at
the right, and the verdict encoded by colour, marker shape and word.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toh.analyses.result import level_free
from toh.reports.figures._common import slug
from toh.reports.figures._style import COLOURS, PUBLISHED_ALPHA
from toh.reports.safe_text import first_upper

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from toh.analyses.claims import ClaimsResult
    from toh.analyses.claimsfile import Claim

__all__ = ["Reference", "reference", "format_number", "claims_layout", "claims_container", "draw_claims",
           "claims_forest"]

VERDICT_MARKERS = {"consistent": "o", "not consistent": "X", "inconclusive": "D"}
#: Geometry of one row in inches, from the bottom: tick labels, axis, quantity line, title lines.
_TICKS_IN, _AXIS_IN, _LINE_IN, _GAP_IN = 0.17, 0.13, 0.112, 0.05
_COLUMN_GAP_IN = 0.2
_TEXT_IN = 1.1  # the printed estimate (CI) and verdict, right of each axis
_LEGEND_IN = 0.72  # the legend under the panels (title and three rows)
_MARGIN_IN = 0.04  # top and bottom
_SIDE_IN = 0.14  # left and right: room for a tick label centred on the axis' end


@dataclass(frozen=True)
class Reference:
    """A published figure on the estimate's scale.

    ``kind`` is ``"value"`` (one number), ``"range"`` (``low`` to ``high``), ``"above"`` or
    ``"below"`` (the claim asserts the quantity lies above / below ``low``).
    """

    kind: str
    low: float
    high: float


def reference(claim: Claim) -> Reference:
    """The published figure of a claim, read from its rule (on the claim's scale): a value, a
    range (also for an equivalence margin), or the side of a threshold the claim asserts; "at
    least one event" is drawn as the side above 0 and "no events" as the value 0."""
    rule = claim.rule
    if rule.kind == "point":
        return Reference("value", rule.value, rule.value)
    if rule.kind == "range":
        return Reference("range", rule.low, rule.high)
    if rule.kind == "equivalence":
        return Reference("range", rule.value - rule.margin, rule.value + rule.margin)
    if rule.kind == "threshold":
        return Reference(rule.direction, rule.value, rule.value)
    return Reference("above", 0.0, 0.0) if rule.kind == "at_least_one_event" else Reference("value", 0.0, 0.0)


def format_number(value: float, like: float | None = None) -> str:
    """Two significant digits' worth of decimals, chosen from ``like`` (default ``value``)."""
    if value is None or not np.isfinite(value):
        return "NA"
    ref = abs(like if like is not None and np.isfinite(like) and like != 0 else value)
    decimals = 0 if ref == 0 else min(3, max(0, 1 - math.floor(math.log10(ref))))
    return f"{value:.{decimals}f}"


def _wrap(text: str, width_in: float, bold: bool) -> str:
    per_inch = 15.0 if bold else 17.0  # 7 pt DejaVu Sans, average characters per inch
    return textwrap.fill(text, width=max(int(per_inch * width_in), 20), break_on_hyphens=False)


def _cell_in(container_in: float, ncols: int) -> float:
    return (container_in - _COLUMN_GAP_IN * (ncols - 1)) / ncols


def _subtitle(row: pd.Series) -> str:
    """The line under a claim's title: the registry quantity and the published figure."""
    published = str(row["published"]).replace(" ", "\u00a0")  # "< 50%" is never broken across lines
    return f"{row['quantity']} (published: {published})"


def _row_heights(claims: pd.DataFrame, cell_in: float) -> np.ndarray:
    """Height of each claim's row (inches): tick labels, axis, wrapped title and quantity."""
    lines = [_wrap(str(row["claim"]), cell_in, True).count("\n") + _wrap(_subtitle(row), cell_in, False).count("\n")
             + 2 for _, row in claims.iterrows()]
    return _TICKS_IN + _AXIS_IN + _GAP_IN + _LINE_IN * np.asarray(lines, float)


def _columns(n: int, ncols: int) -> list[range]:
    """Rows of each column: the first column is filled top to bottom, then the second."""
    nrows = max(1, math.ceil(n / ncols))
    return [range(c * nrows, min(n, (c + 1) * nrows)) for c in range(ncols)]


def claims_layout(claims: pd.DataFrame, width_in: float) -> tuple[int, float]:
    """Columns of panels and the figure height (inches) of the forest plot at a figure width."""
    ncols = 2 if width_in > 5.0 else 1
    heights = _row_heights(claims, _cell_in(width_in - 2 * _SIDE_IN, ncols))
    tallest = max((heights[list(rows)].sum() for rows in _columns(len(claims), ncols)), default=0.5)
    return ncols, float(tallest) + _LEGEND_IN + 2 * _MARGIN_IN


def claims_container(fig: Figure) -> Axes:
    """An axes filling ``fig`` above the legend, for a figure made for the forest plot alone
    (its layout engine is switched off: the rows are placed in inches)."""
    fig.set_layout_engine("none")
    w, h = fig.get_figwidth(), fig.get_figheight()
    bottom = (_LEGEND_IN + _MARGIN_IN) / h
    return fig.add_axes((_SIDE_IN / w, bottom, 1 - 2 * _SIDE_IN / w, 1 - bottom - _MARGIN_IN / h))


def _limits(row: pd.Series, ref: Reference, log: bool) -> tuple[float, float]:
    values = [v for v in (row["estimate"], row["lower"], row["upper"]) if np.isfinite(v)]
    values += [ref.low, ref.high]
    if log:
        values = [v for v in values if v > 0] or [1.0]
        lo, hi = math.log(min(values)), math.log(max(values))
        pad = max(0.15 * (hi - lo), 0.1)
        return math.exp(lo - pad), math.exp(hi + pad)
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    pad = max(0.15 * (hi - lo), 0.02 * max(abs(hi), 1e-9), 1e-3)
    low = lo - pad
    if lo >= 0 and low < 0:  # shares and counts: no negative axis
        low = 0.0 if lo > 0 else -pad / 3
    return low, hi + pad


def _log_ticks(ax: Axes, low: float, high: float) -> None:
    from matplotlib.ticker import FuncFormatter, NullLocator

    decades = range(-3, 4)
    ticks = [m * 10.0 ** e for e in decades for m in (1, 2, 5) if low <= m * 10.0 ** e <= high]
    if len(ticks) < 2:
        ticks = [m * 10.0 ** e for e in decades for m in (1, 1.5, 2, 3, 4, 5, 7) if low <= m * 10.0 ** e <= high]
    while len(ticks) > 5:
        ticks = ticks[::2]
    ax.set_xticks(ticks)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def _draw_reference(ax: Axes, ref: Reference, gid: str) -> None:
    low, high = ax.get_xlim()
    shade = dict(color=COLOURS["published"], alpha=PUBLISHED_ALPHA, linewidth=0, zorder=0)
    if ref.kind == "range":
        ax.axvspan(ref.low, ref.high, **shade).set_gid(gid + "-region")
    elif ref.kind in ("above", "below"):
        ax.axvspan(ref.low, high if ref.kind == "above" else low, **shade).set_gid(gid + "-region")
    if ref.kind != "range":
        ax.axvline(ref.low, color="black", linestyle=(0, (3, 2)), linewidth=0.7, zorder=1).set_gid(gid + "-line")
    ax.set_xlim(low, high)


def draw_claims(container: Axes, result: ClaimsResult) -> list[Axes]:
    """Draw one panel per claim inside ``container`` (which is hidden); returns the panels.

    Panels fill the first column top to bottom, then the second (two columns when the
    container is wider than 5 inches).  Each row holds, from the top: the claim (bold, wrapped),
    the estimated quantity, the axis with the estimate and published figure, the tick labels;
    rows are as tall as their text, stretched together to fill the container.
    """
    claims = level_free(result.claims)
    fig = container.figure
    box = container.get_position()
    width_in, height_in = box.width * fig.get_figwidth(), box.height * fig.get_figheight()
    ncols = 2 if width_in > 5.0 else 1
    cell_in = _cell_in(width_in, ncols)
    heights = _row_heights(claims, cell_in)
    columns = _columns(len(claims), ncols)
    stretch = height_in / max(max(heights[list(rows)].sum() for rows in columns), 1e-9)
    container.set_axis_off()
    panels = []
    records = claims.reset_index(drop=True)
    for col, rows in enumerate(columns):
        x0 = col * (cell_in + _COLUMN_GAP_IN) / width_in
        top = height_in
        for i in rows:
            bottom = top - heights[i] * stretch
            ax = container.inset_axes([x0, (bottom + _TICKS_IN) / height_in,
                                       max(cell_in - _TEXT_IN, 0.3 * cell_in) / width_in, _AXIS_IN / height_in])
            row = records.iloc[i]
            _panel(ax, row, result.record(row["key"]), cell_in)
            panels.append(ax)
            top = bottom
    _legend(container, claims)
    return panels


def _panel(ax: Axes, row: pd.Series, claim: Claim, cell_in: float) -> None:
    key = slug(row["key"])
    ax.set_gid(f"claim-{key}")
    pct = 100.0 if claim.unit == "share" else 1.0  # shares are drawn in %, as the table shows them
    row = row.copy()
    row[["estimate", "lower", "upper"]] = row[["estimate", "lower", "upper"]].astype(float) * pct
    ref = reference(claim)
    ref = Reference(ref.kind, ref.low * pct, ref.high * pct)
    log = claim.unit == "ratio" and ref.low > 0 and all(
        v > 0 for v in (row["lower"], row["upper"], row["estimate"]) if np.isfinite(v))
    if log:
        ax.set_xscale("log")
    low, high = _limits(row, ref, log)
    ax.set_xlim(low, high)
    if log:
        _log_ticks(ax, low, high)
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, min_n_ticks=3))
        if pct != 1.0:
            from matplotlib.ticker import FuncFormatter

            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}%"))
    _draw_reference(ax, ref, f"claim-{key}-published")
    verdict = str(row["verdict"])
    colour = COLOURS.get(verdict, "black")
    est, lo, hi = float(row["estimate"]), float(row["lower"]), float(row["upper"])
    if np.isfinite(lo) and np.isfinite(hi):
        ax.plot([lo, hi], [0, 0], color=colour, linewidth=1.4, solid_capstyle="butt", zorder=3,
                clip_on=False)[0].set_gid(f"claim-{key}-ci")
    if np.isfinite(est):
        (point,) = ax.plot([est], [0], linestyle="none", marker=VERDICT_MARKERS.get(verdict, "o"), markersize=4.5,
                           color=colour, markeredgecolor="white", markeredgewidth=0.5, zorder=4, clip_on=False)
        point.set_gid(f"claim-{key}-estimate")
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    title = str(row["claim"])
    quantity = _wrap(_subtitle(row), cell_in, bold=False)
    line_pt = _LINE_IN * 72
    above = (quantity.count("\n") + 1) * line_pt + 1.5
    ax.annotate(quantity, xy=(0, 1), xycoords="axes fraction", xytext=(0, 1.5), textcoords="offset points",
                ha="left", va="bottom", fontsize=7, color="#444444").set_gid(f"claim-{key}-quantity")
    ax.annotate(_wrap(first_upper(title), cell_in, bold=True), xy=(0, 1), xycoords="axes fraction",
                xytext=(0, above), textcoords="offset points", ha="left", va="bottom", fontsize=7,
                fontweight="bold").set_gid(f"claim-{key}-title")
    note = row.get("note")  # set by the report for an estimate hidden by the small-cell rule
    if not np.isfinite(est) and isinstance(note, str) and note:  # said inside the empty axis, no ticks
        ax.set_xticks([])
        ax.annotate(note, xy=(0.5, 0.5), xycoords="axes fraction", ha="center", va="center", fontsize=6.5,
                    fontstyle="italic", color="#444444", zorder=5,
                    bbox=dict(facecolor="white", edgecolor="none", pad=1.0)).set_gid(f"claim-{key}-note")
    unit = "%" if pct != 1.0 else ""
    estimate = (f"{format_number(est)}{unit} ({format_number(lo, est)}\u2013{format_number(hi, est)}{unit})"
                if np.isfinite(est) else "not shown" if isinstance(note, str) and note else "not estimable")
    ax.annotate(estimate, xy=(1, 0.5), xycoords="axes fraction", xytext=(8, 0), textcoords="offset points",
                ha="left", va="center", fontsize=7).set_gid(f"claim-{key}-text")
    ax.annotate(verdict, xy=(1, 0.5), xycoords="axes fraction", xytext=(8, -4.5), textcoords="offset points",
                ha="left", va="top", fontsize=7, fontstyle="italic",
                color=_dark(colour)).set_gid(f"claim-{key}-verdict")


def _dark(colour: str) -> str:
    """The verdict word's colour: the grey of "inconclusive" is too light for text."""
    return "#666666" if colour == COLOURS["inconclusive"] else colour


def _legend(container: Axes, claims: pd.DataFrame) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=COLOURS[v], marker=VERDICT_MARKERS[v], markersize=4.5, markeredgecolor="white",
                      markeredgewidth=0.5, linewidth=1.4, label=first_upper(v))
               for v in VERDICT_MARKERS if (claims["verdict"] == v).any()]
    handles += [Line2D([], [], color="black", linestyle=(0, (3, 2)), linewidth=0.7,
                       label="Published value / threshold"),
                Patch(color=COLOURS["published"], alpha=PUBLISHED_ALPHA, linewidth=0,
                      label="Published range / side claimed")]
    container.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=2, handlelength=2.0,
                     columnspacing=1.5, borderaxespad=0.2,
                     title="Registry estimate and CI, by verdict; published figure",
                     title_fontproperties={"size": 7, "weight": "bold"})


def claims_forest(result: ClaimsResult, ax: Axes | None = None) -> Axes:
    """The claims check as a forest plot: each published claim beside the registry's estimate.

    Claims are on different scales (a ratio, shares, months), so each has its own small panel
    and axis (ratios on a log axis) rather than one shared axis: the estimate and its confidence
    interval, coloured and shaped by the verdict (consistent / not consistent / inconclusive),
    the published figure on the same axis (dashed line: a value or threshold; shading: a range,
    or the side of a threshold the claim asserts), and the estimate (CI) and verdict printed at
    the right.  Two columns of panels when the area is wider than 5 inches.

    Parameters
    ----------
    result
        :class:`toh.analyses.claims.ClaimsResult`.
    ax
        Axes whose area holds the panels (it is hidden; give it about
        ``claims_layout(result.claims, width)[1]`` inches of height); default a new
        single-column pyplot figure of that height.

    Returns
    -------
    matplotlib.axes.Axes
        The hidden container; the panels are its ``child_axes`` (gids ``claim-{key}``, with
        ``claim-{key}-ci``, ``-estimate``, ``-published-line`` / ``-published-region``,
        ``-title``, ``-text``, ``-verdict``).
    """
    from toh.reports.figures._common import SINGLE_IN
    from toh.reports.figures._style import figure_style, new_figure

    with figure_style():
        if ax is None:
            fig = new_figure(SINGLE_IN, claims_layout(result.claims, SINGLE_IN)[1], pyplot=True)
            ax = claims_container(fig)
        draw_claims(ax, result)
    return ax
