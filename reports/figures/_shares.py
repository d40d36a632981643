"""Shares with confidence intervals as dot plots: fracture and AVN by pregnancy, imaging findings.

A share whose numerator or complement is a small count (1 to ``min_cell - 1``) is not drawn;
its row says so, the rule of :mod:`toh.reports.document.tables`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np

from toh.analyses.result import level_free
from toh.reports.figures._common import new_axes, slug, suppressed
from toh.reports.figures._style import OKABE_ITO, colour_for, figure_style

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

    from toh.analyses.complications import ComplicationsResult
    from toh.analyses.imaging import ImagingResult

__all__ = ["complications_shares", "imaging_findings", "share_rows_height"]

_GROUP_COLOURS = {"all": OKABE_ITO["black"], "pregnancy-associated": colour_for("pregnancy-associated"),
                  "not pregnancy-associated": colour_for("not pregnancy-associated")}


def _hidden(x: float, n: float, min_cell: int) -> bool:
    """The share x / n rests on a small count: its numerator or its complement (the rule of
    :func:`toh.reports.figures._common.suppressed`)."""
    return bool(suppressed(np.array([x, n - x]), min_cell).any())


def share_rows_height(rows: int) -> float:
    """Figure height in inches for a dot plot of ``rows`` rows."""
    return 0.9 + 0.2 * rows


def _dots(ax: Axes, labels: list[str], est: np.ndarray, lower: np.ndarray, upper: np.ndarray, colours: list[str],
          hidden: np.ndarray, prefix: str, xlabel: str, min_cell: int) -> None:
    y = np.arange(len(labels))[::-1].astype(float)
    shown = ~hidden & np.isfinite(est)
    top = np.nanmax(np.where(shown, upper, np.nan)) if shown.any() else 1.0
    xmax = min(100.0, max(1.0, float(np.ceil(top * 100 * 1.1 / 5) * 5)))
    for i in np.flatnonzero(shown):
        line = ax.plot([100 * lower[i], 100 * upper[i]], [y[i], y[i]], color=colours[i], linewidth=1.2,
                       solid_capstyle="butt")[0]
        line.set_gid(f"{prefix}-{slug(labels[i])}-ci")
        dot = ax.plot([100 * est[i]], [y[i]], "o", color=colours[i], markersize=3.5)[0]
        dot.set_gid(f"{prefix}-{slug(labels[i])}-estimate")
    for i in np.flatnonzero(~shown):
        why = f"not shown: a count below {min_cell}" if hidden[i] else "no data"
        text = ax.text(0.01 * xmax, y[i], why, va="center", ha="left", fontsize="small", color=OKABE_ITO["grey"])
        text.set_gid(f"{prefix}-{slug(labels[i])}-hidden")
    ax.set_yticks(y, labels)
    ax.set_xlim(0, xmax)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.spines[["top", "right"]].set_visible(False)


def complications_shares(result: ComplicationsResult, ax: Axes | None = None, *, min_cell: int = 5,
                         hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Share of index episodes with a fracture and with AVN, overall and by pregnancy, with exact CIs.

    Parameters
    ----------
    result
        :class:`toh.analyses.complications.ComplicationsResult` (``estimates``).
    ax
        Axes to draw in; default a new single-column figure.
    min_cell
        Shares resting on a count from 1 to ``min_cell - 1`` (or such a complement) are not drawn.
    hidden
        ``(row, 0)`` of the shares the report's disclosure audit hides besides (row
        ``"outcome.stratum"`` or ``"modality.finding"``): not drawn either.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = level_free(result.estimates)
    audit = frozenset(hidden)
    with figure_style():
        ax = new_axes(ax, share_rows_height(len(table)))
        groups = {"all": "all", "pregnancy-associated": "pregnancy", "not pregnancy-associated": "other"}
        labels = [f"{'Fracture' if r.outcome == 'fracture' else 'AVN'}: {groups.get(r.stratum, r.stratum)}"
                  for r in table.itertuples()]
        hidden = np.array([_hidden(r.events, r.n, min_cell) or (f"{r.outcome}.{r.stratum}", 0) in audit
                           for r in table.itertuples()])
        _dots(ax, labels, table["estimate"].to_numpy(float), table["lower"].to_numpy(float),
              table["upper"].to_numpy(float), [_GROUP_COLOURS.get(g, OKABE_ITO["black"]) for g in table["stratum"]],
              hidden, "complications", f"% of index episodes\n(exact {100 * result.conf:g}% CI)", min_cell)
    return ax


def imaging_findings(result: ImagingResult, ax: Axes | None = None, *, min_cell: int = 5,
                     hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Share of index episodes whose first examination of the modality shows each finding (among
    those that recorded it), by modality, with CIs.

    Parameters
    ----------
    result
        :class:`toh.analyses.imaging.ImagingResult` (``findings``).
    ax
        Axes to draw in; default a new single-column figure.
    min_cell
        Shares resting on a count from 1 to ``min_cell - 1`` (or such a complement) are not drawn.
    hidden
        ``(row, 0)`` of the shares the report's disclosure audit hides besides (row
        ``"outcome.stratum"`` or ``"modality.finding"``): not drawn either.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = level_free(result.findings[result.findings["recorded"] > 0])
    audit = frozenset(hidden)
    with figure_style():
        ax = new_axes(ax, share_rows_height(max(len(table), 1)))
        labels = [f"{r.modality}: {r.finding.replace('_', ' ')}" for r in table.itertuples()]
        modalities = list(dict.fromkeys(table["modality"]))
        colours = [colour_for(m, modalities.index(m)) for m in table["modality"]]
        hidden = np.array([_hidden(r.positive, r.recorded, min_cell) or (f"{r.modality}.{r.finding}", 0) in audit
                           for r in table.itertuples()], dtype=bool)
        _dots(ax, labels, table["estimate"].to_numpy(float), table["lower"].to_numpy(float),
              table["upper"].to_numpy(float), colours, hidden, "imaging", "% of index episodes, first\n"
              f"examination ({100 * result.conf:g}% CI)", min_cell)
    return ax
