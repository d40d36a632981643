"""Property-based tests: on any valid cohort, derivation neither loses nor duplicates a row."""

from __future__ import annotations

import pytest

import pandas as pd
from cohort_strategies import cohorts
from hypothesis import HealthCheck, given, settings

from toh.cohort.derive import derive_cohort
from toh.schemas.crosstable import check_cross_table

KEYS = {"patients": "patient_id", "episodes": "episode_id", "imaging": "exam_id", "events": "event_id"}


@pytest.mark.slow  # about 8 s
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_every_row_reaches_the_cohort_or_the_ledger_exactly_once(tables: dict[str, pd.DataFrame]) -> None:
    assert check_cross_table(tables).empty  # the strategy draws exports that validation accepts
    derived = derive_cohort(tables)
    left = derived.attrition[derived.attrition["stage"] == "cohort"]
    reached = {
        "patients": derived.index["patient_id"],
        "episodes": derived.episodes["episode_id"],
        "imaging": derived.imaging["exam_id"],
        "events": derived.events["event_id"],
    }
    for table, key in KEYS.items():
        out = left.loc[left["table"] == table, "record_id"]
        combined = pd.concat([reached[table].astype(str), out], ignore_index=True)
        assert not combined.duplicated().any(), table
        assert set(combined) == set(tables[table][key]), table


@pytest.mark.slow  # hypothesis cohorts through the derivation (the row-accounting property stays in the quick run)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_relations_are_consistent(tables: dict[str, pd.DataFrame]) -> None:
    derived = derive_cohort(tables)
    ep = derived.episodes
    # exactly one index episode per cohort patient, and it is the earliest hip episode
    assert ep.groupby("patient_id")["is_index"].sum().eq(1).all()
    hips = ep[ep["joint"] == "hip"].sort_values(["patient_id", "onset_date", "episode_id"])
    first = hips.drop_duplicates("patient_id")["episode_id"]
    assert set(first) == set(ep.loc[ep["is_index"], "episode_id"])
    # bilateral episodes are opposite hips within the window; prior ones start before the index
    bil = ep[ep["relation"] == "bilateral"]
    assert (bil["joint"] == "hip").all() and (bil["days_from_index"] <= 30).all()
    assert (ep.loc[ep["relation"] == "prior", "days_from_index"] <= 0).all()
    # radiographic intervals are ordered; event times are never negative
    films = ep[ep["xr_films"] > 0]
    assert (films["xr_lower_day"] <= films["xr_upper_day"]).all()
    for column in ("resolution_days", "fracture_days", "avn_days", "followup_days"):
        assert (ep[column] >= 0).all(), column
    index = derived.index
    assert set(index["recurrence_status"]) <= {0, 1, 2} and (index["migration_days"] >= 0).all()
    assert len(index) == ep["patient_id"].nunique()
