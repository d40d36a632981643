"""Curves over time: Kaplan-Meier time to resolution and cumulative incidence of recurrence and
migration, each with its confidence band and a number-at-risk table under the axis."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from toh.analyses.levels import small_count
from toh.analyses.result import level_free
from toh.reports.figures._common import (DAYS_PER_YEAR, NOT_DRAWN, at_risk, at_risk_rows, days_per, drawn_steps,
                                     draw_step_band, new_axes, nice_ticks, percent_axis, slug, step_xy)
from toh.reports.figures._style import COLOURS, LINESTYLES, colour_for, figure_style
from toh.reports.safe_text import first_upper, neutralise

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

    from toh.analyses.migration import MigrationResult
    from toh.analyses.recurrence import RecurrenceResult
    from toh.analyses.resolution import ResolutionResult

__all__ = ["km_resolution", "km_at_risk", "cif_curves", "STRATUM_VARS", "stratum_label"]

#: Stratum variables of :func:`km_resolution`.
STRATUM_VARS: tuple[str, ...] = ("all", "sex", "pregnancy", "treatment")

_LABELS = {"all": "All patients", "men": "Men", "women": "Women", "pregnancy-associated": "Pregnancy-associated",
           "not pregnancy-associated": "Other", "recurrence": "Same-hip recurrence", "migration": "Migration"}
#: Shorter names for the rows of the at-risk table, where width is scarce.
_SHORT = {"all": "All", "pregnancy-associated": "Pregnancy-assoc.", "recurrence": "Recurrence"}
_TITLES = {"all": None, "sex": "Sex", "pregnancy": "Women", "treatment": "Treatment"}
_ORDER = {"men": 0, "women": 1, "pregnancy-associated": 0, "not pregnancy-associated": 1}


def stratum_label(stratum: str, short: bool = False) -> str:
    """The printed name of a stratum (``"men"`` -> ``"Men"``; others capitalised, control
    characters made visible); at most 16 characters in a legend, 14 with ``short`` (the at-risk
    table): a free-text level typed into the export cannot push the legend off the canvas."""
    if short and stratum in _SHORT:
        return _SHORT[stratum]
    if stratum in _LABELS:  # our own words are written to fit; only a level from the export is cut
        return _LABELS[stratum]
    label = neutralise(first_upper(str(stratum)))
    longest = 14 if short else 16
    return label if len(label) <= longest else label[:longest - 1] + "\u2026"


def _censor_handle():
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", marker="|", color="black", markersize=3.5, markeredgewidth=0.6)



def km_resolution(result: ResolutionResult, variable: str = "all", ax: Axes | None = None, *,
                  min_cell: int = 5, ci: bool = True, hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Kaplan-Meier curves of the probability still unresolved against months since onset.

    Step curves start at (0, 1) and carry their confidence band (log(-log), as estimated; left
    empty where a bound does not exist, e.g. where S = 0), a tick at each censoring time, and a
    number-at-risk table under the axis with one column per x tick: the number at risk at t is
    the ``n_risk`` of the first curve time >= t (R's ``summary(fit, times =)``), 0 after the
    last.  A month is a twelfth of the analysis' year (365.25 days by default).

    Parameters
    ----------
    result
        :class:`toh.analyses.resolution.ResolutionResult`; its ``curves`` table is drawn.
    variable
        ``"all"``, ``"sex"``, ``"pregnancy"`` (women with a known status) or ``"treatment"``.
    ax
        Axes to draw in; default a new single-column pyplot figure.
    min_cell
        Numbers at risk from 1 to ``min_cell - 1`` print as ``"<min_cell"``
        (0: print every count).
    ci
        Draw the confidence bands.
    hidden
        ``(stratum, column)`` of numbers at risk the report's disclosure audit hides although
        they are not small (printed as an en dash; the stratum's curve ends at the tick before
        the first, as its level near that tick would give the number back); ``(stratum,
        NOT_DRAWN)`` for a group too small (or whose size the report hides) to have a curve at all.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the curves.  The at-risk table is a set of annotations below it; gids
        ``km-{variable}-curve-{stratum}``, ``-ci-``, ``-censor-`` and
        ``-at-risk-{stratum}-{column}``.

    Raises
    ------
    ValueError
        Unknown ``variable``, or the result holds no curves for it.
    """
    curves, month, strata, ticks = _km_layout(result, variable)
    strata = [s for s in strata if (s, NOT_DRAWN) not in hidden]
    prefix = f"km-{slug(variable)}"
    with figure_style():
        ax = new_axes(ax, 2.55 + 0.125 * (len(strata) + (len(strata) > 1)))
        rows = []
        for position, stratum in enumerate(strata):
            curve = curves[curves["stratum"] == stratum].sort_values("days")
            colour = COLOURS["all"] if variable == "all" else colour_for(stratum, position)
            counts = at_risk(curve, ticks * month)
            hidden_ticks = [c for c, n in enumerate(counts) if (stratum, c) in hidden and not small_count(n, min_cell)]
            until = (ticks[hidden_ticks[0] - 1] * month if hidden_ticks[0] else 0.0) if hidden_ticks else math.inf
            times, values, lower, upper = _drawn(curve, min_cell, 1.0, month, until)
            x, y = step_xy(times, values)
            (line,) = ax.plot(x, y, color=colour, linestyle=LINESTYLES[position % len(LINESTYLES)],
                              label=stratum_label(stratum),
                              zorder=3)
            line.set_gid(f"{prefix}-curve-{slug(stratum)}")
            if ci:
                draw_step_band(ax, times, lower, upper, colour, f"{prefix}-ci-{slug(stratum)}")
            censored = curve.loc[(curve["n_censor"] > 0) & (curve["days"] / month <= times[-1]), "days"] / month
            at = values[np.searchsorted(times, censored.to_numpy(float), side="right") - 1]
            (marks,) = ax.plot(censored.to_numpy(float), at,
                               linestyle="none", marker="|", markersize=3.5, markeredgewidth=0.6, color=colour,
                               zorder=4)
            marks.set_gid(f"{prefix}-censor-{slug(stratum)}")
            rows.append((stratum, stratum_label(stratum, short=True), counts))
        ax.set_xlim(0, ticks[-1])
        ax.set_xticks(ticks)
        ax.set_ylim(0, 1.02)
        percent_axis(ax.yaxis)
        ax.set_xlabel("Months since onset")
        ax.set_ylabel("Still unresolved (%)")
        handles, labels = ax.get_legend_handles_labels()
        ax.legend([*handles, _censor_handle()], [*labels, "Censored"], title=_TITLES.get(variable, stratum_label(variable)), loc="lower left",
                  bbox_to_anchor=(0.0, 1.0), ncols=2, alignment="left", columnspacing=1.2)
        at_risk_rows(ax, ticks, rows, min_cell, prefix, hidden)
    return ax


def _drawn(curve: pd.DataFrame, min_cell: int, start: float, unit: float, until: float = math.inf
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Times (in ``unit`` days), values, lower and upper limits of the step curve drawn from
    ``curve`` under the small-cell rule (:func:`drawn_steps`, ``until`` a day): from ``start`` at
    0, flat after the last drawn step to the day the curve ends."""
    drawn, end = drawn_steps(curve, min_cell, until=until)
    times = np.concatenate([[0.0], drawn["days"].to_numpy(float) / unit])
    values = np.concatenate([[start], drawn["estimate"].to_numpy(float)])
    lower = np.concatenate([[np.nan], drawn["lower"].to_numpy(float)])
    upper = np.concatenate([[np.nan], drawn["upper"].to_numpy(float)])
    if end / unit > times[-1]:
        times, values = np.append(times, end / unit), np.append(values, values[-1])
        lower, upper = np.append(lower, lower[-1]), np.append(upper, upper[-1])
    return times, values, lower, upper


def _km_layout(result: ResolutionResult, variable: str) -> tuple[pd.DataFrame, float, list[str], np.ndarray]:
    """The curves of ``variable``, the days of a month, the strata in drawing order and the
    x ticks (months) of :func:`km_resolution`."""
    known = list(dict.fromkeys([*STRATUM_VARS, *result.curves["variable"]]))
    if variable not in known:  # the built-in strata, and a declared column the result is stratified by
        raise ValueError(f"variable must be one of {', '.join(known)}, not {variable!r}")
    curves = level_free(result.curves[result.curves["variable"] == variable])
    if curves.empty:
        strata = ", ".join(result.options.strata)
        raise ValueError(f"the result has no curves by {variable!r} (its strata: {strata})")
    month = days_per(result.landmarks, "months", DAYS_PER_YEAR / 12)
    strata = sorted(curves["stratum"].unique(), key=lambda s: (_ORDER.get(s, 2), str(s)))
    ticks = nice_ticks(curves["days"].max() / month, steps=(1, 2, 3, 6, 12, 24, 60))
    return curves, month, strata, ticks


def km_at_risk(result: ResolutionResult, variable: str = "all") -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """The number-at-risk table :func:`km_resolution` prints: the x ticks (months) and, per
    stratum in drawing order, the numbers at risk at each tick."""
    curves, month, strata, ticks = _km_layout(result, variable)
    return ticks, [(s, at_risk(curves[curves["stratum"] == s].sort_values("days"), ticks * month)) for s in strata]


def cif_curves(recurrence: RecurrenceResult, migration: MigrationResult, ax: Axes | None = None, *,
               ci: bool = True, min_cell: int = 5, max_years: float | None = None,
               hidden: Collection[tuple[str, int]] = ()) -> Axes:
    """Cumulative incidence of same-hip recurrence and of migration against years since onset.

    Aalen-Johansen step curves from (0, 0) with death as the competing risk (only the outcome
    is drawn, not death), their confidence bands (left empty where no bound exists), and the
    numbers at risk of each outcome under the axis (same rule as :func:`km_resolution`).

    Parameters
    ----------
    recurrence, migration
        Results whose ``curves`` tables are drawn (rows whose ``cause`` is not ``"death"``).
    ax
        Axes to draw in; default a new single-column pyplot figure.
    ci
        Draw the confidence bands.
    min_cell
        Numbers at risk from 1 to ``min_cell - 1`` print as ``"<min_cell"``.
    max_years
        Right end of the time axis; default the longest follow-up.
    hidden
        ``(outcome, NOT_DRAWN)`` for an outcome left out, curve and numbers at risk (the report's
        rule: one whose events are few or hidden).

    Returns
    -------
    matplotlib.axes.Axes
        gids ``cif-curve-{outcome}``, ``cif-ci-{outcome}``, ``cif-at-risk-{outcome}-{column}``.
    """
    year = days_per(recurrence.incidence, "months", DAYS_PER_YEAR / 12) * 12
    outcomes: list[tuple[str, pd.DataFrame]] = []
    for result in (recurrence, migration):
        for outcome, curve in level_free(result.curves[result.curves["cause"] != "death"]).groupby("cause", sort=True):
            if (str(outcome), NOT_DRAWN) not in hidden:
                outcomes.append((str(outcome), curve.sort_values("days")))
    with figure_style():
        ax = new_axes(ax, 2.6 + 0.125 * (len(outcomes) + 1))
        longest = max((c["days"].max() / year for _, c in outcomes if len(c)), default=1.0)
        ticks = nice_ticks(max_years or longest, steps=(0.5, 1, 2, 5, 10, 20))
        top, rows = 0.0, []
        for position, (outcome, curve) in enumerate(outcomes):
            colour = colour_for(outcome, position)
            times, values, lower, upper_band = _drawn(curve, min_cell, 0.0, year)
            x, y = step_xy(times, values)
            label = {"migration": "Migration (opposite hip or other joint)"}.get(outcome, stratum_label(outcome))
            (line,) = ax.plot(x, y, color=colour, linestyle=LINESTYLES[position % len(LINESTYLES)], zorder=3,
                              label=label)
            line.set_gid(f"cif-curve-{slug(outcome)}")
            shown = times <= ticks[-1]
            top = max(top, np.nanmax(y[: 2 * shown.sum()], initial=0.0))
            if ci:
                draw_step_band(ax, times, lower, upper_band, colour, f"cif-ci-{slug(outcome)}")
                top = max(top, np.nanmax(upper_band[shown], initial=0.0))
            rows.append((outcome, stratum_label(outcome, short=True), at_risk(curve, ticks * year)))
        from matplotlib.ticker import MaxNLocator

        ax.set_xlim(0, ticks[-1])
        ax.set_xticks(ticks)
        ax.set_ylim(0, min(1.0, max(0.05, 1.05 * top)))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        percent_axis(ax.yaxis)
        ax.set_xlabel("Years since onset")
        ax.set_ylabel("Cumulative incidence (%)")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), title="Death as a competing risk", alignment="left")
        at_risk_rows(ax, ticks, rows, min_cell, "cif")
    return ax
