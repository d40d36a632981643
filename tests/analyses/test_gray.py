"""Gray's K-sample test against cmprsk::cuminc()$Tests (R 4.2.2, cmprsk 2.2-11):
ref_gray.csv (by sex, two groups; make_reference.R) and ref_gray_k3.csv (by treatment, three
groups, rho 0 and 1; ties between causes in edge_cr.csv; make_gray_reference.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses._gray import gray_test

HERE = Path(__file__).parent
DATA = pd.read_csv(HERE / "data" / "ref_index.csv")


@pytest.mark.parametrize("row", pd.read_csv(HERE / "reference" / "ref_gray.csv").to_dict("records"))
def test_two_groups_match_cuminc(row: dict) -> None:
    test = gray_test(DATA[f"{row['outcome']}_days"], DATA[f"{row['outcome']}_status"], DATA["sex"], row["cause"])
    assert test.df == row["df"] == 1 and test.groups == ("F", "M")
    np.testing.assert_allclose(test.stat, row["stat"], rtol=1e-10)
    np.testing.assert_allclose(test.p, row["p"], rtol=1e-10)


@pytest.mark.parametrize("row", pd.read_csv(HERE / "reference" / "ref_gray_k3.csv").to_dict("records"))
def test_three_groups_weights_and_ties_match_cuminc(row: dict) -> None:
    if row["data"] == "edge_cr":
        data = pd.read_csv(HERE / "data" / "edge_cr.csv")
        time, status = data["time"], data["status"]
        group = np.resize(np.array(["a", "b", "c"]), len(data))
    else:
        time, status, group = DATA[f"{row['data']}_days"], DATA[f"{row['data']}_status"], DATA["treatment"]
    test = gray_test(time, status, group, row["cause"], rho=row["rho"])
    assert test.df == row["df"] == 2
    np.testing.assert_allclose(test.stat, row["stat"], rtol=1e-10)
    np.testing.assert_allclose(test.p, row["p"], rtol=1e-9)


def test_identical_groups_give_zero_and_one_group_is_refused() -> None:
    time = np.array([1.0, 2, 3, 4, 5, 6])
    status = np.array([1, 2, 0, 1, 2, 0])
    twice = gray_test(np.r_[time, time], np.r_[status, status], np.repeat(["x", "y"], 6))
    assert twice.stat == pytest.approx(0.0, abs=1e-12) and twice.p == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two groups"):
        gray_test(time, status, np.repeat("x", 6))
