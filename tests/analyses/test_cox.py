"""The Cox model against R on a registry built to violate proportional hazards
(tests/analyses/data/ph_violation_index.csv, made by make_ph_violation.py): Efron ties, age per
10 years, the reference levels, a numeric (BMI per 5) and a categorical (smoking) extra covariate,
cox.zph, the model stratified by the offending term, and a model with a configured stratum.
References: tests/analyses/reference/make_cox_ph_violation_reference.R (survival 3.5-3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import cohort_from_index
from toh.analyses.resolution import ResolutionOptions, analyse_resolution
from toh.cohort.columns import ExtraColumn
from toh.cohort.errors import ConfigError

HERE = Path(__file__).parent
REF = HERE / "reference"
COLUMNS = (ExtraColumn("bmi", "patients", "number", "BMI", per=5), ExtraColumn("smoking", "patients", "category"))
COVARIATES = ("male", "age", "pregnancy_associated", "treatment", "bmi", "smoking")
TOL = 1e-6


def _cohort():
    index = pd.read_csv(HERE / "data" / "ph_violation_index.csv", dtype={"smoking": object})
    index["pregnancy_associated"] = index["pregnancy_associated"].astype("boolean")
    return dataclasses.replace(cohort_from_index(index), columns=COLUMNS)


@pytest.fixture(scope="module")
def cohort():
    return _cohort()


@pytest.fixture(scope="module")
def result(cohort):
    return analyse_resolution(cohort, ResolutionOptions(strata=("sex", "smoking"), cox_covariates=COVARIATES))


def _compare(got: pd.DataFrame, ref: pd.DataFrame) -> float:
    """Largest difference over coef, se, hr and its limits, z; p relative."""
    got = got[~got["reference"].astype(bool)].set_index("term")
    assert list(got.index) == list(ref.index)
    worst = 0.0
    for column, ref_column in (("coef", "coef"), ("se_coef", "se"), ("estimate", "hr"), ("lower_95", "lower"),
                               ("upper_95", "upper"), ("z", "z")):
        diff = float(np.max(np.abs(got[column].to_numpy(float) - ref[ref_column].to_numpy(float))))
        assert diff < TOL, (column, diff)
        worst = max(worst, diff)
    np.testing.assert_allclose(got["p"].to_numpy(float), ref["p"].to_numpy(float), rtol=1e-6)
    assert (got["n"] == ref["n"]).all() and (got["events"] == ref["events"]).all()
    return worst


def test_cox_with_extra_covariates_matches_coxph(result) -> None:
    ref = pd.read_csv(REF / "ref_cox_ph.csv").set_index("term")
    _compare(result.cox, ref)
    labels = dict(zip(result.cox["term"], result.cox["label"]))
    assert labels["bmi"] == "BMI, per 5" and labels["age"] == "Age at onset, per 10 years"
    assert labels["smoking_never"] == "Smoking: never (reference)"
    assert labels["smoking_current"] == "Smoking: current (vs never)"
    assert result.cox_reference == {"treatment": "conservative", "smoking": "never"}
    # complete cases: BMI or smoking missing leaves the episode out, and the count is given
    assert result.cox_missing == 600 - 548
    assert result.excluded.set_index("reason").loc["cox: a covariate is missing", "n"] == 52
    head = result.headline()
    assert head["resolution.cox.n_missing"] == 52 and head["resolution.cox.n"] == 548
    assert head["resolution.cox.bmi_per_5.estimate"] == pytest.approx(ref.loc["bmi", "hr"], abs=TOL)
    assert head["resolution.cox.bmi.estimate"] == pytest.approx(ref.loc["bmi", "hr"] ** 0.2, abs=TOL)


def test_cox_zph_flags_the_treatment_built_to_break_proportional_hazards(result) -> None:
    ref = pd.read_csv(REF / "ref_coxzph_ph.csv").set_index("term")
    got = result.ph_test.set_index("term")
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["chisq"].to_numpy(float), ref["chisq"].to_numpy(float), rtol=1e-7)
    np.testing.assert_allclose(got["p"].to_numpy(float), ref["p"].to_numpy(float), rtol=1e-6)
    assert list(got["df"].astype(int)) == list(ref["df"].astype(int))
    assert list(got.index[got["violated"].astype(bool)]) == ["treatment"]
    assert got.loc["treatment", "label"] == "Treatment"


def test_the_model_stratified_by_the_offending_term_matches_coxph_strata(result) -> None:
    ref = pd.read_csv(REF / "ref_cox_ph_strata.csv").set_index("term")
    _compare(result.cox_stratified, ref)
    assert set(result.cox_stratified["strata"]) == {"treatment"}


def test_a_configured_stratum_matches_coxph_strata_and_its_cox_zph(cohort) -> None:
    res = analyse_resolution(cohort, ResolutionOptions(
        strata=(), cox_covariates=("male", "age", "pregnancy_associated", "treatment", "bmi"), cox_strata=("smoking",)))
    _compare(res.cox, pd.read_csv(REF / "ref_cox_ph_smoking.csv").set_index("term"))
    ref = pd.read_csv(REF / "ref_coxzph_ph_smoking.csv").set_index("term")
    got = res.ph_test.set_index("term")
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["chisq"].to_numpy(float), ref["chisq"].to_numpy(float), rtol=1e-7)
    # treatment still breaks it: the second model is stratified by both
    assert set(res.cox_stratified["strata"]) == {"smoking, treatment"}


def test_a_declared_category_stratifies_the_curves_and_log_rank(result) -> None:
    levels = result.medians[result.medians["variable"] == "smoking"]
    assert list(levels["stratum"]) == ["current", "former", "never"]
    assert levels["n"].sum() == 600 - 24  # smoking missing: in no stratum
    assert "smoking" in set(result.logrank["variable"])


def test_small_levels_are_pooled_into_other_before_the_model(cohort) -> None:
    index = cohort.index.copy()
    index.loc[index.index[:3], "smoking"] = "cigar"  # 3 patients: below min_level 5
    small = dataclasses.replace(cohort, index=index)
    res = analyse_resolution(small, ResolutionOptions(strata=("smoking",), cox_covariates=COVARIATES, min_level=5))
    assert not res.cox["label"].str.contains("cigar").any()
    assert not (res.medians["stratum"] == "cigar").any()
    apart = analyse_resolution(small, ResolutionOptions(strata=("smoking",), cox_covariates=COVARIATES))
    assert apart.cox["label"].str.contains("cigar").any()  # toh analyze (min_level 0) keeps every level


def test_unknown_or_mistyped_names_are_refused(cohort) -> None:
    with pytest.raises(ConfigError, match="unknown Cox covariate 'bmi2'"):
        analyse_resolution(cohort, ResolutionOptions(cox_covariates=("bmi2",)))
    with pytest.raises(ConfigError, match="unknown Cox stratum 'bmi'"):
        analyse_resolution(cohort, ResolutionOptions(cox_covariates=("age",), cox_strata=("bmi",)))
    with pytest.raises(ValueError, match="both a Cox covariate and a Cox stratum"):
        ResolutionOptions(cox_covariates=("treatment",), cox_strata=("treatment",))


def test_a_covariate_without_values_is_dropped_and_listed_not_a_reason_to_leave_everyone_out(cohort) -> None:
    index = cohort.index.assign(smoking=None)
    res = analyse_resolution(dataclasses.replace(cohort, index=index),
                             ResolutionOptions(strata=(), cox_covariates=("male", "age", "smoking")))
    assert list(res.cox["term"]) == ["male", "age"] and res.cox_missing == 0
    assert "cox: no variation in smoking (term dropped)" in set(res.excluded["reason"])
