"""Rules that span tables: references, and dates checked against another table's dates.

pandera has no foreign keys, so these are plain vectorised checks: each reference is looked up
once (:func:`toh.schemas.text.positions`: the first row of a repeated key, as ``drop_duplicates``
keeps) and the parent's columns are taken at those rows.  Each returns a
:data:`FAILURE_COLUMNS` frame (one row per failing cell) in the same shape the validator builds
from pandera's failure cases; the ``row`` is the failing table's index (its source row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toh.schemas.text import positions, take
from toh.schemas.dates import days_between

__all__ = ["FAILURE_COLUMNS", "CROSS_TABLE_RULES", "check_cross_table", "birth_dates"]

FAILURE_COLUMNS: tuple[str, ...] = (
    "table", "row", "column", "rule", "message", "related_table", "related_row", "related_column",
)

#: rule name -> what it requires, used in messages and the README's rule list.
CROSS_TABLE_RULES: dict[str, str] = {
    "patient_exists": "the episode's patient_id is a patients.patient_id",
    "episode_exists": "the row's episode_id is an episodes.episode_id",
    "pregnancy_women_only": "pregnancy pregnant/postpartum and trimester only for women",
    "birth_before_onset": "the patient is born before the episode's onset",
    "age_at_onset_plausible": "age at onset is within 10-110 years",
    "death_not_before_onset": "the patient's death_date is not before the episode's onset",
    "no_onset_after_death_event": "the episode does not start after a death event of the same patient",
    "exam_in_episode_window": "exam_date lies from the episode's onset to its last_followup_date",
    "event_in_episode_window": (
        "event_date lies from the episode's onset to its last_followup_date "
        "(a death event may instead fall on the patient's death_date)"
    ),
}

_AGE_MIN, _AGE_MAX = 10.0, 110.0
_DAYS_PER_YEAR = 365.25


def birth_dates(patients: pd.DataFrame) -> pd.Series:
    """Birth date per patient: birth_date, else 1 July of birth_year (docs/definitions.md)."""
    birth = (
        patients["birth_date"]
        if "birth_date" in patients.columns
        else pd.Series(pd.NaT, index=patients.index, dtype="datetime64[ns]")
    )
    if "birth_year" in patients.columns:
        year = patients["birth_year"]
        filled = year.notna() & birth.isna()
        if filled.any():
            # Out-of-range years become NaT here; the range rule reports them.
            july = pd.to_datetime(
                year[filled].astype("int64").astype(str) + "-07-01", format="%Y-%m-%d", errors="coerce"
            )
            birth = birth.copy()
            birth[filled] = july
    return birth


def _failures(table: str, rows: pd.Index, column: str, rule: str,
              related: tuple[str, np.ndarray, np.ndarray | str] | None = None) -> pd.DataFrame:
    """Failure records of ``rule`` on ``rows``; ``related`` = (table, source row of each failing
    row there (-1: none), the column compared with there)."""
    n = len(rows)
    other_table, other_rows, other_column = related if related is not None else ("", np.full(n, -1), "")
    other_rows = np.asarray(other_rows, dtype="int64")
    related_row = pd.array(np.where(other_rows >= 0, other_rows, 0), dtype="Int64")
    related_row[other_rows < 0] = pd.NA
    return pd.DataFrame(
        {
            "table": table,
            "row": np.asarray(rows, dtype="int64"),
            "column": column,
            "rule": rule,
            "message": CROSS_TABLE_RULES[rule],
            "related_table": np.where(other_rows >= 0, other_table, ""),
            "related_row": related_row,
            "related_column": np.where(other_rows >= 0, other_column, ""),
        },
        columns=list(FAILURE_COLUMNS),
    )


def _source_rows(frame: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """Source row (index) of ``frame`` at each position of ``at``; -1 where ``at`` is -1."""
    rows = frame.index.to_numpy(dtype="int64")
    if len(rows) == 0:
        return np.full(len(at), -1, dtype="int64")
    return np.where(at >= 0, rows[np.maximum(at, 0)], -1)


def _episode_checks(patients: pd.DataFrame, episodes: pd.DataFrame, at: np.ndarray) -> list[pd.DataFrame]:
    """Rules of each episode against its patient; ``at`` is the patient's row of each episode."""
    out = []
    known = at >= 0
    out.append(_failures("episodes", episodes.index[~known], "patient_id", "patient_exists"))

    sex = take(patients["sex"], at, episodes.index)
    birth = take(birth_dates(patients), at, episodes.index)
    onset = episodes["onset_date"]
    def failing(mask: pd.Series, column: str, rule: str, other: str) -> pd.DataFrame:
        """Failures of ``rule`` beside the patient's ``other`` column (the patient's side is
        looked up for the failing rows only)."""
        hit = mask.fillna(False).to_numpy(dtype=bool)
        where = at[hit]
        if other == "birth":  # the birth_date, or the birth_year where that is all there is
            given = "birth_date" in patients.columns and len(where)
            dated = take(patients["birth_date"], where).notna().to_numpy() if given else np.zeros(len(where), bool)
            other = np.where(dated, "birth_date", "birth_year")
        return _failures("episodes", episodes.index[hit], column, rule, ("patients", _source_rows(patients, where), other))

    pregnant = pd.Series(False, index=episodes.index)
    if "pregnancy" in episodes.columns:
        pregnant |= episodes["pregnancy"].isin(["pregnant", "postpartum"])
    if "trimester" in episodes.columns:
        pregnant |= episodes["trimester"].notna()
    column = "pregnancy" if "pregnancy" in episodes.columns else "trimester"
    out.append(failing(pregnant & (sex == "M"), column, "pregnancy_women_only", "sex"))

    before = (birth >= onset).fillna(False)
    out.append(failing(before, "onset_date", "birth_before_onset", "birth"))
    age = days_between(onset, birth) / _DAYS_PER_YEAR
    implausible = ((age < _AGE_MIN) | (age > _AGE_MAX)).fillna(False) & ~before
    out.append(failing(implausible, "onset_date", "age_at_onset_plausible", "birth"))

    if "death_date" in patients.columns:
        death = take(patients["death_date"], at, episodes.index)
        out.append(failing(death < onset, "onset_date", "death_not_before_onset", "death_date"))
    return out


def _dated_child_checks(
    table: str,
    child: pd.DataFrame,
    date_column: str,
    episodes: pd.DataFrame,
    patients: pd.DataFrame,
    patient_at: np.ndarray,
) -> list[pd.DataFrame]:
    """Rules of each exam or event against its episode; ``patient_at``: each episode's patient row."""
    at = positions(child["episode_id"], episodes["episode_id"])  # the first row of a repeated id
    known = at >= 0
    out = [_failures(table, child.index[~known], "episode_id", "episode_exists")]
    onset = take(episodes["onset_date"], at, child.index)
    last = take(episodes["last_followup_date"], at, child.index)
    date = child[date_column]
    inside = (date >= onset) & (date <= last)
    rule = "exam_in_episode_window"
    if table == "events":
        rule = "event_in_episode_window"
        if "death_date" in patients.columns:
            patient = np.where(known, patient_at[np.maximum(at, 0)], -1)
            death = take(patients["death_date"], patient, child.index)
            on_death = (child["event_type"] == "death") & (date == death) & (date >= onset)
            inside = inside | on_death.fillna(False)
    # Rows with an unknown episode or a missing date are reported by their own rule.
    outside = (~inside.fillna(True) & known & date.notna()).to_numpy(dtype=bool)
    early = (date[outside] < onset[outside]).to_numpy(dtype=bool)  # else after the last follow-up
    out.append(_failures(table, child.index[outside], date_column, rule,
                         ("episodes", _source_rows(episodes, at[outside]),
                          np.where(early, "onset_date", "last_followup_date"))))
    return out


def _onset_after_death_event(events: pd.DataFrame, episodes: pd.DataFrame, patient_at: np.ndarray) -> pd.DataFrame:
    """Episodes that start after a death event recorded on another episode of their patient
    (a death event is the patient's death, as death_date is); reported on the episode's onset,
    beside the (earliest) death event's event_date."""
    deaths = events[(events["event_type"] == "death").fillna(False).to_numpy(bool)]
    at = positions(deaths["episode_id"], episodes["episode_id"])
    patient = np.where(at >= 0, patient_at[np.maximum(at, 0)], -1)
    dated = (patient >= 0) & deaths["event_date"].notna().to_numpy()
    first = (pd.DataFrame({"patient": patient[dated], "date": deaths["event_date"].to_numpy()[dated],
                           "row": deaths.index.to_numpy(dtype="int64")[dated]})
             .sort_values(["patient", "date", "row"], kind="stable").drop_duplicates("patient").set_index("patient"))
    death = pd.Series(first["date"].reindex(patient_at).to_numpy(), index=episodes.index)
    late = (episodes["onset_date"] > death).fillna(False).to_numpy(bool)
    event_row = first["row"].reindex(patient_at).fillna(-1).to_numpy(dtype="int64")
    return _failures("episodes", episodes.index[late], "onset_date", "no_onset_after_death_event",
                     ("events", event_row[late], "event_date"))


def check_cross_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Check every cross-table rule of the export contract.

    Parameters
    ----------
    tables
        Typed tables ``patients``, ``episodes``, ``imaging`` and ``events``, each indexed by
        source row, with the columns their schema needs.  A missing key skips the rules that
        need that table (without episodes, none can be checked; without patients, exams and
        events are still checked against their episodes).

    Returns
    -------
    pandas.DataFrame
        One row per failing cell with columns :data:`FAILURE_COLUMNS`; empty when all hold.
    """
    parts: list[pd.DataFrame] = [pd.DataFrame(columns=list(FAILURE_COLUMNS))]
    patients, episodes = tables.get("patients"), tables.get("episodes")
    if episodes is None:
        return parts[0]
    if patients is None:
        patients, patient_at = pd.DataFrame(index=pd.Index([], dtype="int64")), np.full(len(episodes), -1)
    else:
        patient_at = positions(episodes["patient_id"], patients["patient_id"])  # first row of a repeated id
        parts += _episode_checks(patients, episodes, patient_at)
    if tables.get("imaging") is not None:
        parts += _dated_child_checks("imaging", tables["imaging"], "exam_date", episodes, patients, patient_at)
    if tables.get("events") is not None:
        parts += _dated_child_checks("events", tables["events"], "event_date", episodes, patients, patient_at)
        parts.append(_onset_after_death_event(tables["events"], episodes, patient_at))
    parts = [p for p in parts if len(p)] or parts[:1]
    return pd.concat(parts, ignore_index=True)
