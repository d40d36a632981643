"""Resolution analysis against R on tests/analyses/data/ref_index.csv.

References (tests/analyses/reference, made by make_reference.R with survival 3.5-3):
ref_km_summary.csv (quantile, summary(times=), rmean), ref_logrank.csv (survdiff),
ref_cox.csv (coxph, Efron), ref_coxzph.csv (cox.zph defaults).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toh.analyses.resolution import analyse_resolution
from builders import cohort_from_index

HERE = Path(__file__).parent
REF = HERE / "reference"
INDEX = pd.read_csv(HERE / "data" / "ref_index.csv")
LABELS = {"pregnancy-associated": "True", "not pregnancy-associated": "False", "men": "M", "women": "F"}


@pytest.fixture(scope="module")
def result():
    return analyse_resolution(cohort_from_index(INDEX))


def _ref_summary() -> dict[tuple[str, str, str], float]:
    ref = pd.read_csv(REF / "ref_km_summary.csv")
    return {(r.group_var, str(r.group), r.quantity): r.value for r in ref.itertuples()}


def test_medians_landmarks_and_rmst_match_r(result) -> None:
    ref = _ref_summary()
    checked = 0
    for row in result.medians.itertuples():
        group = LABELS.get(row.stratum, row.stratum)
        for column, q in (("estimate_days", "median"), ("lower_95_days", "median_lower"),
                          ("upper_95_days", "median_upper")):
            assert getattr(row, column) == pytest.approx(ref[(row.variable, group, q)], abs=1e-8, nan_ok=True)
            checked += 1
    for row in result.landmarks.itertuples():
        group, t = LABELS.get(row.stratum, row.stratum), f"{row.days:g}"
        assert row.estimate == pytest.approx(ref[(row.variable, group, f"surv_{t}")], abs=1e-10)
        assert row.lower_95 == pytest.approx(ref[(row.variable, group, f"lower_{t}")], abs=1e-10)
        assert row.upper_95 == pytest.approx(ref[(row.variable, group, f"upper_{t}")], abs=1e-10)
        assert row.n_risk == ref[(row.variable, group, f"n_risk_{t}")]
        checked += 4
    for row in result.rmst.itertuples():
        group, t = LABELS.get(row.stratum, row.stratum), f"{row.days:g}"
        assert row.estimate_days == pytest.approx(ref[(row.variable, group, f"rmean_{t}")], abs=1e-8)
        assert row.se_days == pytest.approx(ref[(row.variable, group, f"rmean_se_{t}")], abs=1e-8)
        checked += 2
    assert checked == len(ref)  # every R reference value was compared


def test_logrank_matches_survdiff(result) -> None:
    ref = pd.read_csv(REF / "ref_logrank.csv").set_index("group_var")
    got = result.logrank.set_index("variable")
    for variable in ("sex", "pregnancy", "treatment"):
        assert got.loc[variable, "chisq"] == pytest.approx(ref.loc[variable, "chisq"], rel=1e-9)
        assert got.loc[variable, "df"] == ref.loc[variable, "df"]
        assert got.loc[variable, "p"] == pytest.approx(ref.loc[variable, "p"], rel=1e-6)


def _per(ref: pd.DataFrame, term: str, per: float) -> pd.DataFrame:
    """R's per-unit row of ``term`` as per ``per`` units (coxph(... I(age/10) ...) gives these)."""
    ref = ref.copy()
    for column in ("coef", "se"):
        ref.loc[term, column] *= per
    for column in ("hr", "lower", "upper"):
        ref.loc[term, column] **= per
    return ref


def test_cox_matches_coxph(result) -> None:
    ref = _per(pd.read_csv(REF / "ref_cox.csv").set_index("term"), "age", 10)
    table = result.cox
    assert list(table["term"]) == ["male", "age", "pregnancy_associated", "treatment_conservative",
                                   "treatment_bisphosphonate", "treatment_other"]
    assert list(table["label"]) == ["Men (vs women)", "Age at onset, per 10 years", "Pregnancy-associated (vs not)",
                                    "Treatment: conservative (reference)",
                                    "Treatment: bisphosphonate (vs conservative)", "Treatment: other (vs conservative)"]
    assert list(table["reference"]) == [False, False, False, True, False, False]
    assert list(table["per"]) == [1, 10, 1, 1, 1, 1]
    reference = table[table["reference"]].iloc[0]
    assert reference["estimate"] == 1 and reference["coef"] == 0 and pd.isna(reference["lower_95"]) and pd.isna(reference["p"])
    got = table[~table["reference"]].set_index("term")
    assert list(got.index) == list(ref.index)
    assert result.cox_reference == {"treatment": "conservative"}
    for column, ref_column in (("coef", "coef"), ("se_coef", "se"), ("estimate", "hr"), ("lower_95", "lower"),
                               ("upper_95", "upper"), ("z", "z")):
        pd.testing.assert_series_equal(got[column], ref[ref_column], check_names=False, atol=1e-7, rtol=0)
    pd.testing.assert_series_equal(got["p"], ref["p"], check_names=False, rtol=1e-6)
    fit = pd.read_csv(REF / "ref_cox_fit.csv").set_index("quantity")["value"]
    assert (table["n"] == fit["n"]).all() and (table["events"] == fit["nevent"]).all()
    head = result.headline()
    per_year = pd.read_csv(REF / "ref_cox.csv").set_index("term")
    assert head["resolution.cox.age.estimate"] == pytest.approx(per_year.loc["age", "hr"], abs=1e-9)  # the key stays per year
    assert head["resolution.cox.age.lower"] == pytest.approx(per_year.loc["age", "lower"], abs=1e-9)
    assert head["resolution.cox.age_per_10.estimate"] == pytest.approx(ref.loc["age", "hr"], abs=1e-7)
    assert (head["resolution.cox.n"], head["resolution.cox.events"], head["resolution.cox.n_missing"]) == (
        fit["n"], fit["nevent"], 0)
    assert "resolution.cox.treatment_conservative.estimate" not in head


def test_ph_test_matches_cox_zph(result) -> None:
    ref = pd.read_csv(REF / "ref_coxzph.csv").set_index("term")
    got = result.ph_test.set_index("term")
    assert list(got.index) == list(ref.index)
    pd.testing.assert_series_equal(got["chisq"], ref["chisq"], check_names=False, rtol=1e-7)
    pd.testing.assert_series_equal(got["df"].astype(int), ref["df"].astype(int), check_names=False)
    pd.testing.assert_series_equal(got["p"], ref["p"], check_names=False, rtol=1e-6)


def test_headline_keys_are_stable(result) -> None:
    head = result.headline()
    assert head["resolution.median.estimate_days"] == 190 and head["resolution.n"] == 1500  # R: median 190
    for key in ("resolution.unresolved_6m.estimate", "resolution.unresolved_8m.estimate", "resolution.unresolved_12m.estimate",
                "resolution.cox.male.estimate", "resolution.ph_global_p", "resolution.rmst_12m.estimate_days"):
        assert key in head


def test_a_failed_ph_test_is_flagged_and_met_by_the_model_stratified_by_the_category(result) -> None:
    """cox.zph rejects proportional hazards for treatment on the reference cohort (p = 3.1e-5,
    ref_coxzph.csv): the term is flagged, and the model stratified by treatment matches
    coxph(... + strata(treatment), ties = "efron") (ref_cox_strata.csv, made by
    make_cox_strata_reference.R)."""
    ph = result.ph_test.set_index("term")
    assert bool(ph.loc["treatment", "violated"]) and not ph.loc[["male", "age", "pregnancy_associated", "GLOBAL"],
                                                               "violated"].any()
    ref = _per(pd.read_csv(REF / "ref_cox_strata.csv").set_index("term"), "age", 10)
    got = result.cox_stratified.set_index("term")
    assert list(got.index) == list(ref.index) == ["male", "age", "pregnancy_associated"]
    assert set(got["strata"]) == {"treatment"}
    for column, ref_column in (("coef", "coef"), ("se_coef", "se"), ("estimate", "hr"), ("lower_95", "lower"),
                               ("upper_95", "upper")):
        pd.testing.assert_series_equal(got[column], ref[ref_column], check_names=False, atol=1e-7, rtol=0)
    pd.testing.assert_series_equal(got["p"], ref["p"], check_names=False, rtol=1e-6)
    assert (got["n"] == ref["n"]).all() and (got["events"] == ref["events"]).all()
    head = result.headline()
    assert head["resolution.cox_stratified.age_per_10.estimate"] == pytest.approx(ref.loc["age", "hr"], abs=1e-7)
    assert head["resolution.cox_stratified.age.estimate"] == pytest.approx(ref.loc["age", "hr"] ** 0.1, abs=1e-8)
    assert head["resolution.ph.treatment.p"] == pytest.approx(3.0638690297854279e-05, rel=1e-6)
