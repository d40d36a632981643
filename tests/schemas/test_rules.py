"""Each validation rule rejects a violating row with the right file, row, column, value and rule.

The base export (tests/conftest.py) is valid; each case breaks one cell and the expected failure
is worked out by hand: CSV row = data record + 2 (line 1 is the header).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toh.cohort.validate import validate_export
from builders import BASE_EXPORT, VALIDATION_DATE, set_cell, write_export


def _validate(tmp_path: Path, tables: dict[str, str]):
    return validate_export(write_export(tmp_path / "x", tables), validation_date=VALIDATION_DATE)


def test_base_export_is_valid(tmp_path: Path) -> None:
    report = _validate(tmp_path, BASE_EXPORT)
    assert report.is_valid, report.failures.to_string()
    assert report.rows == {"patients": 3, "episodes": 7, "imaging": 6, "events": 4}


# (table, record, column, bad value, expected rule, column the failure is reported on)
CASES = [
    ("patients", 0, "sex", "X", "code_list", "sex"),
    ("patients", 1, "patient_id", "P1", "unique", "patient_id"),
    ("patients", 0, "birth_date", "1970-02-30", "date_format", "birth_date"),
    ("patients", 0, "birth_date", "", "birth_known", "birth_date"),
    ("patients", 1, "birth_year", "1989.5", "integer", "birth_year"),
    ("patients", 1, "birth_year", "1700", "range", "birth_year"),
    ("patients", 0, "birth_year", "1971", "birth_year_matches_birth_date", "birth_year"),
    ("patients", 2, "death_date", "2030-01-01", "not_in_future", "death_date"),
    ("patients", 2, "death_date", "1950-01-01", "death_after_birth", "death_date"),
    ("episodes", 0, "joint", "shoulder", "code_list", "joint"),
    ("episodes", 0, "side", "", "hip_side_required", "side"),
    ("episodes", 0, "onset_date", "", "required_value", "onset_date"),
    ("episodes", 0, "diagnosis_date", "2019-12-31", "diagnosis_not_before_onset", "diagnosis_date"),
    ("episodes", 0, "resolution_date", "2019-12-31", "resolution_not_before_onset", "resolution_date"),
    ("episodes", 0, "last_followup_date", "2019-12-31", "last_followup_not_before_onset", "last_followup_date"),
    ("episodes", 0, "last_followup_date", "2031-01-01", "not_in_future", "last_followup_date"),
    ("episodes", 5, "trimester", "4", "code_list", "trimester"),
    ("episodes", 4, "trimester", "2", "trimester_only_when_pregnant", "trimester"),
    ("episodes", 0, "pregnancy", "pregnant", "pregnancy_women_only", "pregnancy"),
    ("episodes", 0, "patient_id", "P9", "patient_exists", "patient_id"),
    ("episodes", 0, "onset_date", "1969-06-01", "birth_before_onset", "onset_date"),
    ("episodes", 0, "onset_date", "1975-01-01", "age_at_onset_plausible", "onset_date"),
    ("episodes", 1, "episode_id", "E1", "unique", "episode_id"),
    ("imaging", 0, "modality", "PET", "code_list", "modality"),
    ("imaging", 0, "osteopenia", "maybe", "boolean", "osteopenia"),
    ("imaging", 3, "edema_extent", "pelvis", "code_list", "edema_extent"),
    ("imaging", 0, "episode_id", "E99", "episode_exists", "episode_id"),
    ("imaging", 0, "exam_date", "2019-12-31", "exam_in_episode_window", "exam_date"),
    ("imaging", 0, "exam_date", "2022-01-02", "exam_in_episode_window", "exam_date"),
    ("events", 0, "event_type", "fall", "code_list", "event_type"),
    ("events", 0, "event_date", "2022-01-02", "event_in_episode_window", "event_date"),
    ("events", 0, "episode_id", "E99", "episode_exists", "episode_id"),
    ("events", 0, "event_id", "V2", "unique", "event_id"),
]


@pytest.mark.parametrize(("table", "record", "column", "value", "rule", "reported"), CASES)
def test_rule_rejects_violating_row(tmp_path: Path, table, record, column, value, rule, reported) -> None:
    report = _validate(tmp_path, set_cell(BASE_EXPORT, table, record, column, value))
    assert not report.is_valid
    hits = report.errors[(report.errors["rule"] == rule) & (report.errors["table"] == table)]
    assert len(hits) >= 1, report.errors.to_string()
    hit = hits.iloc[0]
    assert hit["file"] == f"{table}.csv"
    assert hit["column"] == reported
    if reported == column:
        assert hit["value"] == (value or None)
    assert record + 2 in set(hits["row"])


def test_death_before_onset_is_reported_on_the_episode(tmp_path: Path) -> None:
    # P3 (patients record 2) has one episode, E7, on episodes.csv line 8 (record 6), onset 2019-05-01.
    report = _validate(tmp_path, set_cell(BASE_EXPORT, "patients", 2, "death_date", "2019-01-01"))
    hits = report.errors[report.errors["rule"] == "death_not_before_onset"]
    assert list(zip(hits["table"], hits["row"], hits["column"], hits["value"])) == [
        ("episodes", 8, "onset_date", "2019-05-01")
    ]


def test_an_episode_after_a_death_event_is_reported_on_the_episode(tmp_path: Path) -> None:
    # V4 (events record 3), P2's death, moved to P2's knee episode E5 on 2019-06-01: P2's hip episode
    # E6 (episodes record 5, episodes.csv line 7) starts after it, on 2020-03-01. Found by the shared
    # hypothesis strategy: derivation gave E6 a negative resolution time (-10 days) before this rule.
    tables = set_cell(BASE_EXPORT, "events", 3, "episode_id", "E5")
    tables = set_cell(tables, "events", 3, "event_date", "2019-06-01")
    report = _validate(tmp_path, tables)
    hits = report.errors[report.errors["rule"] == "no_onset_after_death_event"]
    assert list(zip(hits["file"], hits["row"], hits["column"], hits["value"])) == [
        ("episodes.csv", 7, "onset_date", "2020-03-01")
    ]
    assert list(report.errors["rule"]) == ["no_onset_after_death_event"]  # nothing else is wrong


def test_death_event_may_fall_on_death_date_after_followup(tmp_path: Path) -> None:
    tables = set_cell(BASE_EXPORT, "episodes", 5, "last_followup_date", "2021-05-01")
    tables = set_cell(tables, "episodes", 4, "last_followup_date", "2021-05-01")
    report = _validate(tmp_path, tables)
    assert report.is_valid, report.errors.to_string()


def test_every_failure_is_reported_at_once(tmp_path: Path) -> None:
    tables = set_cell(BASE_EXPORT, "patients", 0, "sex", "X")
    tables = set_cell(tables, "episodes", 2, "joint", "elbow")
    tables = set_cell(tables, "imaging", 4, "exam_date", "15/03/2020")
    report = _validate(tmp_path, tables)
    found = set(zip(report.errors["table"], report.errors["row"], report.errors["rule"]))
    assert {("patients", 2, "code_list"), ("episodes", 4, "code_list"), ("imaging", 6, "date_format")} <= found


def test_a_bad_date_is_reported_once_with_its_text(tmp_path: Path) -> None:
    report = _validate(tmp_path, set_cell(BASE_EXPORT, "episodes", 0, "onset_date", "2020-01-32"))
    onset = report.errors[(report.errors["row"] == 2) & (report.errors["column"] == "onset_date")]
    assert list(onset["rule"]) == ["date_format"]
    assert list(onset["value"]) == ["2020-01-32"]


def test_extra_column_is_a_warning_and_kept(tmp_path: Path) -> None:
    tables = dict(BASE_EXPORT)
    tables["patients"] = tables["patients"].replace("site\n", "site,bmi\n", 1).replace(",A\n", ",A,22\n")
    tables["patients"] = tables["patients"].replace(",B\n", ",B,\n")
    report = _validate(tmp_path, tables)
    assert report.is_valid
    assert list(report.warnings["rule"]) == ["extra_column"]
    assert "bmi" in report.tables["patients"].columns


def test_missing_required_column_and_table(tmp_path: Path) -> None:
    tables = {k: v for k, v in BASE_EXPORT.items() if k != "events"}
    tables["patients"] = "\n".join(line.rsplit(",", 5)[0] + "," + ",".join(line.split(",")[2:])
                                   for line in BASE_EXPORT["patients"].splitlines()) + "\n"
    report = _validate(tmp_path, tables)
    rules = set(zip(report.failures["severity"], report.failures["table"], report.failures["rule"],
                    report.failures["column"]))
    assert ("error", "patients", "column_missing", "sex") in rules
    assert ("warning", "events", "table_present", "") in rules


def test_required_tables_missing_is_an_error(tmp_path: Path) -> None:
    report = _validate(tmp_path, {"patients": BASE_EXPORT["patients"]})
    assert ("episodes", "table_present") in set(zip(report.errors["table"], report.errors["rule"]))


# Each failure names its record by the registry's ids and, for a rule comparing two cells, the other
# cell: (table, record, column, value) to break -> (rule, ids of the failing row, related side).
RELATED_CASES = [
    # P1 born after E1's onset: the episode's onset_date beside the patient's birth_date (line 2)
    (("patients", 0, "birth_date", "2020-06-01"), "birth_before_onset",
     ("episodes.csv", 2, "onset_date", "2020-01-01"), ("P1", "E1", "", ""), ("patients.csv", 2, "birth_date", "2020-06-01")),
    # P2 has only a birth_year: the year is the other side
    (("patients", 1, "birth_year", "2015"), "age_at_onset_plausible",
     ("episodes.csv", 6, "onset_date", "2019-05-01"), ("P2", "E5", "", ""), ("patients.csv", 3, "birth_year", "2015")),
    (("episodes", 0, "pregnancy", "pregnant"), "pregnancy_women_only",
     ("episodes.csv", 2, "pregnancy", "pregnant"), ("P1", "E1", "", ""), ("patients.csv", 2, "sex", "M")),
    (("patients", 2, "death_date", "2019-01-01"), "death_not_before_onset",
     ("episodes.csv", 8, "onset_date", "2019-05-01"), ("P3", "E7", "", ""), ("patients.csv", 4, "death_date", "2019-01-01")),
    (("imaging", 0, "exam_date", "2019-12-31"), "exam_in_episode_window",
     ("imaging.csv", 2, "exam_date", "2019-12-31"), ("P1", "E1", "X1", ""), ("episodes.csv", 2, "onset_date", "2020-01-01")),
    (("events", 0, "event_date", "2022-01-02"), "event_in_episode_window",
     ("events.csv", 2, "event_date", "2022-01-02"), ("P2", "E6", "", "V1"),
     ("episodes.csv", 7, "last_followup_date", "2021-12-01")),
    (("episodes", 0, "diagnosis_date", "2019-12-31"), "diagnosis_not_before_onset",
     ("episodes.csv", 2, "diagnosis_date", "2019-12-31"), ("P1", "E1", "", ""), ("episodes.csv", 2, "onset_date", "2020-01-01")),
    (("episodes", 0, "patient_id", "P9"), "patient_exists",
     ("episodes.csv", 2, "patient_id", "P9"), ("P9", "E1", "", ""), ("", None, "", None)),
]


@pytest.mark.parametrize(("change", "rule", "cell", "ids", "related"), RELATED_CASES)
def test_failure_names_the_record_and_the_other_side(tmp_path: Path, change, rule, cell, ids, related) -> None:
    report = _validate(tmp_path, set_cell(BASE_EXPORT, *change))
    hits = report.errors[report.errors["rule"] == rule]
    assert len(hits) >= 1, report.errors.to_string()
    hit = hits.iloc[0]
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == cell
    assert tuple(hit[c] or "" for c in ("patient_id", "episode_id", "exam_id", "event_id")) == ids
    got = (hit["related_file"], None if hit["related_row"] is pd.NA else hit["related_row"], hit["related_column"],
           hit["related_value"])
    assert got == related


def test_an_episode_after_a_death_event_names_the_death_event(tmp_path: Path) -> None:
    tables = set_cell(BASE_EXPORT, "events", 3, "episode_id", "E5")
    tables = set_cell(tables, "events", 3, "event_date", "2019-06-01")
    hit = _validate(tmp_path, tables).errors.iloc[0]
    assert (hit["rule"], hit["episode_id"], hit["related_file"], hit["related_row"], hit["related_column"],
            hit["related_value"]) == ("no_onset_after_death_event", "E6", "events.csv", 5, "event_date", "2019-06-01")


def test_a_missing_table_is_one_failure_naming_what_is_there(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", BASE_EXPORT)
    (folder / "patients.csv").rename(folder / "patient.csv")
    report = validate_export(folder, validation_date=VALIDATION_DATE)
    assert list(zip(report.errors["table"], report.errors["rule"])) == [("patients", "table_present")]
    message = report.errors["message"].iloc[0]
    assert "no patients.csv or patients.parquet in the export folder" in message
    assert "files found: episodes.csv, events.csv, imaging.csv, patient.csv" in message
    assert "did you mean 'patient.csv' for 'patients.csv'?" in message
    assert report.table_problems() == [f"patients: {message}"]


def test_without_the_episodes_table_no_exam_or_event_fails_its_reference(tmp_path: Path) -> None:
    report = _validate(tmp_path, {k: v for k, v in BASE_EXPORT.items() if k != "episodes"})
    assert list(report.errors["rule"]) == ["table_present"]


def test_without_a_patient_id_column_no_episode_fails_its_reference(tmp_path: Path) -> None:
    tables = dict(BASE_EXPORT, patients=BASE_EXPORT["patients"].replace("patient_id,", "pid,", 1))
    report = _validate(tmp_path, tables)
    assert set(report.errors["rule"]) == {"column_missing"}


def test_without_the_patients_table_exams_are_still_checked_against_episodes(tmp_path: Path) -> None:
    tables = {k: v for k, v in BASE_EXPORT.items() if k != "patients"}
    report = _validate(tmp_path, set_cell(tables, "imaging", 0, "episode_id", "E99"))
    assert list(zip(report.errors["table"], report.errors["rule"])) == [
        ("patients", "table_present"), ("imaging", "episode_exists")]
