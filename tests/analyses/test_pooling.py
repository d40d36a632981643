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
from toh.analyses.aggregates import POOLED_PREFIXES, pooled_analysis, site_aggregates
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
    for key in ("resolution.median", "resolution.unresolved_6m", "resolution.rmst_12m", "recurrence.cif_24m.estimate",
                "migration.rate.rate_per_100py", "radiographic.changed_8w.npmle", "radiographic.changed_8w.lower",
                "complications.fracture.all.proportion", "complications.avn.pregnancy.rate_per_100py",
                "demographics.share_men.estimate", "demographics.sex_ratio.ratio"):
        assert head[key] is not None, key
    assert sum(head[f"sites.{name}.patients"] for name in sites) == len(whole.index) == head["resolution.n"]
    assert {k.split(".")[0] for k in head} == set(POOLED_PREFIXES) | {"sites", "meta"}
    assert head["meta.demographics.share_men.k"] == len(sites)
    # and every table, strata included
    tables = reference.tables()
    for name, table in pooled.tables().items():
        if name in ("sites", "sites_logrank", "sites_gray", "meta_analysis", "meta_sites"):
            continue
        pd.testing.assert_frame_equal(table.reset_index(drop=True), tables[name].reset_index(drop=True),
                                      check_dtype=False, check_exact=False, rtol=0, atol=TOL, obj=name)


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
    """A 60-patient registry derived once, and its analysis (the concatenated reference)."""
    root = tmp_path_factory.mktemp("small")
    write_registry(simulate_registry(60, 5), root)
    whole = derive_export(root, validation_date=DAY)[1]
    return whole, analyse_cohort(whole, OPTIONS).headline()


@pytest.mark.slow  # hypothesis splits, each pooled and analysed whole
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(st.integers(0, 3), min_size=60, max_size=60))
def test_any_split_pools_to_the_concatenated_estimates(small, labels: list[int]) -> None:
    whole, reference = small
    labels_array = np.asarray(labels)
    sites = {}
    for label in np.unique(labels_array):
        part = dataclasses.replace(whole, index=whole.index[labels_array == label].reset_index(drop=True))
        sites[f"s{label}"] = site_aggregates(part, OPTIONS)
    worst, odd = differences(pooled_analysis(sites, whole.definitions, OPTIONS).headline(), reference)
    assert not odd and worst <= TOL, (worst, odd[:5])
