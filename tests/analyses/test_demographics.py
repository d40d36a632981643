"""Demographics: sex ratio against R (ref_exact.csv: prop.test(correct = FALSE) Wilson interval,
binom.test p-value), everything else by hand on a tiny cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses.demographics import DemographicsOptions, analyse_demographics
from builders import cohort_from_index

HERE = Path(__file__).parent


def test_sex_ratio_matches_r() -> None:
    index = pd.read_csv(HERE / "data" / "ref_index.csv")
    ref = pd.read_csv(HERE / "reference" / "ref_exact.csv").set_index("quantity")
    result = analyse_demographics(cohort_from_index(index))
    share = result.proportions.set_index("quantity").loc["share_men"]
    wilson = ref.loc["men_share_wilson"]
    assert (share["x"], share["n"]) == (wilson["x"], wilson["n"])
    assert (share["lower_95"], share["upper_95"]) == pytest.approx((wilson["lower"], wilson["upper"]), abs=1e-10)
    ratio = result.sex_ratio.iloc[0]
    assert ratio["p"] == pytest.approx(ref.loc["men_share", "p"], abs=1e-10)  # binom.test(x, n, 0.75)
    # ratio interval = Wilson bounds carried to p / (1 - p)
    assert ratio["lower_95"] == pytest.approx(wilson["lower"] / (1 - wilson["lower"]), rel=1e-12)
    assert ratio["estimate"] == pytest.approx(1152 / 348, rel=1e-12)


def _tiny() -> pd.DataFrame:
    # 4 men (ages 39.9, 40, 55.99, 56), 4 women: 2 pregnant (trimester 3 and 2), 1 postpartum, 1 unknown
    return pd.DataFrame({
        "sex": ["M", "M", "M", "M", "F", "F", "F", "F"],
        "age_at_onset": [39.9, 40.0, 55.99, 56.0, 30.0, 31.0, 29.0, 50.0],
        "pregnancy": [None, None, None, None, "pregnant", "pregnant", "postpartum", None],
        "trimester": pd.array([None, None, None, None, 3, 2, None, None], dtype="Int64"),
        "pregnancy_associated": pd.array([False, False, False, False, True, True, True, None], dtype="boolean"),
        "side": ["L", "R", "R", "R", "L", "L", "R", "L"],
        "bilateral": [True, False, False, False, False, False, False, False],
    })


def test_tiny_cohort_by_hand() -> None:
    result = analyse_demographics(cohort_from_index(_tiny()))
    p = result.proportions.set_index("quantity")
    assert (p.loc["men_aged_40_55", "x"], p.loc["men_aged_40_55", "n"]) == (2, 4)  # 40 and 55.99
    assert (p.loc["women_pregnancy_associated", "x"], p.loc["women_pregnancy_associated", "n"]) == (3, 3)
    assert (p.loc["pregnant_in_trimester_3", "x"], p.loc["pregnant_in_trimester_3", "n"]) == (1, 2)
    assert (p.loc["left_hip", "x"], p.loc["left_hip", "n"]) == (4, 8)
    assert (p.loc["left_hip_pregnancy_associated", "x"], p.loc["left_hip_pregnancy_associated", "n"]) == (2, 3)
    assert (p.loc["bilateral", "x"], p.loc["bilateral", "n"]) == (1, 8)
    age = result.age.set_index("stratum")
    assert age.loc["men", "median_years"] == pytest.approx((40.0 + 55.99) / 2)
    assert age.loc["men", "sd_years"] == pytest.approx(np.std([39.9, 40.0, 55.99, 56.0], ddof=1))
    assert set(result.laterality["stratum"]) == {"men", "women"}
    ratio = result.sex_ratio.iloc[0]
    assert (ratio["men"], ratio["women"], ratio["estimate"]) == (4, 4, 1.0)
    dist = result.age_distribution
    # men 39.9 -> [35, 40); 40 and 40.0 -> [40, 45); 55.99 -> [55, 60); 56 -> [55, 60)
    men = dist[dist["stratum"] == "men"].set_index("from_years")["n"].to_dict()
    assert men == {35.0: 1, 40.0: 1, 55.0: 2}
    assert dist["n"].sum() == 8
    preg = result.pregnancy.set_index("pregnancy")
    assert preg.loc["pregnant", "n"] == 2 and preg.loc["unknown", "n"] == 1
    assert preg.loc["pregnant", "share_of_known"] == pytest.approx(2 / 3)


def test_null_ratio_is_an_option() -> None:
    result = analyse_demographics(cohort_from_index(_tiny()), DemographicsOptions(null_ratio=1.0))
    assert result.sex_ratio.iloc[0]["p"] == pytest.approx(1.0)  # 4 of 8 against p = 1/2
    with pytest.raises(ValueError):
        DemographicsOptions(null_ratio=0)
