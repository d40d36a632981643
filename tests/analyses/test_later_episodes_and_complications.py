"""Recurrence, migration and complications on ref_index.csv against R (ref_cuminc.csv from
cmprsk::cuminc/timepoints; ref_exact.csv from binom.test, poisson.test and a Wald risk ratio that
agrees with epitools::riskratio; all made by make_reference.R)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses.complications import analyse_complications
from toh.analyses.migration import analyse_migration
from toh.analyses.recurrence import analyse_recurrence
from toh.analyses._exact import poisson_rate
from builders import cohort_from_index

HERE = Path(__file__).parent
INDEX = pd.read_csv(HERE / "data" / "ref_index.csv")
CUMINC = pd.read_csv(HERE / "reference" / "ref_cuminc.csv")
EXACT = pd.read_csv(HERE / "reference" / "ref_exact.csv").set_index("quantity")
COHORT = cohort_from_index(INDEX)


@pytest.mark.parametrize(("outcome", "analyse"), [("recurrence", analyse_recurrence), ("migration", analyse_migration)])
def test_incidence_at_one_and_two_years_matches_cuminc(outcome, analyse) -> None:
    result = analyse(COHORT)
    for cause, label in ((1, outcome), (2, "death")):
        ref = CUMINC[(CUMINC["outcome"] == outcome) & (CUMINC["cause"] == cause)].set_index("time")
        got = result.incidence[result.incidence["cause"] == label].set_index("days")
        for days in (365.25, 730.5):
            assert got.loc[days, "estimate"] == pytest.approx(ref.loc[days, "est"], abs=1e-12)
            assert got.loc[days, "se"] ** 2 == pytest.approx(ref.loc[days, "var"], abs=1e-12)
            assert got.loc[days, "lower_95"] < got.loc[days, "estimate"] < got.loc[days, "upper_95"]


@pytest.mark.parametrize(("outcome", "analyse"), [("recurrence", analyse_recurrence), ("migration", analyse_migration)])
def test_each_incidence_row_carries_the_events_it_counts(outcome, analyse) -> None:
    """``events``: the patients with the cause by the row's day (what the report's small-cell
    rule reads), by hand from the index table; ``n`` all patients; the headline carries both."""
    result = analyse(COHORT)
    status, days = INDEX[f"{outcome}_status"], INDEX[f"{outcome}_days"]
    assert len(result.incidence) == 4
    for row in result.incidence.itertuples():
        code = 1 if row.cause == outcome else 2
        by_hand = int(((status == code) & (days <= row.days)).sum())
        assert (row.events, row.n) == (by_hand, len(INDEX))
        if row.cause == outcome:
            head = result.headline()
            assert (head[f"{outcome}.cif_{row.months:g}m.events"], head[f"{outcome}.cif_{row.months:g}m.n"]) == (
                by_hand, len(INDEX))
    assert 0 < result.incidence["events"].max() < len(INDEX)  # the data has events, and not only events


def test_rates_by_hand_with_r_checked_poisson_limits() -> None:
    result = analyse_recurrence(COHORT)
    rate = result.rates.iloc[0]
    events = int((INDEX["recurrence_status"] == 1).sum())
    person_years = INDEX["recurrence_days"].sum() / 365.25
    assert (rate["events"], rate["person_years"]) == (events, pytest.approx(person_years, rel=1e-12))
    assert (rate["estimate_per_100py"], rate["lower_95_per_100py"], rate["upper_95_per_100py"]) == pytest.approx(
        poisson_rate(events, person_years, per=100), rel=1e-12)


def test_migration_sites_count_first_migrations() -> None:
    result = analyse_migration(COHORT)
    expected = INDEX.loc[INDEX["migration_status"] == 1, "migration_site"].value_counts()
    got = result.sites.set_index("site")["n"]
    assert got.sum() == expected.sum()
    for site, n in expected.items():
        assert got[site] == n
    assert np.isclose(result.sites["share_of_migrations"].sum(), 1.0)


def test_complications_match_r() -> None:
    result = analyse_complications(COHORT)
    est = result.estimates.set_index(["outcome", "stratum"])
    cases = [
        ("fracture", "all", "fracture_all", "fracture_rate_all"),
        ("fracture", "pregnancy-associated", "fracture_pregnancy_True", "fracture_rate_pregnancy_True"),
        ("fracture", "not pregnancy-associated", "fracture_pregnancy_False", "fracture_rate_pregnancy_False"),
        ("avn", "all", "avn_all", "avn_rate_all"),
    ]
    for outcome, group, prop_name, rate_name in cases:
        prop, rate, row = EXACT.loc[prop_name], EXACT.loc[rate_name], est.loc[(outcome, group)]
        assert (row["events"], row["n"]) == (prop["x"], prop["n"])
        assert (row["estimate"], row["lower_95"], row["upper_95"]) == pytest.approx(
            (prop["estimate"], prop["lower"], prop["upper"]), abs=1e-10)
        assert row["person_years"] == pytest.approx(rate["n"], rel=1e-12)
        assert (row["rate_per_100py"], row["rate_lower_95_per_100py"], row["rate_upper_95_per_100py"]) == pytest.approx(
            (rate["estimate"], rate["lower"], rate["upper"]), abs=1e-10)
    rr = result.risk_ratios.set_index("outcome").loc["fracture"]
    ref = EXACT.loc["fracture_risk_ratio"]
    assert (rr["estimate"], rr["lower_95"], rr["upper_95"]) == pytest.approx((ref["estimate"], ref["lower"], ref["upper"]),
                                                                         abs=1e-10)


def test_gray_compares_the_folded_treatments_a_report_compares() -> None:
    """With ``min_level`` (a report's min_cell) a treatment of fewer patients is compared as
    "other", as the log-rank tests and the Cox model do: the test equals Gray's test of the rows
    relabelled by hand; the report's options carry it to both analyses."""
    from toh.analyses._second_episode import gray_tables
    from toh.reports.config import ReportConfig

    rows = INDEX.copy()
    rows.loc[rows.index[:3], "treatment"] = "hyperbaric"  # a treatment of 3 patients
    folded = gray_tables(rows, "migration", ("treatment",), min_level=5).iloc[0]
    by_hand = gray_tables(rows.replace({"treatment": {"hyperbaric": "other"}}), "migration", ("treatment",)).iloc[0]
    plain = gray_tables(rows, "migration", ("treatment",)).iloc[0]
    assert (plain["groups"], plain["n_smallest"]) == (4, 3)
    assert (folded["groups"], folded["n_smallest"]) == (3, by_hand["n_smallest"]) and by_hand["n_smallest"] >= 5
    assert (folded["chisq"], folded["p"]) == (by_hand["chisq"], by_hand["p"])
    options = ReportConfig(export=HERE, out=HERE / "out").analysis_options(min_level=5)
    assert options.recurrence.min_level == options.migration.min_level == options.resolution.min_level == 5
