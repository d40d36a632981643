"""Figures of a pooled report (``toh pool --report``): a forest plot per meta-analysed estimand
(each site's estimate and CI, the pooled DerSimonian-Laird diamond, I^2 and tau^2 in the
label), and :func:`write_pool_figures`, which writes those and the figures of the
single-registry report that the pooled estimates support (Kaplan-Meier, cumulative incidence,
radiographic change, complications), drawn by the same functions.

A site's estimate that rests on a small count (:func:`toh.reports.document.pooled.site_hidden`)
is not drawn: its row says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toh.analyses.result import level_free
from toh.analyses.meta import estimand_label
from toh.reports.figures._common import new_axes, slug
from toh.reports.figures._style import OKABE_ITO, figure_style, figure_width, new_figure, save_figure
from toh.reports.figures.names import sites_forest_name
from toh.reports.safe_text import first_upper

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["sites_forest", "pool_figure_specs", "write_pool_figures"]

#: model scale of a meta-analysed estimand -> (axis label, factor to show, log axis)
_SCALES = {"log rate": ("per 100 person-years", 1.0, True), "logit": ("%", 100.0, False),
           "log-log": ("%", 100.0, False), "log hazard ratio": ("hazard ratio", 1.0, True)}


#: Share of the figure's width a forest plot's title may take on one line: the plot sits right of
#: its site labels, and the title starts where the plot does.
_TITLE_SHARE = 0.6


def _fit_title(ax: Axes, text: str) -> None:
    """The title, left-aligned over the plot, wrapped (at spaces) until each line fits
    :data:`_TITLE_SHARE` of the figure's width: an estimand's name ("hazard ratio of resolution,
    treatment bisphosphonate") never runs past the canvas."""
    import textwrap

    title = ax.set_title(text, loc="left", fontsize="medium")
    renderer = ax.figure.canvas.get_renderer()
    limit = _TITLE_SHARE * ax.figure.bbox.width
    width = len(text)
    while width > 10 and title.get_window_extent(renderer).width > limit:
        width -= 3
        title.set_text(textwrap.fill(text, width, break_on_hyphens=False, break_long_words=False))


def sites_forest(sites: pd.DataFrame, combined: pd.Series, ax: Axes | None = None, *,
                 hidden: Collection[str] = (), min_cell: int = 5) -> Axes:
    """Each site's estimate with its CI and the pooled (DerSimonian-Laird) estimate as a diamond.

    Parameters
    ----------
    sites
        Rows of :attr:`toh.analyses.meta.MetaAnalysis.sites` of one estimand (``site, scale,
        estimate, lower, upper``).
    combined
        The estimand's DerSimonian-Laird row of :attr:`toh.analyses.meta.MetaAnalysis.combined`
        (``estimate, lower, upper, tau2, i2, k``).
    hidden
        Sites whose estimate rests on a count below ``min_cell`` (not drawn; the row says so).

    Returns
    -------
    matplotlib.axes.Axes
        Gids ``forest-<site>-ci``, ``forest-<site>-estimate``, ``forest-<site>-hidden`` and
        ``forest-pooled-diamond``.
    """
    from matplotlib.patches import Polygon

    ax = ax if ax is not None else new_axes(None, 3.0)
    scale = str(combined["scale"])
    _, factor, log = _SCALES.get(scale, ("", 1.0, False))
    names = [str(s) for s in sites["site"]]
    y = np.arange(len(names) + 1)[::-1].astype(float)
    values: list[float] = []
    for i, row in enumerate(sites.itertuples()):
        finite = all(np.isfinite([row.estimate, row.lower, row.upper]))
        if row.site in hidden or not finite:
            why = f"not shown: a count below {min_cell}" if row.site in hidden else "no estimate at this site"
            text = ax.text(0.02, y[i], why, va="center", ha="left", fontsize="small", color=OKABE_ITO["grey"],
                           transform=ax.get_yaxis_transform())
            text.set_gid(f"forest-{slug(row.site)}-hidden")
            continue
        line = ax.plot([factor * row.lower, factor * row.upper], [y[i], y[i]], color=OKABE_ITO["black"],
                       linewidth=1.0, solid_capstyle="butt")[0]
        line.set_gid(f"forest-{slug(row.site)}-ci")
        dot = ax.plot([factor * row.estimate], [y[i]], "s", color=OKABE_ITO["black"], markersize=3.5)[0]
        dot.set_gid(f"forest-{slug(row.site)}-estimate")
        values += [factor * row.lower, factor * row.upper]
    est, low, up = (float(combined[k]) for k in ("estimate", "lower", "upper"))
    pooled_label = "pooled (DL)"
    if "(pooled)" in hidden:
        ax.text(0.02, y[-1], f"not shown: a count below {min_cell}", va="center", ha="left", fontsize="small",
                color=OKABE_ITO["grey"], transform=ax.get_yaxis_transform()).set_gid("forest-pooled-hidden")
    elif all(np.isfinite([est, low, up])):
        diamond = Polygon([(factor * low, y[-1]), (factor * est, y[-1] + 0.3), (factor * up, y[-1]),
                           (factor * est, y[-1] - 0.3)], closed=True, color=OKABE_ITO["blue"])
        diamond.set_gid("forest-pooled-diamond")
        ax.add_patch(diamond)
        values += [factor * low, factor * up]
        pooled_label = (f"pooled (DL)\nI\u00b2 {100 * float(combined['i2']):.0f}%, "
                        f"\u03c4\u00b2 {float(combined['tau2']):.3g}")
    else:
        ax.text(0.02, y[-1], "not estimable", va="center", ha="left", fontsize="small", color=OKABE_ITO["grey"],
                transform=ax.get_yaxis_transform()).set_gid("forest-pooled-hidden")
    finite = [v for v in values if np.isfinite(v) and (v > 0 or not log)]
    if log and finite:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if finite:
        lo, hi = min(finite), max(finite)
        pad = (hi / lo) ** 0.08 if log and lo > 0 else None
        ax.set_xlim(*((lo / pad, hi * pad) if pad else (lo - 0.08 * (hi - lo or 1), hi + 0.08 * (hi - lo or 1))))
    ax.set_yticks(y, [*names, pooled_label])
    ax.set_ylim(-0.7, len(names) + 0.7)
    ax.set_xlabel(_SCALES.get(scale, ("", 1.0, False))[0])
    _fit_title(ax, first_upper(estimand_label(str(combined["estimand"]))))
    ax.grid(axis="x", linewidth=0.4, alpha=0.5)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def pool_figure_specs(pooled: Any, view: Any, width_in: float, *, min_cell: int = 5,
                      hidden: Mapping[str, Collection[Any]] | None = None) -> dict[str, tuple[float, Any]]:
    """Figure stem -> (height in inches, draw(figure)) of every figure a pooled report can show.

    ``pooled`` is the :class:`toh.analyses.aggregates.PooledAnalysis`, ``view`` its
    single-report face (:func:`toh.reports.document.pooled.pooled_view`), ``hidden`` figure stem
    -> what its document hides (numbers at risk; for a forest plot, site names).
    """
    from toh.reports.figures._curves import cif_curves, km_resolution
    from toh.reports.figures._panels import radiographic_change
    from toh.reports.figures._shares import complications_shares, share_rows_height
    from toh.reports.figures._claims import claims_container, claims_forest, claims_layout
    from toh.reports.document import claims_for_figure
    from toh.reports.figures.names import CIF, CLAIMS_FOREST, COMPLICATIONS, RADIOGRAPHIC, km_resolution_name

    hidden = hidden or {}
    draws: dict[str, tuple[float, Any]] = {
        CIF: (2.7, lambda fig: cif_curves(pooled.recurrence, pooled.migration, fig.add_subplot(), min_cell=min_cell)),
        RADIOGRAPHIC: (2.4, lambda fig: radiographic_change(pooled.radiographic, fig.add_subplot())),
        COMPLICATIONS: (share_rows_height(len(pooled.complications.estimates)),
                        lambda fig: complications_shares(pooled.complications, fig.add_subplot(), min_cell=min_cell,
                                                         hidden=hidden.get(COMPLICATIONS, ()))),
    }
    def pooled_claims(fig: Any) -> Any:
        ax = claims_forest(claims_for_figure(view, min_cell, [c for c, _ in hidden.get(CLAIMS_FOREST, ())]),
                           claims_container(fig))
        legend = ax.get_legend()
        if legend is not None:  # the single report's legend speaks of the registry's estimate
            legend.set_title("Pooled estimate and CI, by verdict; published figure")
        return ax

    draws[CLAIMS_FOREST] = (claims_layout(view.claims.claims, width_in)[1], pooled_claims)
    curves = view.resolution.curves
    for s in dict.fromkeys(curves["variable"]):
        n = curves.loc[curves["variable"] == s, "stratum"].nunique()
        draws[km_resolution_name(s)] = (2.3 + 0.125 * (n + (n > 1)) + 0.25, lambda fig, s=s: km_resolution(
            view.resolution, s, fig.add_subplot(), min_cell=min_cell, hidden=hidden.get(km_resolution_name(s), ())))
    meta = pooled.meta
    sites, combined = level_free(meta.sites), level_free(meta.combined)
    for estimand in dict.fromkeys(combined["estimand"]):
        rows = sites[sites["estimand"] == estimand]
        dl = combined[(combined["estimand"] == estimand) & (combined["method"] == "DL")].iloc[0]

        def forest(fig: Any, rows: pd.DataFrame = rows, dl: pd.Series = dl, e: str = estimand) -> Any:
            ax = sites_forest(rows, dl, fig.add_subplot(), hidden=hidden.get(sites_forest_name(e), ()),
                              min_cell=min_cell)
            fig.tight_layout()
            return ax

        draws[sites_forest_name(estimand)] = (1.0 + 0.25 * (len(rows) + 1), forest)
    return draws


def write_pool_figures(pooled: Any, view: Any, out_dir: Path, names: Sequence[str], width: str = "single", *,
                       min_cell: int = 5, hidden: Mapping[str, Collection[Any]] | None = None,
                       formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write the figures ``names`` of a pooled report (the stems the document shows), as
    :func:`pool_figure_specs` draws them."""
    draws = pool_figure_specs(pooled, view, figure_width(width), min_cell=min_cell, hidden=hidden)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem in names:
        height, draw = draws[stem]
        with figure_style():
            fig = new_figure(figure_width(width), height)
            draw(fig)
            written += save_figure(fig, out_dir / stem, formats)
            fig.clear()
    return written
