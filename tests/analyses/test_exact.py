"""Proportions, rates and risk ratios against R (reference/ref_exact.csv: binom.test, prop.test,
poisson.test, and a Wald risk ratio cross-checked with epitools::riskratio; make_reference.R)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toh.analyses._exact import binomial_test, clopper_pearson, poisson_rate, risk_ratio, score_test, wilson

REF = pd.read_csv(Path(__file__).parent / "reference" / "ref_exact.csv").set_index("quantity")


def _row(name: str):
    return REF.loc[name]


def test_men_share_exact_and_wilson() -> None:
    row = _row("men_share")
    est, lo, hi = clopper_pearson(int(row["x"]), int(row["n"]))
    assert (est, lo, hi) == pytest.approx((row["estimate"], row["lower"], row["upper"]), abs=1e-10)
    assert binomial_test(int(row["x"]), int(row["n"]), 0.75) == pytest.approx(row["p"], abs=1e-10)
    row = _row("men_share_wilson")
    est, lo, hi = wilson(int(row["x"]), int(row["n"]))
    assert (lo, hi) == pytest.approx((row["lower"], row["upper"]), abs=1e-10)
    assert score_test(int(row["x"]), int(row["n"]), 0.75) == pytest.approx(row["p"], abs=1e-10)


@pytest.mark.parametrize("name", ["fracture_all", "fracture_pregnancy_True", "fracture_pregnancy_False", "avn_all"])
def test_proportions(name: str) -> None:
    row = _row(name)
    got = clopper_pearson(int(row["x"]), int(row["n"]))
    assert got == pytest.approx((row["estimate"], row["lower"], row["upper"]), abs=1e-10)


@pytest.mark.parametrize("name", ["fracture_rate_all", "fracture_rate_pregnancy_True",
                                  "fracture_rate_pregnancy_False", "avn_rate_all"])
def test_poisson_rates(name: str) -> None:
    row = _row(name)
    got = poisson_rate(int(row["x"]), float(row["n"]), per=100)
    assert got == pytest.approx((row["estimate"], row["lower"], row["upper"]), abs=1e-10)


def test_risk_ratio() -> None:
    row = _row("fracture_risk_ratio")
    x0, n0 = int(_row("fracture_pregnancy_False")["x"]), int(_row("fracture_pregnancy_False")["n"])
    got = risk_ratio(int(row["x"]), int(row["n"]), x0, n0)
    assert got == pytest.approx((row["estimate"], row["lower"], row["upper"]), abs=1e-10)


def test_zero_events_by_hand() -> None:
    # 0 events in 10 person-years: upper = qgamma(0.975, 1) / 10 = -log(0.025) / 10
    import math
    assert poisson_rate(0, 10.0) == pytest.approx((0.0, 0.0, -math.log(0.025) / 10), abs=1e-12)
    # 0 of 20: Clopper-Pearson upper = 1 - 0.025^(1/20)
    assert clopper_pearson(0, 20)[2] == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-12)
