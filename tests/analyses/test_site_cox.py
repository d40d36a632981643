"""A site's Cox model as a bundle holds it: the model of ``toh analyze`` (itself checked against R's
coxph in test_resolution.py) with its covariance; the treatment terms re-expressed on another
reference equal a refit with that reference; free-text levels, and terms resting on fewer
patients than the site's small-cell rule, are not written."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from toh.analyses.aggregates import CODE_PATTERN
from toh.analyses.pipeline import derive_export
from toh.analyses.cox import _fit
from toh.analyses.resolution import ResolutionOptions, analyse_resolution
from toh.analyses.site_cox import common_references, on_reference, site_cox
from toh.cohort.simulate import simulate_registry, write_registry

OPTIONS = ResolutionOptions()


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("cox")
    write_registry(simulate_registry(400, 31), root)
    return derive_export(root, validation_date=dt.date(2026, 6, 30))[1]


def test_the_site_model_is_the_model_of_toh_analyze(index) -> None:
    coefficients, covariance = site_cox(index.index, OPTIONS, 0.95, CODE_PATTERN)
    cox = analyse_resolution(index, OPTIONS).cox
    cox = cox[~cox["reference"]].set_index("term")
    assert list(coefficients["term"]) == [t if t != "age" else "age_per_10" for t in cox.index]
    np.testing.assert_allclose(coefficients["coef"], cox["coef"], rtol=0, atol=1e-12)
    names = list(coefficients["term"])
    matrix = covariance.pivot(index="term", columns="other", values="covariance").loc[names, names]
    np.testing.assert_allclose(np.sqrt(np.diag(matrix)), cox["se_coef"], rtol=1e-12)
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T, rtol=0, atol=1e-15)
    treatment = coefficients["variable"] == "treatment"
    assert set(coefficients.loc[treatment, "reference"]) == {"conservative"}
    assert set(coefficients.loc[~treatment, "reference"]) == {""}
    assert (coefficients["n"] == cox["n"].to_numpy()).all() and (coefficients["events"] == cox["events"].to_numpy()).all()


def test_another_reference_equals_a_refit(index) -> None:
    rows = index.index
    coefficients, covariance = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    names, b, v = on_reference(coefficients, covariance, {"treatment": "bisphosphonate"})
    assert names == ["male", "age_per_10", "pregnancy_associated", "treatment_conservative", "treatment_other"]
    treatment = rows["treatment"]
    data = pd.DataFrame({"male": (rows["sex"] == "M").astype(float), "age": rows["age_at_onset"].astype(float) / 10,
                         "pregnancy_associated": rows["pregnancy_associated"].astype("Float64").astype(float),
                         "treatment_conservative": (treatment == "conservative").astype(float),
                         "treatment_other": (treatment == "other").astype(float),
                         "_t": rows["resolution_days"].astype(float), "_e": rows["resolved"].astype(int)}).dropna()
    matrix: dict[str, pd.DataFrame] = {}
    refit = _fit(data, 0.95, [], covariance=matrix)
    columns = [n.removesuffix("_per_10") for n in names]
    np.testing.assert_allclose(b, refit.loc[columns, "coef"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(v, matrix["matrix"].loc[columns, columns], rtol=1e-6, atol=1e-12)
    # a reference the site does not have: its treatment terms are left out, the rest kept
    names, b, _ = on_reference(coefficients, covariance, {"treatment": "steroids"})
    assert names == ["male", "age_per_10", "pregnancy_associated"]
    assert on_reference(coefficients, covariance, {"treatment": "conservative"})[0] == list(coefficients["term"])


def test_free_text_levels_are_not_written(index) -> None:
    rows = index.index.copy()
    note = "crutches; see letter of Dr Huber 12 May"  # not a code (CODE_PATTERN)
    rows.loc[rows.index[:30], "treatment"] = note
    coefficients, covariance = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    assert note not in " ".join(coefficients["term"]) + " ".join(covariance["term"]) + " ".join(covariance["other"])
    assert "treatment_bisphosphonate" in set(coefficients["term"])
    rows["treatment"] = rows["treatment"].where(rows["treatment"] != "conservative", note)  # now the reference
    coefficients, _ = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    assert not (coefficients["variable"] == "treatment").any()
    assert {"male", "age_per_10", "pregnancy_associated"} <= set(coefficients["term"])


@pytest.mark.parametrize("min_cell", [0, 5])
def test_a_term_resting_on_a_small_group_is_not_written(index, min_cell: int) -> None:
    """A treatment given to 4 patients, and a site with 4 pregnancy-associated episodes: under a
    small-cell rule of 5 neither hazard ratio leaves the site (the model still adjusts for them,
    so the other terms are those of the full model); the terms resting on larger groups stay."""
    rows = index.index.copy()
    rows.loc[rows.index[:4], "treatment"] = "hbo"
    pregnant = rows.index[rows["pregnancy_associated"].fillna(False).astype(bool)]
    rows.loc[pregnant[4:], "pregnancy_associated"] = False
    full, _ = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    coefficients, covariance = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN, min_cell=min_cell)
    small = {"treatment_hbo", "pregnancy_associated"}
    assert small <= set(full["term"])
    assert (small <= set(coefficients["term"])) == (min_cell == 0)
    kept = full[~full["term"].isin(small) | (min_cell == 0)]
    assert list(coefficients["term"]) == list(kept["term"])
    np.testing.assert_array_equal(coefficients["coef"], kept["coef"])  # the same model, fewer terms written
    assert set(covariance["term"]) == set(covariance["other"]) == set(coefficients["term"])


def test_small_groups_by_hand() -> None:
    """The rule itself: a yes/no term is small when its yes or its no group is; a level when it
    is; every level when the reference (no indicator set) is; never a number."""
    from toh.analyses.cox import _Term
    from toh.analyses.cox import group_sizes as _groups
    from toh.analyses.site_cox import _small_groups

    data = pd.DataFrame({"male": [1.0] * 6 + [0.0] * 4, "t_a": [1.0] * 5 + [0.0] * 5,
                         "t_b": [0.0] * 5 + [1.0] * 2 + [0.0] * 3})
    male = _groups(data, _Term("male", "binary", "Men", ("male",), ("Men",)))
    treatment = _groups(data, _Term("t", "factor", "T", ("t_a", "t_b"), ("a", "b"), reference="r"))
    age = _groups(data, _Term("age", "number", "Age", ("male",), ("Age",)))
    assert male == {"male": (6, 4)} and age == {"male": (0, 0)}
    assert treatment == {"t_a": (5, 3), "t_b": (2, 3)}  # levels: a 5 patients, b 2, the reference 3
    assert _small_groups(male, 5) == {"male"} and _small_groups(male, 4) == set()
    assert _small_groups(treatment, 2) == set() and _small_groups(treatment, 3) == {"t_b"}
    assert _small_groups(treatment, 4) == {"t_b", "t_a"}  # the reference is small: every level
    assert _small_groups(treatment, 0) == set() and _small_groups(age, 100) == set()


def test_a_sites_terms_carry_the_patients_of_the_groups_they_compare(index) -> None:
    """n_group and n_compared are the complete cases in each group, counted by hand: men and
    women, pregnancy-associated or not, each treatment and the site's reference treatment; a
    patient without an age is in no group (the model leaves them out)."""
    rows = index.index.copy()
    rows.loc[rows.index[:7], "age_at_onset"] = np.nan
    coefficients, _ = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    fitted = rows[rows["age_at_onset"].notna() & rows["pregnancy_associated"].notna() & rows["treatment"].notna()]
    by_term = coefficients.set_index("term")
    men = int((fitted["sex"] == "M").sum())
    assert tuple(by_term.loc["male", ["n_group", "n_compared"]]) == (men, len(fitted) - men)
    pregnant = int(fitted["pregnancy_associated"].astype(bool).sum())
    assert tuple(by_term.loc["pregnancy_associated", ["n_group", "n_compared"]]) == (pregnant, len(fitted) - pregnant)
    assert tuple(by_term.loc["age_per_10", ["n_group", "n_compared"]]) == (0, 0)
    counts = fitted["treatment"].value_counts()
    treatments = by_term[by_term["variable"] == "treatment"]
    assert len(treatments) >= 2
    for term, row in treatments.iterrows():
        assert (row["n_group"], row["n_compared"]) == (counts[term.removeprefix("treatment_")], counts[row["reference"]])
    assert (by_term["n"] == len(fitted)).all() and len(fitted) < len(rows)
    # toh analyze's model carries the same counts (the report hides a hazard ratio by them), and
    # its reference row the reference level twice
    from toh.analyses.cox import fit_cox_models

    table = fit_cox_models(rows, OPTIONS.cox_covariates, OPTIONS.cox_strata, 0.95, 0.05,
                           min_level=OPTIONS.min_level).cox.set_index("term")
    for term, row in by_term.iterrows():
        assert tuple(table.loc[term.removesuffix("_per_10"), ["n_group", "n_compared"]]) == (row["n_group"],
                                                                                              row["n_compared"])
    reference = table[table["reference"]]
    assert len(reference) == 1 and tuple(reference[["n_group", "n_compared"]].iloc[0]) == (
        counts[treatments["reference"].iloc[0]],) * 2


def test_no_model_without_two_resolutions(index) -> None:
    rows = index.index.assign(resolved=False)
    coefficients, covariance = site_cox(rows, OPTIONS, 0.95, CODE_PATTERN)
    assert coefficients.empty and covariance.empty
    assert on_reference(coefficients, covariance, {"treatment": "x"})[0] == []


def test_common_reference_is_the_most_frequent_treatment_over_sites() -> None:
    def counts(sizes: dict[str, int]) -> pd.DataFrame:
        return pd.DataFrame({"variable": "treatment", "stratum": list(sizes), "time": 1.0,
                             "n_event": list(sizes.values()), "n_censor": 0})

    def model(reference: str, variable: str = "treatment") -> pd.DataFrame:
        return pd.DataFrame({"term": [f"{variable}_z"], "variable": variable, "reference": reference, "coef": 0.1,
                             "n": 10, "events": 5})

    sites = {"s1": model("a"), "s2": model("b")}
    assert common_references(sites, [counts({"a": 5, "b": 3}), counts({"b": 4})]) == {"treatment": "b"}
    assert common_references(sites, [counts({"a": 4, "b": 3}), counts({"b": 1})]) == {"treatment": "a"}  # a tie
    # a category without counts: the reference most sites used (ties alphabetical)
    sites = {"s1": model("x", "clinic"), "s2": model("y", "clinic"), "s3": model("y", "clinic")}
    assert common_references(sites, [counts({})]) == {"clinic": "y"}
    assert common_references({}, [counts({})]) == {}


def test_term_groups_by_hand() -> None:
    """Patients in the two groups each pooled Cox term compares, read from a site's own counts:
    a yes/no term as the site counted it; none for a number; a level against the pool's
    reference, the site's own reference becoming a term of its own when the pool's differs; a
    category whose pool reference the site does not have is left out (as on_reference leaves it)."""
    from toh.analyses.site_cox import COEFFICIENT_COLUMNS, COVARIANCE_COLUMNS, term_groups

    rows = [("male", "sex", "", 22, 12), ("age_per_10", "age", "", 0, 0), ("smoker", "smoker", "", 4, 30),
            ("treatment_hbo", "treatment", "conservative", 3, 25), ("treatment_ice", "treatment", "conservative", 6, 25),
            ("clinic_b", "clinic", "a", 10, 24)]
    table = pd.DataFrame([(t, v, r, 0.1, 34, 20, g, c) for t, v, r, g, c in rows], columns=COEFFICIENT_COLUMNS)
    assert term_groups(table, {"treatment": "conservative", "clinic": "z"}) == {
        "male": (22, 12), "age_per_10": (), "smoker": (4, 30), "treatment_hbo": (3, 25), "treatment_ice": (6, 25)}
    assert term_groups(table, {"treatment": "ice", "clinic": "b"}) == {
        "male": (22, 12), "age_per_10": (), "smoker": (4, 30), "treatment_hbo": (3, 6),
        "treatment_conservative": (25, 6), "clinic_a": (24, 10)}
    # the names are those on_reference gives the site's terms
    pairs = pd.DataFrame([(a, b, float(a == b)) for a in table["term"] for b in table["term"]],
                         columns=COVARIANCE_COLUMNS)
    for references in ({"treatment": "conservative", "clinic": "z"}, {"treatment": "ice", "clinic": "b"}):
        assert set(on_reference(table, pairs, references)[0]) == set(term_groups(table, references))
