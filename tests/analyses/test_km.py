"""Kaplan-Meier, quantiles, numbers at risk and RMST against R (tests/analyses/reference).

References: ref_km.csv / ref_km_summary.csv (survfit(..., conf.type = "log-log"), quantile,
summary(fit, times =), summary(fit, rmean =)) and the hand-checkable edge sets, all made by
tests/analyses/reference/make_reference.R with R 4.2.2 / survival 3.5-3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses._km import kaplan_meier, r_quantile

HERE = Path(__file__).parent
REF = HERE / "reference"
DATA = pd.read_csv(HERE / "data" / "ref_index.csv")


def _groups() -> dict[tuple[str, str], pd.DataFrame]:
    women = DATA[(DATA["sex"] == "F") & DATA["pregnancy_associated"].notna()]
    out = {("all", "all"): DATA}
    out.update({("sex", s): DATA[DATA["sex"] == s] for s in ("M", "F")})
    out.update({("pregnancy", str(v)): women[women["pregnancy_associated"] == v] for v in (True, False)})
    out.update({("treatment", t): DATA[DATA["treatment"] == t] for t in DATA["treatment"].unique()})
    return out


GROUPS = _groups()


def _fit(frame: pd.DataFrame):
    return kaplan_meier(frame["resolution_days"].to_numpy(), frame["resolved"].to_numpy())


@pytest.mark.parametrize("key", list(GROUPS), ids=lambda k: f"{k[0]}={k[1]}")
def test_curve_matches_survfit(key) -> None:
    ref = pd.read_csv(REF / "ref_km.csv")
    ref = ref[(ref["group_var"] == key[0]) & (ref["group"].astype(str) == key[1])]
    table = _fit(GROUPS[key]).table()
    assert len(table) == len(ref)
    np.testing.assert_array_equal(table["time"], ref["time"])
    for column in ("n_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(table[column], ref[column])
    for column in ("surv", "lower", "upper"):
        np.testing.assert_allclose(table[column], ref[column], rtol=0, atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("key", list(GROUPS), ids=lambda k: f"{k[0]}={k[1]}")
def test_summary_quantities_match_r(key) -> None:
    ref = pd.read_csv(REF / "ref_km_summary.csv")
    ref = ref[(ref["group_var"] == key[0]) & (ref["group"].astype(str) == key[1])]
    expected = dict(zip(ref["quantity"], ref["value"]))
    curve = _fit(GROUPS[key])
    got = dict(zip(("median", "median_lower", "median_upper"), r_quantile(curve, 0.5)))
    for t in ("182.625", "243.5", "365.25"):
        s, lo, hi = curve.at(float(t))
        got.update({f"surv_{t}": s[0], f"lower_{t}": lo[0], f"upper_{t}": hi[0],
                    f"n_risk_{t}": curve.at_risk(float(t))[0]})
    for tau in ("365.25", "730.5"):
        got[f"rmean_{tau}"], got[f"rmean_se_{tau}"] = curve.rmst(float(tau))
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-8, nan_ok=True), name


@pytest.mark.parametrize("name", ["edge_half", "edge_ties", "edge_censored_last"])
def test_edge_cases_match_r(name: str) -> None:
    data = pd.read_csv(HERE / "data" / f"{name}.csv")
    curve = kaplan_meier(data["time"].to_numpy(), data["status"].to_numpy() == 1)
    ref = pd.read_csv(REF / "ref_edge_km.csv")
    ref = ref[ref["dataset"] == name]
    table = curve.table()
    np.testing.assert_array_equal(table["time"], ref["time"])
    for column in ("surv", "lower", "upper"):
        np.testing.assert_allclose(table[column], ref[column], atol=1e-10, equal_nan=True)
    summary = pd.read_csv(REF / "ref_edge_km_summary.csv")
    summary = summary[summary["dataset"] == name].set_index("quantity")["value"]
    got = r_quantile(curve, 0.5)
    expected = (summary["median"], summary["median_lower"], summary["median_upper"])
    np.testing.assert_allclose(got, expected, atol=1e-12, equal_nan=True)


def test_median_on_a_flat_is_the_midpoint_by_hand() -> None:
    # Times 1,2,3,4, all events: S = .75, .5, .25, 0.  S sits at exactly 0.5 from t=2 to t=3,
    # so R's median is (2 + 3) / 2 = 2.5; S = 0 at t=4 has no interval.
    curve = kaplan_meier(np.array([1.0, 2, 3, 4]), np.ones(4, bool))
    assert r_quantile(curve, 0.5)[0] == 2.5
    assert np.isnan(curve.lower[-1]) and np.isnan(curve.upper[-1])
    assert list(curve.at_risk([0, 2, 2.5, 5])) == [4, 3, 2, 0]
