"""Derivation on tiny hand-built cohorts; every expected value is worked out by hand in comments."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from builders import BASE_EXPORT, VALIDATION_DATE, set_cell, write_export
from toh.cohort.definitions import Definitions
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export


def _derive(tmp_path: Path, tables: dict[str, str], definitions: Definitions | None = None):
    report = load_valid_export(write_export(tmp_path / "x", tables), validation_date=VALIDATION_DATE)
    derived = derive_cohort(report.tables, definitions or Definitions())
    return report, derived


def _by_id(frame: pd.DataFrame, key: str = "episode_id") -> pd.DataFrame:
    return frame.set_index(key)


def test_relations_of_the_base_cohort(tmp_path: Path) -> None:
    _, derived = _derive(tmp_path, BASE_EXPORT)
    ep = _by_id(derived.episodes)
    # P1: E1 L hip 2020-01-01 is the index; E2 R hip 20 days later is within the 30-day window;
    # E3 L hip 2021-01-01 starts after E1 resolved (2020-07-19); E4 knee later: migration.
    # P2: E5 knee 2019-05-01 precedes the index hip E6.  P3 has no hip episode: not in the cohort.
    assert ep["relation"].astype(str).to_dict() == {
        "E1": "index", "E2": "bilateral", "E3": "recurrence", "E4": "migration",
        "E5": "prior", "E6": "index",
    }
    assert ep.loc["E3", "days_from_index"] == 366  # 2020 is a leap year
    assert ep.loc["E5", "days_from_index"] == -305


def test_times_and_intervals(tmp_path: Path) -> None:
    _, derived = _derive(tmp_path, BASE_EXPORT)
    ep = _by_id(derived.episodes)
    # E1 films: X1 day 14 normal, X2 day 35 indeterminate (osteopenia false, cortex missing),
    # X3 day 49 abnormal -> change in (14, 49].
    assert (ep.loc["E1", "xr_lower_day"], ep.loc["E1", "xr_upper_day"]) == (14, 49)
    assert ep.loc["E1", "xr_films"] == 2
    # E6: one normal film on day 14, none abnormal -> right-censored (14, inf).
    assert ep.loc["E6", "xr_lower_day"] == 14 and math.isinf(ep.loc["E6", "xr_upper_day"])
    # E1 resolved 2020-07-19: 200 days after 2020-01-01.
    assert ep.loc["E1", "resolved"] and ep.loc["E1", "resolution_days"] == 200
    # E6 unresolved; P2 died 2021-06-01, before last follow-up 2021-12-01: censored at death,
    # 457 days after 2020-03-01 (2020-03-01 -> 2021-03-01 is 365 days, + 92 to 2021-06-01).
    assert not ep.loc["E6", "resolved"] and ep.loc["E6", "resolution_days"] == 457
    # First fracture of E6: V1 on 2020-04-01, 31 days after onset (V2 is later).
    assert ep.loc["E6", "fracture_event"] and ep.loc["E6", "fracture_days"] == 31
    assert not ep.loc["E6", "avn_event"] and ep.loc["E6", "avn_days"] == 457
    # Age: P1 born 1970-01-01, onset 2020-01-01 = 18262 days / 365.25.
    assert ep.loc["E1", "age_at_onset"] == pytest.approx(18262 / 365.25, abs=1e-12)
    # P2 has birth_year 1990 only: born 1990-07-01; onset 2020-03-01 is 10836 days later.
    assert ep.loc["E6", "age_at_onset"] == pytest.approx(10836 / 365.25, abs=1e-12)
    assert bool(ep.loc["E6", "pregnancy_associated"]) and not bool(ep.loc["E1", "pregnancy_associated"])


def test_index_table_competing_risks(tmp_path: Path) -> None:
    _, derived = _derive(tmp_path, BASE_EXPORT)
    index = _by_id(derived.index, "patient_id")
    assert list(index.index) == ["P1", "P2"]
    # P1: recurrence E3 at day 366, migration E4 (knee) at day 425 (2020-01-01 -> 2021-03-01).
    assert (index.loc["P1", "recurrence_status"], index.loc["P1", "recurrence_days"]) == (1, 366)
    assert (index.loc["P1", "migration_status"], index.loc["P1", "migration_days"]) == (1, 425)
    assert index.loc["P1", "migration_site"] == "knee"
    assert bool(index.loc["P1", "bilateral"]) and index.loc["P1", "n_episodes"] == 4
    # P1 follow-up ends at the latest last_followup_date, 2022-01-01: 731 days.
    assert index.loc["P1", "patient_followup_days"] == 731 and not index.loc["P1", "died"]
    # P2 died 2021-06-01 (day 457) with neither event: status 2 (death first) for both.
    assert (index.loc["P2", "recurrence_status"], index.loc["P2", "recurrence_days"]) == (2, 457)
    assert (index.loc["P2", "migration_status"], index.loc["P2", "migration_days"]) == (2, 457)
    assert pd.isna(index.loc["P2", "migration_site"])


def test_attrition_ledger_accounts_for_every_row(tmp_path: Path) -> None:
    report, derived = _derive(tmp_path, BASE_EXPORT)
    ledger = derived.attrition
    got = set(zip(ledger["table"], ledger["record_id"], ledger["reason"]))
    assert got == {
        ("patients", "P3", "no_index_episode"),
        ("episodes", "E7", "patient_not_in_cohort"),
        ("imaging", "X6", "episode_not_in_cohort"),
        ("imaging", "X2", "film_indeterminate"),
        ("events", "V2", "event_not_first"),
        ("events", "V3", "event_type_not_analysed"),
    }
    summary = derived.attrition_summary(report.rows)
    counts = dict(zip(zip(summary["table"], summary["stage"], summary["reason"]), summary["n"]))
    assert counts[("patients", "read", "")] == 3
    assert counts[("patients", "in_cohort", "")] == 2
    assert counts[("episodes", "in_cohort", "")] == 6
    assert counts[("imaging", "in_cohort", "")] == 5
    assert counts[("imaging", "radiographic", "film_indeterminate")] == 1


EDGE = {
    "patients": "patient_id,sex,birth_date,death_date\nA,M,1970-01-01,\nB,M,1970-01-01,2024-01-01\n",
    "episodes": (
        "episode_id,patient_id,joint,side,onset_date,resolution_date,last_followup_date\n"
        # A: two hips on the same day: the smaller id (A1) is the index; A2 (R) is bilateral.
        "A2,A,hip,R,2020-01-01,,2021-01-01\n"
        "A1,A,hip,L,2020-01-01,2020-03-01,2021-01-01\n"
        # A3: a knee on the index day is concurrent; A4 left hip before A1 resolved: overlap.
        "A3,A,knee,L,2020-01-01,,2021-01-01\n"
        "A4,A,hip,L,2020-02-01,,2021-01-01\n"
        # A5: opposite hip 31 days after the index: beyond the window -> migration.
        # But A2 (R hip) is an earlier R hip that never resolved -> A5 is an overlap of A2.
        "A5,A,hip,R,2020-02-01,,2021-01-01\n"
        # B: death (2024-01-01) after the last follow-up (2022-01-01): censored, not died.
        "B1,B,hip,R,2021-01-01,,2022-01-01\n"
        "B2,B,hip,L,2021-02-01,,2022-01-01\n"
    ),
    "imaging": (
        "exam_id,episode_id,exam_date,modality,osteopenia,subchondral_cortical_loss\n"
        # B1: a normal and an abnormal film on the same day 10: lower bound is the earlier
        # normal film (day 3), not the same-day one; a normal film after it is ignored.
        "F1,B1,2021-01-04,XR,false,false\n"
        "F2,B1,2021-01-11,XR,false,false\n"
        "F3,B1,2021-01-11,XR,false,true\n"
        "F4,B1,2021-02-01,XR,false,false\n"
        # A1: only an abnormal film on day 0 -> interval (0, 0].
        "F5,A1,2020-01-01,XR,true,\n"
    ),
}


def test_edge_cases(tmp_path: Path) -> None:
    _, derived = _derive(tmp_path, EDGE)
    ep = _by_id(derived.episodes)
    assert ep["relation"].astype(str).to_dict() == {
        "A1": "index", "A2": "bilateral", "A3": "concurrent", "A4": "overlap", "A5": "overlap",
        "B1": "index", "B2": "migration",
    }
    assert (ep.loc["B1", "xr_lower_day"], ep.loc["B1", "xr_upper_day"], ep.loc["B1", "xr_films"]) == (3, 10, 4)
    assert (ep.loc["A1", "xr_lower_day"], ep.loc["A1", "xr_upper_day"]) == (0, 0)
    index = _by_id(derived.index, "patient_id")
    # B2 is 31 days after B1: migration at day 31; B died after last contact: censored there.
    assert (index.loc["B", "migration_status"], index.loc["B", "migration_days"]) == (1, 31)
    assert index.loc["B", "migration_site"] == "contralateral_hip"
    assert not index.loc["B", "died"] and index.loc["B", "recurrence_status"] == 0
    assert index.loc["B", "recurrence_days"] == 365
    # A: no recurrence (A4 overlaps), no migration; followed to 2021-01-01 = day 366.
    assert (index.loc["A", "recurrence_status"], index.loc["A", "migration_status"]) == (0, 0)
    assert index.loc["A", "recurrence_days"] == 366


def test_bilateral_window_is_an_option(tmp_path: Path) -> None:
    _, derived = _derive(tmp_path, BASE_EXPORT, Definitions(bilateral_window_days=10))
    ep = _by_id(derived.episodes)
    assert ep.loc["E2", "relation"] == "migration"  # 20 days > 10


def test_derivation_does_not_mutate_its_input(tmp_path: Path) -> None:
    report = load_valid_export(write_export(tmp_path / "x", BASE_EXPORT), validation_date=VALIDATION_DATE)
    before = {k: v.copy() for k, v in report.tables.items()}
    derive_cohort(report.tables)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(report.tables[name], frame)


def test_unknown_pregnancy_of_a_woman_is_missing_not_false(tmp_path: Path) -> None:
    tables = set_cell(BASE_EXPORT, "episodes", 5, "pregnancy", "")
    tables = set_cell(tables, "episodes", 5, "trimester", "")
    _, derived = _derive(tmp_path, tables)
    assert pd.isna(_by_id(derived.episodes).loc["E6", "pregnancy_associated"])
