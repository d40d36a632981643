"""Cumulative incidence against cmprsk::cuminc (tests/analyses/reference/ref_cuminc.csv,
ref_edge_cuminc.csv; R 4.2.2, cmprsk 2.2-11, made by make_reference.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses._cif import cumulative_incidence

HERE = Path(__file__).parent
DATA = pd.read_csv(HERE / "data" / "ref_index.csv")
REF = pd.read_csv(HERE / "reference" / "ref_cuminc.csv")


@pytest.mark.parametrize("outcome", ["recurrence", "migration"])
@pytest.mark.parametrize("cause", [1, 2])
def test_matches_cuminc(outcome: str, cause: int) -> None:
    curve = cumulative_incidence(DATA[f"{outcome}_days"], DATA[f"{outcome}_status"], cause)
    ref = REF[(REF["outcome"] == outcome) & (REF["cause"] == cause)]
    est, var, _, _ = curve.at(ref["time"].to_numpy())
    np.testing.assert_allclose(est, ref["est"], atol=1e-12)
    np.testing.assert_allclose(var, ref["var"], atol=1e-12, rtol=1e-9)


@pytest.mark.parametrize("cause", [1, 2])
def test_ties_between_causes_match_cuminc(cause: int) -> None:
    data = pd.read_csv(HERE / "data" / "edge_cr.csv")
    ref = pd.read_csv(HERE / "reference" / "ref_edge_cuminc.csv")
    ref = ref[ref["cause"] == cause]
    curve = cumulative_incidence(data["time"], data["status"], cause)
    est, var, lower, upper = curve.at(ref["time"].to_numpy())
    np.testing.assert_allclose(est, ref["est"], atol=1e-12)
    np.testing.assert_allclose(var, ref["var"], atol=1e-12)
    inside = (est > 0) & (est < 1)
    assert np.all(lower[inside] < est[inside]) and np.all(est[inside] < upper[inside])


def test_without_competing_events_it_is_one_minus_km_by_hand() -> None:
    # times 1,2,3 events, 4 censored: F = 1/4, 2/4, 3/4 (KM 3/4, 1/2, 1/4)
    curve = cumulative_incidence(np.array([1.0, 2, 3, 4]), np.array([1, 1, 1, 0]))
    np.testing.assert_allclose(curve.estimate, [0.25, 0.5, 0.75, 0.75])
