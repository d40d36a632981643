"""Pooled = concatenated: sites' counts summed give the estimates of the concatenated rows.

A simulated registry is split by patient into site exports; each is validated and derived on its
own, reduced to sufficient statistics (:func:`toh.analyses.aggregates.site_aggregates`) and
pooled; every pooled headline number and table must equal the analysis of the whole registry
(coarsened by the same :func:`toh.cohort.coarsen.coarsen_cohort` at week and month granularity)
to 1e-9.  A hypothesis test does the same for any split of a small registry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pooling_helpers import differences, write_sites
from toh.analyses._cif import cumulative_incidence, cumulative_incidence_counts
from toh.analyses._km import kaplan_meier, kaplan_meier_counts
from toh.analyses.baseline import analyse_baseline
from toh.analyses.aggregates import BASELINE_COUNT_COLUMNS, POOLED_PREFIXES, pooled_analysis, site_aggregates
from toh.analyses.pipeline import derive_export
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from toh.cohort.coarsen import coarsen_cohort, coarsen_times
from toh.cohort.errors import ConfigError
from toh.cohort.simulate import simulate_registry, write_registry

DAY = dt.date(2026, 6, 30)
OPTIONS = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=40, seed=7, workers=1))
TOL = 1e-9


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory):
    """(whole derived cohort, {site: derived cohort}) of a 300-patient registry in 3 sites."""
    root = tmp_path_factory.mktemp("pooling")
    registry = simulate_registry(300, 11)
    write_registry(registry, root / "whole")
    labels = np.random.default_rng(3).integers(0, 3, len(registry.patients))
    sites = {name: derive_export(folder, validation_date=DAY)[1]
             for name, folder in write_sites(registry, labels, root).items()}
    return derive_export(root / "whole", validation_date=DAY)[1], sites


@pytest.mark.parametrize("unit", ["day", "week", "month"])
def test_pooled_estimates_equal_the_concatenated_rows(split, unit: str) -> None:
    whole, sites = split
    reference = analyse_cohort(coarsen_cohort(whole, unit), OPTIONS)
    pooled = pooled_analysis({name: site_aggregates(c, OPTIONS, unit) for name, c in sites.items()},
                             whole.definitions, OPTIONS)
    head = pooled.headline()
    worst, odd = differences(head, reference.headline())
    assert not odd and worst <= TOL, (worst, odd[:5])
    # every estimand the slice pools is there, with the sites' patients
    for key in ("resolution.median.estimate_days", "resolution.unresolved_6m.estimate", "resolution.rmst_12m.estimate_days", "recurrence.cif_24m.estimate",
                "migration.rate.estimate_per_100py", "radiographic.changed_8w.estimate", "radiographic.changed_8w.lower",
                "complications.fracture.all.estimate", "complications.avn.pregnancy.rate_per_100py",
                "demographics.share_men.estimate", "demographics.sex_ratio.estimate"):
        assert head[key] is not None, key
    assert sum(head[f"sites.{name}.patients"] for name in sites) == len(whole.index) == head["resolution.n"]
    assert {k.split(".")[0] for k in head} == set(POOLED_PREFIXES) | {"sites", "meta"}
    assert head["meta.demographics.share_men.k"] == len(sites)
    # the tests stratified by site equal those of the concatenated rows stratified by site
    coarse = coarsen_cohort(whole, unit).index
    site_of = {pid: name for name, c in sites.items() for pid in c.index["patient_id"]}
    labels = coarse["patient_id"].map(site_of).to_numpy()
    for outcome in ("recurrence", "migration"):
        for variable in ("sex", "treatment"):
            expected = _stratified_gray(coarse, labels, outcome, variable)
            assert head[f"sites.gray.{outcome}.{variable}.p"] == pytest.approx(expected, rel=1e-9), (outcome, variable)
    assert head["sites.logrank.sex.p"] is not None and head["sites.logrank.treatment.df"] == 2
    # and every table, strata included
    tables = reference.tables()
    for name, table in pooled.tables().items():
        if name in ("sites", "sites_logrank", "sites_gray", "meta_analysis", "meta_sites", "baseline"):
            continue
        pd.testing.assert_frame_equal(table.reset_index(drop=True), tables[name].reset_index(drop=True),
                                      check_dtype=False, check_exact=False, rtol=0, atol=TOL, obj=name)
    # Table 1's counts (no medians leave a site): the same cells as the concatenated Table 1's
    keys = ["variable", "level", "kind", "stratum"]
    expected = reference.baseline.table[BASELINE_COUNT_COLUMNS].sort_values(keys).reset_index(drop=True)
    got = pooled.baseline.sort_values(keys).reset_index(drop=True)
    assert len(got) == len(expected) > 30
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj="baseline")


def test_times_are_coarsened_up_and_intervals_widened() -> None:
    assert list(coarsen_times(np.array([0, 1, 7, 8, np.inf, np.nan]), 7.0)[:5]) == [0, 7, 7, 14, np.inf]
    assert list(coarsen_times(np.array([0, 6, 7, 13]), 7.0, up=False)) == [0, 0, 7, 7]
    month = 365.25 / 12
    assert coarsen_times(np.array([30.0, 31.0]), month).tolist() == [month, 2 * month]


def test_a_coarsened_interval_holds_the_true_one_and_stays_open(split) -> None:
    whole, _ = split
    for unit in ("week", "month"):
        coarse = coarsen_cohort(whole, unit).index
        films = whole.index["xr_lower_day"].notna()
        assert (coarse.loc[films, "xr_lower_day"] <= whole.index.loc[films, "xr_lower_day"]).all()
        assert (coarse.loc[films, "xr_upper_day"] >= whole.index.loc[films, "xr_upper_day"]).all()
        proper = films & (whole.index["xr_upper_day"] > whole.index["xr_lower_day"])
        assert (coarse.loc[proper, "xr_upper_day"] > coarse.loc[proper, "xr_lower_day"]).all()
    assert coarsen_cohort(whole, "day") is whole
    with pytest.raises(ConfigError, match="fortnight"):
        coarsen_cohort(whole, "fortnight")


def test_estimators_from_counts_equal_the_estimators_on_rows() -> None:
    time = np.array([3, 3, 5, 8, 8, 8, 12, 15, 15, 20], float)
    status = np.array([1, 0, 2, 1, 1, 0, 2, 1, 0, 0])
    rows = kaplan_meier(time, status > 0)
    counts = kaplan_meier_counts([3, 5, 8, 12, 15, 20], [1, 1, 2, 1, 1, 0], [1, 0, 1, 0, 1, 1])
    for field in ("time", "n_risk", "n_event", "surv", "std_err", "lower", "upper", "durations"):
        np.testing.assert_array_equal(getattr(rows, field), getattr(counts, field))
    cif = cumulative_incidence(time, status, 1)
    from_counts = cumulative_incidence_counts([3, 5, 8, 12, 15, 20], [1, 0, 2, 0, 1, 0], [0, 1, 0, 1, 0, 0],
                                              [1, 0, 1, 0, 1, 1], 1)
    np.testing.assert_array_equal(cif.estimate, from_counts.estimate)
    np.testing.assert_array_equal(cif.variance, from_counts.variance)
    with pytest.raises(ValueError, match="increasing"):
        kaplan_meier_counts([5, 3], [1, 1], [0, 0])


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    """A 60-patient registry derived once, and its analysis at day and week granularity (the
    concatenated references)."""
    root = tmp_path_factory.mktemp("small")
    write_registry(simulate_registry(60, 5), root)
    whole = derive_export(root, validation_date=DAY)[1]
    return whole, {unit: analyse_cohort(coarsen_cohort(whole, unit), OPTIONS).headline() for unit in ("day", "week")}


def _stratified_gray(index: pd.DataFrame, labels: np.ndarray, outcome: str, variable: str) -> float:
    """Gray's test of the rows, stratified by the site labels (test_stratified.py checks it against R)."""
    from toh.analyses._gray import gray_test
    from toh.analyses._strata import strata_of

    groups = strata_of(index, variable)
    keep = groups.notna().to_numpy()
    status = index[f"{outcome}_status"].to_numpy(int)[keep]
    if groups[keep].nunique() < 2 or not (status == 1).any():
        return float("nan")
    return gray_test(index[f"{outcome}_days"].to_numpy(float)[keep], status, groups[keep].astype(str).to_numpy(),
                     strata=labels[keep]).p


@pytest.mark.slow  # hypothesis splits, each pooled and analysed whole
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(st.integers(0, 3), min_size=60, max_size=60), unit=st.sampled_from(["day", "week"]),
       layout=st.sampled_from(["any", "eventless", "disjoint"]), single=st.none() | st.integers(0, 59))
def test_any_split_pools_to_the_concatenated_estimates(small, labels: list[int], unit: str, layout: str,
                                                        single: int | None) -> None:
    """Any split pools to the concatenated estimates, at day and week granularity; also with a
    site without any resolution (every unresolved patient together), with sites of disjoint
    strata (men at two sites, women at two others) and with a one-patient site, which pools
    exactly but which ``toh bundle`` refuses by its minimum.  The tests stratified by site equal
    Gray's test of the rows stratified by the same labels."""
    from toh.reports.sites.bundle import DEFAULT_MIN_PATIENTS, bundle_members

    whole, references = small
    index = whole.index
    labels_array = np.asarray(labels)
    if layout == "eventless":
        labels_array = np.where(index["resolved"].to_numpy(bool), labels_array % 3, 3)
    elif layout == "disjoint":
        labels_array = labels_array % 2 + np.where(index["sex"].to_numpy() == "F", 2, 0)
    if single is not None:
        labels_array = labels_array.copy()
        labels_array[single] = 9
    sites = {}
    for label in np.unique(labels_array):
        part = dataclasses.replace(whole, index=index[labels_array == label].reset_index(drop=True))
        sites[f"s{label}"] = site_aggregates(part, OPTIONS, unit)
    if layout == "eventless" and (labels_array == 3).any():
        assert sites["s3"].survival["n_event"].sum() == 0
    pooled = pooled_analysis(sites, whole.definitions, OPTIONS)
    head = pooled.headline()
    worst, odd = differences(head, references[unit])
    assert not odd and worst <= TOL, (worst, odd[:5])
    keys = ["variable", "level", "kind", "stratum"]  # Table 1's counts: a level a site lacks is 0 there
    table1 = analyse_baseline(coarsen_cohort(whole, unit)).table[BASELINE_COUNT_COLUMNS]
    pd.testing.assert_frame_equal(pooled.baseline.sort_values(keys).reset_index(drop=True),
                                  table1.sort_values(keys).reset_index(drop=True), check_dtype=False)
    coarse = coarsen_cohort(whole, unit).index
    for outcome in ("recurrence", "migration"):
        expected = _stratified_gray(coarse, labels_array.astype(str), outcome, "sex")
        got = head[f"sites.gray.{outcome}.sex.p"]
        assert (got is None and np.isnan(expected)) or got == pytest.approx(expected, rel=1e-9, abs=1e-12), outcome
    small_sites = [name for name, s in sites.items() if s.patients < DEFAULT_MIN_PATIENTS]
    if single is not None:
        assert sites["s9"].patients == 1 and "s9" in small_sites
    for name in small_sites:
        with pytest.raises(ConfigError, match="fewer than the minimum"):
            bundle_members(sites[name], name, manifest_facts={}, min_patients=DEFAULT_MIN_PATIENTS)
