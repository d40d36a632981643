"""The curves a report draws under the small-cell rule: no step of fewer than min_cell events,
no level after which fewer than min_cell remain at risk (toh.reports.figures._common.drawn_steps), checked
on random curves and on the drawn Kaplan-Meier and cumulative incidence figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toh.reports.figures._common import drawn_steps


@st.composite
def curves(draw) -> pd.DataFrame:
    """A curve table as a Kaplan-Meier or cumulative incidence fit writes it: distinct increasing
    days, the risk set just before each, events and censorings that leave it."""
    n = draw(st.integers(0, 60))
    rows, at_risk, day = [], n, 0.0
    while at_risk > 0:
        day += draw(st.integers(1, 30))
        events = draw(st.integers(0, at_risk))
        censored = draw(st.integers(0, at_risk - events))
        if events + censored == 0:
            continue
        rows.append((day, at_risk, events, censored))
        at_risk -= events + censored
    frame = pd.DataFrame(rows, columns=["days", "n_risk", "n_event", "n_censor"])
    return frame.assign(estimate=np.linspace(1.0, 0.0, len(frame)) if len(frame) else [])


@settings(max_examples=300, deadline=None)
@given(curves(), st.integers(0, 8))
def test_no_drawn_step_counts_fewer_than_min_cell_events(curve: pd.DataFrame, min_cell: int) -> None:
    drawn, end = drawn_steps(curve, min_cell)
    if min_cell <= 1 or curve.empty:  # every step, to the last time
        assert drawn.equals(curve) and end == (curve["days"].max() if len(curve) else 0.0)
        return
    assert set(drawn.index) <= set(curve.index) and drawn["days"].is_monotonic_increasing
    assert drawn.equals(curve.loc[drawn.index])  # each drawn value is the curve's own at its time
    after = pd.Series(np.append(curve["n_risk"].to_numpy()[1:], 0), index=curve.index)  # at risk after each time
    kept = curve[curve["days"] <= end]
    assert (after[kept.index] >= min_cell).all()  # no level drawn after which fewer remain at risk
    later = curve[curve["days"] > end]
    assert later.empty or after[later.index[0]] < min_cell  # and the curve goes as far as it may
    if len(kept) == 0:
        assert drawn.empty and end == 0.0
        return
    assert end == kept["days"].iloc[-1]
    bounds = [-np.inf, *drawn["days"]]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):  # each drawn step holds at least min_cell events ...
        step = kept[(kept["days"] > lo) & (kept["days"] <= hi)]
        assert step["n_event"].sum() >= min_cell and step["n_event"].iloc[-1] > 0
        if i < len(drawn) - 1:
            assert step["n_event"].iloc[:-1].sum() < min_cell  # ... drawn as soon as it does
    tail = kept[kept["days"] > bounds[-1]]
    if len(drawn):  # the last step holds the few after it: the curve ends at its own level
        assert tail["n_event"].sum() == 0
    else:
        assert kept["n_event"].sum() < min_cell


def test_the_drawn_curves_of_the_demo_keep_the_rule(demo_analysis_50) -> None:
    """The Kaplan-Meier and cumulative incidence figures at the default min_cell 5: between two
    drawn steps (vertical moves of the line) at least 5 events, and the line ends before a step
    after which fewer than 5 remain at risk."""
    import matplotlib.pyplot as plt

    from toh.reports.figures import cif_curves, km_resolution

    analysis = demo_analysis_50

    month, year = 365.25 / 12, 365.25
    fig = plt.figure()
    try:
        ax = km_resolution(analysis.resolution, "sex", fig.add_subplot(2, 1, 1))
        bx = cif_curves(analysis.recurrence, analysis.migration, fig.add_subplot(2, 1, 2))
        pairs = [(ax, f"km-sex-curve-{s}", analysis.resolution.curves.query("variable == 'sex' and stratum == @s"),
                  month) for s in ("men", "women")]
        pairs += [(bx, f"cif-curve-{o}", r.curves[r.curves["cause"] == o], year)
                  for r, o in ((analysis.recurrence, "recurrence"), (analysis.migration, "migration"))]
        for axes, gid, curve, unit in pairs:
            line = next(a for a in axes.get_lines() if a.get_gid() == gid)
            x, y = line.get_data()
            steps = x[1:][np.diff(y) != 0]  # where the drawn line moves up or down
            days = curve["days"].to_numpy(float)
            assert len(steps) >= 2, gid
            for lo, hi in zip([-1.0, *steps], steps):
                between = curve[(days > lo * unit + 1e-6) & (days <= hi * unit + 1e-6)]
                assert between["n_event"].sum() >= 5, (gid, lo, hi)
            after = np.append(curve["n_risk"].to_numpy()[1:], 0)
            assert after[days <= x.max() * unit + 1e-6].min() >= 5, gid
            assert x.max() * unit < days.max()  # the tail where fewer than 5 remain is not drawn
            assert y[-1] == curve.loc[days <= x.max() * unit + 1e-6, "estimate"].iloc[-1]  # at its own last level
    finally:
        plt.close(fig)


def test_a_curve_ends_at_the_tick_before_a_number_at_risk_the_report_hides(demo_analysis_50) -> None:
    """A number at risk the audit hides although it is not small ("–") would come back from the
    curve's level just before its tick: the stratum's curve ends at the tick before it, the
    other strata are drawn as without it."""
    import matplotlib.pyplot as plt

    from toh.reports.figures import km_resolution

    month = 365.25 / 12
    fig = plt.figure()
    try:
        plain = km_resolution(demo_analysis_50.resolution, "sex", fig.add_subplot(2, 1, 1))
        ticks = plain.get_xticks()
        hidden = km_resolution(demo_analysis_50.resolution, "sex", fig.add_subplot(2, 1, 2), hidden={("men", 2)})

        def line(ax, stratum: str):
            return next(a for a in ax.get_lines() if a.get_gid() == f"km-sex-curve-{stratum}").get_data()

        x_plain, _ = line(plain, "men")
        x_hidden, y_hidden = line(hidden, "men")
        assert x_plain.max() > ticks[2] and x_hidden.max() <= ticks[1] + 1e-9  # ends at the tick before
        curve = demo_analysis_50.resolution.curves.query("variable == 'sex' and stratum == 'men'")
        assert y_hidden[-1] == curve.loc[curve["days"] <= ticks[1] * month, "estimate"].iloc[-1]
        assert np.array_equal(line(plain, "women")[0], line(hidden, "women")[0])
        marks = next(a for a in hidden.get_lines() if a.get_gid() == "km-sex-censor-men").get_data()[0]
        assert (marks <= ticks[1] + 1e-9).all()
    finally:
        plt.close(fig)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.001, 1.0), min_size=0, max_size=30), st.integers(1, 400), st.integers(0, 8))
def test_each_drawn_rise_holds_the_mass_of_min_cell_episodes(weights: list[float], n: int, min_cell: int) -> None:
    from toh.reports.figures._common import merged_masses

    mass = np.asarray(weights) / sum(weights) if weights else np.asarray([])
    groups = merged_masses(mass, n, min_cell)
    assert [i for first, last in groups for i in range(first, last + 1)] == list(range(len(mass)))  # in order, once
    if min_cell <= 1:
        assert groups == [(i, i) for i in range(len(mass))]
    elif len(mass) and n < min_cell:
        assert groups == [(0, len(mass) - 1)]  # fewer episodes than the rule: one rise
    else:
        for first, last in groups:
            assert mass[first:last + 1].sum() * n >= min_cell - 1e-9


def test_the_radiographic_figure_merges_small_masses_and_leaves_hidden_estimates_unmarked(demo_analysis_50) -> None:
    import matplotlib.pyplot as plt

    from toh.reports.figures import radiographic_change

    result = demo_analysis_50.radiographic
    n = float(result.counts.set_index("what")["n"]["episodes with a decisive film"])
    positive = result.npmle[result.npmle["mass"] > 0]
    assert (positive["mass"] * n < 5).any()  # the demo has intervals of fewer than 5 episodes' mass
    fig = plt.figure()
    try:
        ax = radiographic_change(result, fig.add_subplot(2, 1, 1), hidden={("8", 0)})
        boxes = [p for p in ax.patches if (p.get_gid() or "").startswith("radiographic-npmle-box-")]
        assert 0 < len(boxes) < len(positive)
        assert all(b.get_height() * n >= 5 - 1e-6 for b in boxes)
        assert sum(b.get_height() for b in boxes) == pytest.approx(positive["mass"].sum())
        bx, _ = next(a for a in ax.get_lines() if a.get_gid() == "radiographic-bootstrap").get_data()
        assert list(bx) == [4, 12]  # the hidden 8-week estimate is not marked
    finally:
        plt.close(fig)
