"""Radiographic change (Turnbull NPMLE, Weibull, bootstrap intervals) and age at onset by sex."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np

from toh.analyses.result import level_free
from toh.reports.figures._common import NOT_DRAWN, merged_masses, new_axes, nice_ticks, percent_axis, slug, suppressed
from toh.reports.figures._style import COLOURS, PUBLISHED_ALPHA, colour_for, figure_style

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

    from toh.analyses.demographics import DemographicsResult
    from toh.analyses.radiographic import RadiographicResult

__all__ = ["radiographic_change", "age_by_sex"]

_GROUP_LABELS = {"men": "Men", "women, pregnancy-associated": "Women, pregnancy-assoc.", "women, other": "Women, other"}


def radiographic_change(result: RadiographicResult, ax: Axes | None = None, *,
                        published_weeks: tuple[float, float] = (4.0, 8.0), min_cell: int = 5,
                        hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Cumulative proportion with radiographic change on plain films against weeks since onset.

    The Turnbull NPMLE says how much mass lies in each innermost interval (left, right], not
    where inside it: F is drawn rising linearly across each interval that holds mass, over a
    shaded box spanning the values F may take there, and flat between intervals.  Beside it the
    interval-censored Weibull fit (a smooth line), the bootstrap percentile intervals at the
    reading times (error bars), and the published 4-8 week band.

    Parameters
    ----------
    result
        :class:`toh.analyses.radiographic.RadiographicResult` (``npmle``, ``weibull``, ``at``).
    ax
        Axes to draw in; default a new single-column figure.
    published_weeks
        The published window of change, shaded.
    min_cell
        Each drawn rise holds the mass of at least this many episodes (consecutive intervals
        merged, :func:`~toh.reports.figures._common.merged_masses`): a rise of one interval's
        mass would count its few episodes.
    hidden
        ``(weeks, 0)`` of the reading times whose estimate the report hides: not marked.

    Returns
    -------
    matplotlib.axes.Axes
    """
    week = 7.0
    npmle = result.npmle.sort_values("left_days")
    with figure_style():
        ax = new_axes(ax, 2.4)
        ends = npmle[["left_days", "right_days"]].to_numpy(float).ravel()
        ends = ends[np.isfinite(ends)] / week
        last = max([published_weeks[1], *result.at["weeks"].tolist(), *ends.tolist()])
        ticks = nice_ticks(last * 1.04, steps=(1, 2, 4, 8, 13, 26, 52))
        xmax = ticks[-1]
        band = ax.axvspan(*published_weeks, color=COLOURS["published"], alpha=PUBLISHED_ALPHA, linewidth=0, zorder=0,
                          label=f"Published: {published_weeks[0]:g}-{published_weeks[1]:g} weeks")
        band.set_gid("radiographic-published")
        from matplotlib.patches import Rectangle

        xs, ys, before = [0.0], [0.0], 0.0
        positive = npmle[npmle["mass"] > 0]
        counts = result.counts.set_index("what")["n"]
        n = float(counts.get("episodes with a decisive film", 0))
        for box_id, (first, last) in enumerate(merged_masses(positive["mass"].to_numpy(float), n, min_cell)):
            left = positive["left_days"].iloc[first] / week
            right_days = positive["right_days"].iloc[last]
            after = before + positive["mass"].iloc[first:last + 1].sum()
            right = right_days / week if np.isfinite(right_days) else xmax  # mass beyond the last film
            box = Rectangle((left, before), right - left, after - before, facecolor=COLOURS["npmle"], alpha=0.15,
                            linewidth=0, zorder=2)
            box.set_gid(f"radiographic-npmle-box-{box_id}")
            ax.add_patch(box)
            xs.append(left)
            ys.append(before)
            if np.isfinite(right_days):  # otherwise F is unknown beyond ``left``: the line stops
                xs.append(right)
                ys.append(after)
            before = after
        if npmle.empty or np.isfinite(npmle.loc[npmle["mass"] > 0, "right_days"]).all():
            xs.append(xmax)
            ys.append(before)
        (line,) = ax.plot(xs, ys, color=COLOURS["npmle"], zorder=4, label="NPMLE (Turnbull)")
        line.set_gid("radiographic-npmle")
        weib = result.weibull.set_index("parameter")["estimate"] if len(result.weibull) else None
        if weib is not None and {"intercept", "log_scale"} <= set(weib.index):
            t = np.linspace(0.0, xmax * week, 400)
            shape = 1.0 / np.exp(weib["log_scale"])
            with np.errstate(over="ignore"):  # a degenerate fit's steep shape: F jumps to 1, as drawn
                cdf = 1.0 - np.exp(-((t / np.exp(weib["intercept"])) ** shape))
            (fit,) = ax.plot(t / week, cdf, color=COLOURS["weibull"], linestyle="--", zorder=3, label="Weibull fit")
            fit.set_gid("radiographic-weibull")
        at = level_free(result.at).dropna(subset=["estimate"])
        at = at[[(f"{w:g}", 0) not in hidden for w in at["weeks"]]]
        if len(at):
            est = at["estimate"].to_numpy(float)
            has_ci = bool(at["lower"].notna().all() and at["upper"].notna().all())
            err = np.vstack([est - at["lower"].to_numpy(float), at["upper"].to_numpy(float) - est]).clip(min=0)
            label = f"Bootstrap {round(100 * result.conf):g}% CI" if has_ci else "NPMLE at reading times"
            bars = ax.errorbar(at["weeks"].to_numpy(float), est, yerr=err if has_ci else None, linestyle="none",
                               marker="o", markersize=2.5, color=COLOURS["bootstrap"], capsize=2, elinewidth=0.8,
                               zorder=5, label=label)
            bars.lines[0].set_gid("radiographic-bootstrap")
        ax.set_xlim(0, xmax)
        ax.set_xticks(ticks)
        ax.set_ylim(0, 1.02)
        percent_axis(ax.yaxis)
        ax.set_xlabel("Weeks since onset")
        ax.set_ylabel("Changed on plain films (%)")
        from matplotlib.patches import Patch

        handles, labels = ax.get_legend_handles_labels()
        if len(npmle):
            handles.insert(2, Patch(facecolor=COLOURS["npmle"], alpha=0.15, linewidth=0))
            labels.insert(2, "NPMLE may rise")
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, columnspacing=1.2)
    return ax


def age_by_sex(result: DemographicsResult, ax: Axes | None = None, *,
               men_age_range: tuple[float, float] = (40.0, 56.0), min_cell: int = 5,
               hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Age at onset by sex: a histogram with a bar for men and a stacked bar for women
    (pregnancy-associated below, other above) in each age bin; the published age range of men
    is shaded.

    Parameters
    ----------
    result
        :class:`toh.analyses.demographics.DemographicsResult`; its ``age_distribution`` is drawn.
    ax
        Axes to draw in; default a new single-column figure.
    men_age_range
        The published range of men's age, [low, high) in years (``Definitions.men_age_range``:
        40 to <56, i.e. completed years 40-55).
    min_cell
        Bars of 1 to ``min_cell - 1`` patients are not drawn but marked with a star above the
        bar, in the group's colour; so is one more bar of a group that has exactly one such bar
        (complementary suppression, as in the tables, since group totals are published).
        0 draws every bar.
    hidden
        ``(group, NOT_DRAWN)`` for a group left out altogether (fewer than ``min_cell``
        patients, or a size the report hides: its bars and stars would place its few members).

    Returns
    -------
    matplotlib.axes.Axes
    """
    groups = tuple(g for g in ("men", "women, pregnancy-associated", "women, other") if (g, NOT_DRAWN) not in hidden)
    dist = result.age_distribution
    dist = dist[dist["stratum"].isin(groups) & (dist["n"] > 0)]  # the axis spans the ages drawn, no more
    edges = sorted(set(dist["from_years"]).union(dist["to_years"]))
    lowers = np.array(sorted(set(dist["from_years"])), float)
    width = float(result.options.age_bin_years)
    with figure_style():
        ax = new_axes(ax, 2.4)
        band = ax.axvspan(*men_age_range, color=COLOURS["published"], alpha=PUBLISHED_ALPHA, linewidth=0, zorder=0,
                          label=f"Published (men): {men_age_range[0]:g}-{men_age_range[1] - 1:g}")
        band.set_gid("age-published-men")
        offset = {"men": 0.27 * width, "women": 0.73 * width}  # bar centres within a bin
        tops = {"men": np.zeros(len(lowers)), "women": np.zeros(len(lowers))}
        marks: dict[tuple[str, int], list[str]] = {}  # suppressed groups of each bar
        for group in groups:
            counts = (dist[dist["stratum"] == group].set_index("from_years")["n"].reindex(lowers, fill_value=0)
                      .to_numpy(int))
            mask = suppressed(counts, min_cell, complementary=True)
            sex = "men" if group == "men" else "women"
            shown = np.where(mask, 0, counts)
            bars = ax.bar(lowers + offset[sex], shown, width=0.44 * width, bottom=tops[sex], color=colour_for(group),
                          linewidth=0.3, edgecolor="white", zorder=2, label=_GROUP_LABELS.get(group, group))
            for b, patch in enumerate(bars.patches):
                patch.set_gid(f"age-bar-{slug(group)}-{b}")
            tops[sex] = tops[sex] + shown
            for i in np.flatnonzero(mask):
                marks.setdefault((sex, int(i)), []).append(group)
        ytop = max(np.max(tops["men"], initial=0), np.max(tops["women"], initial=0), 1)  # no bar at all: an empty axis
        step = 0.045 * ytop
        for (sex, i), names in sorted(marks.items()):
            for k, group in enumerate(names):
                y = tops[sex][i] + (k + 0.8) * step
                ytop = max(ytop, y + step)
                ax.plot([lowers[i] + offset[sex]], [y], linestyle="none", marker="*", markersize=3.5,
                        color=colour_for(group), zorder=3)[0].set_gid(f"age-suppressed-{slug(group)}-{i}")
        handles, labels = ax.get_legend_handles_labels()
        if marks:
            from matplotlib.lines import Line2D

            handles.append(Line2D([], [], linestyle="none", marker="*", markersize=3.5, color="black"))
            labels.append("Suppressed count")
        ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2, columnspacing=1.0,
                  handlelength=1.2)
        ax.set_xlim(min(edges, default=0), max(edges, default=1))
        ax.set_xticks([e for e in edges if e % (2 * width) == 0] or edges)
        ax.set_xlabel("Age at onset (years)")
        ax.set_ylabel("Patients")
        ax.set_ylim(0, 1.04 * ytop)
    return ax


