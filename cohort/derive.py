"""Derive the analysis tables from a validated export, per the definitions of docs/definitions.md.

Everything is vectorised: each reference is looked up once by its id (in Arrow), then sorts,
group-wise shifts and aggregates run on row positions and integer group codes.  Nothing
mutates its input; every input row either reaches a derived table or is listed, with its
reason, in the attrition ledger (:mod:`toh.cohort.attrition`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.cohort import attrition
from toh.cohort.columns import ExtraColumn, check_columns
from toh.cohort._relations import RELATIONS, classify_relations, order_episodes, runs
from toh.cohort.definitions import DEFAULT_DEFINITIONS, Definitions
from toh.cohort.parse import empty_table, is_absent
from toh.schemas.text import positions, take
from toh.schemas.crosstable import birth_dates
from toh.schemas.dates import day_numbers, days_between

__all__ = ["DerivedCohort", "derive_cohort", "FILM_STATUS"]

#: Status of a plain film for radiographic change.
FILM_STATUS = ("abnormal", "normal", "indeterminate")


@dataclass(frozen=True)
class DerivedCohort:
    """The analysis tables of one export.

    Attributes
    ----------
    episodes
        One row per episode of a cohort patient (see the README for every column).
    index
        One row per cohort patient: the index episode and the patient-level estimand inputs
        (recurrence, migration, bilateral presentation, follow-up, death).
    imaging
        Exams of cohort episodes with their day from onset; plain films carry ``film_status``.
    events
        Events of cohort episodes with their day from onset.
    attrition
        The ledger: one row per input row that does not reach an analysis, with its reason.
    definitions
        The definitions used.
    absent
        Tables the export does not have (``imaging``, ``events``): estimates that need one are
        "not estimable", never zero.  An empty table (header, no rows) is not absent.
    columns
        The export's extra columns declared for the analyses (:mod:`toh.cohort.columns`), each a
        column of ``episodes`` and ``index`` (a patients' column has the patient's value on
        every episode).
    """

    episodes: pd.DataFrame
    index: pd.DataFrame
    imaging: pd.DataFrame
    events: pd.DataFrame
    attrition: pd.DataFrame
    definitions: Definitions
    absent: frozenset[str] = frozenset()
    columns: tuple[ExtraColumn, ...] = ()

    def __repr__(self) -> str:
        gone = f", absent tables: {', '.join(sorted(self.absent))}" if self.absent else ""
        return (f"<DerivedCohort: {len(self.index):,} patients, {len(self.episodes):,} episodes, "
                f"{len(self.imaging):,} exams, {len(self.events):,} events{gone}>")

    def attrition_summary(self, rows_in: dict[str, int]) -> pd.DataFrame:
        """Rows in, excluded by stage and reason, and reaching the analyses, per table."""
        return attrition.summarise(self.attrition, rows_in, self.absent)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return days_between(later, earlier)


def _day_numbers(values: pd.Series | np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as floats, NaN where missing."""
    return day_numbers(pd.Series(values)).to_numpy()


def _nat(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")


def _dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A date column as datetime64[ns] values (all missing when the table has no such column)."""
    if column not in frame.columns:
        return _nat(len(frame))
    return frame[column].to_numpy(dtype="datetime64[ns]")


def _earlier(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise earlier of two dates, skipping missing ones (``min(axis=1)``)."""
    return np.where(np.isnat(a), b, np.where(np.isnat(b), a, np.minimum(a, b)))


def _by_group(values: np.ndarray, groups: np.ndarray, n: int, how: str) -> np.ndarray:
    """``how`` ("min" or "max") of ``values`` per group code 0..n-1 (missing where a group has none)."""
    out = _nat(n) if values.dtype.kind == "M" else np.full(n, np.nan)
    if len(values):
        found = getattr(pd.Series(values).groupby(groups), how)()
        out[found.index.to_numpy()] = found.to_numpy()
    return out


def _at(values: pd.Series, at: np.ndarray) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """Values of a column at row positions (missing where ``at`` is -1), keeping the dtype."""
    taken = take(values, at)
    return taken.array if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) else taken.to_numpy()


def _death_dates(patients: pd.DataFrame, events: pd.DataFrame, event_at: np.ndarray,
                 patient_at: np.ndarray) -> np.ndarray:
    """Death per patient row: death_date, else the earliest death event of their episodes."""
    death = _dates(patients, "death_date").copy()
    deaths = np.flatnonzero((events["event_type"] == "death").to_numpy(dtype=bool) & (event_at >= 0))
    patient = patient_at[event_at[deaths]]
    deaths, patient = deaths[patient >= 0], patient[patient >= 0]
    if len(deaths):
        first = _by_group(events["event_date"].to_numpy(dtype="datetime64[ns]")[deaths], patient,
                          len(patients), "min")
        death = np.where(np.isnat(death), first, death)
    return death


def _films(imaging: dict[str, object], n: int, definitions: Definitions) -> pd.Categorical:
    """Status of each plain film: abnormal, normal or indeterminate (NA for other modalities)."""
    findings = [pd.Series(imaging[f]) if f in imaging else pd.Series(pd.NA, index=range(n), dtype="boolean")
                for f in definitions.xr_abnormal_findings]
    any_true = np.logical_or.reduce([f.fillna(False).to_numpy(bool) for f in findings])
    all_false = np.logical_and.reduce([(f == False).fillna(False).to_numpy(bool) for f in findings])  # noqa: E712
    codes = np.select([any_true, all_false], [0, 1], default=2)
    codes = np.where((pd.Series(imaging["modality"]) == "XR").to_numpy(dtype=bool), codes, -1)
    return pd.Categorical.from_codes(codes, categories=list(FILM_STATUS))


def _radiographic_intervals(status: pd.Categorical, day: np.ndarray, episode: np.ndarray, n: int) -> dict[str, object]:
    """(lower, upper] day of radiographic change per episode row 0..n-1 from its determinate films."""
    codes = np.asarray(status.codes)
    abnormal, normal = codes == 0, codes == 1
    first_abnormal = _by_group(day[abnormal], episode[abnormal], n, "min")
    before = normal & ~(day >= first_abnormal[episode])  # a NaN bound compares False
    last_normal = _by_group(day[before], episode[before], n, "max")
    films = np.bincount(episode[abnormal | normal], minlength=n).astype("int64")
    has = films > 0
    upper = np.where(has, np.where(np.isnan(first_abnormal), np.inf, first_abnormal), np.nan)
    lower = np.where(has, np.where(np.isnan(last_normal), 0.0, last_normal), np.nan)
    changed = pd.arrays.BooleanArray(np.isfinite(upper), ~has)
    return {"xr_films": films, "xr_lower_day": lower, "xr_upper_day": upper, "xr_changed": changed}


def _competing(first_onset: np.ndarray, end: np.ndarray, died: np.ndarray, onset_days: np.ndarray,
               name: str) -> dict[str, np.ndarray]:
    """Status (0 censored, 1 event, 2 death) and days from index onset, for a later episode."""
    event = first_onset <= end  # NaT compares False
    status = np.where(event, 1, np.where(died, 2, 0))
    time = np.where(event, first_onset, end)
    return {f"{name}_status": status.astype("int64"), f"{name}_days": _day_numbers(time) - onset_days}


def _dates_of(columns: dict[str, object], name: str, n: int) -> np.ndarray:
    """A date column of a table held as columns (all missing when there is no such column)."""
    return np.asarray(columns[name], dtype="datetime64[ns]") if name in columns else _nat(n)


def _pick(values: object, rows: np.ndarray) -> object:
    """Rows of one column held as a numpy or extension array."""
    return values.take(rows) if isinstance(values, pd.api.extensions.ExtensionArray) else values[rows]


def _rows(frame: pd.DataFrame, at: np.ndarray) -> dict[str, object]:
    """Rows ``at`` of a typed table as columns: ``source_row`` (its index), then its own columns."""
    columns: dict[str, object] = {"source_row": frame.index.to_numpy(dtype="int64")[at]}
    for name in frame.columns:
        columns[name] = _at(frame[name], at)
    return columns


def derive_cohort(tables: dict[str, pd.DataFrame], definitions: Definitions = DEFAULT_DEFINITIONS,
                  columns: tuple[ExtraColumn, ...] = ()) -> DerivedCohort:
    """Derive the episode, index, imaging and event tables and the attrition ledger.

    Every reference (an episode's patient, an exam's or event's episode) is looked up once by
    its id; everything after that works on row positions and integer group codes.

    Parameters
    ----------
    tables
        Validated typed tables ``patients``, ``episodes``, ``imaging``, ``events`` (as in
        :attr:`toh.cohort.validate.ValidationReport.tables`), indexed by source row.  An
        optional table that is missing from the mapping, ``None`` or marked absent
        (:func:`toh.cohort.parse.is_absent`) is recorded in ``DerivedCohort.absent``.
    definitions
        Estimand definitions (default: those of docs/definitions.md).
    columns
        Extra columns declared for the analyses, typed at validation
        (:func:`toh.cohort.validate.validate_export` with the same ``columns``); each must be a
        column of its table.

    Returns
    -------
    DerivedCohort
    """
    columns = check_columns(columns)
    for column in columns:
        if column.name not in tables[column.table].columns:
            raise ValueError(f"the declared column {column.name!r} is not a column of {column.table}: validate "
                             "the export with the same declarations first")
    absent = frozenset(t for t in ("imaging", "events") if is_absent(tables.get(t)))
    patients, episodes = tables["patients"], tables["episodes"]
    imaging, events = (empty_table(t, absent=True) if t in absent else tables[t] for t in ("imaging", "events"))
    patient_at = positions(episodes["patient_id"], patients["patient_id"])
    exam_at = positions(imaging["episode_id"], episodes["episode_id"])
    event_at = positions(events["episode_id"], episodes["episode_id"])
    death = _death_dates(patients, events, event_at, patient_at)
    birth = birth_dates(patients).to_numpy(dtype="datetime64[ns]")

    order, patient, number = order_episodes(episodes)
    n_groups = int(patient.max(initial=0)) + 1
    hip = (episodes["joint"] == definitions.index_joint).to_numpy(dtype=bool)[order]
    candidates = np.flatnonzero(hip)
    first, _ = runs(patient[candidates])
    index_pos = np.full(n_groups, -1, dtype=np.int64)  # sorted position of each patient's index episode
    index_pos[patient[candidates[first]]] = candidates[first]
    in_cohort = index_pos[patient] >= 0
    kept = order[in_cohort]  # episode rows of the cohort, in derived order
    member = np.zeros(len(episodes), dtype=bool)
    member[kept] = True
    exam_in = (exam_at >= 0) & member[np.maximum(exam_at, 0)]
    event_in = (event_at >= 0) & member[np.maximum(event_at, 0)]
    patient_in = np.zeros(len(patients), dtype=bool)
    patient_in[patient_at[kept][patient_at[kept] >= 0]] = True
    ledger = [attrition.without_index(tables, {
        "patients": ~patient_in, "episodes": ~member,
        "imaging": (exam_at >= 0) & ~exam_in, "events": (event_at >= 0) & ~event_in})]

    group = patient[in_cohort]
    index_row = order[index_pos[group]]  # episode row of the index episode of each derived row
    at_patient = patient_at[kept]
    n = len(kept)
    # The derived tables are built as columns and made frames once (each frame copies its numbers).
    ep = _rows(episodes, kept)
    ep["episode_number"] = number[in_cohort].astype("int64")
    ep["sex"] = _at(patients["sex"], at_patient)
    ep["death_date"] = np.where(at_patient >= 0, death[np.maximum(at_patient, 0)], np.datetime64("NaT"))
    if "site" in patients:
        ep["site"] = _at(patients["site"], at_patient)
    for column in columns:
        if column.table == "patients":
            ep[column.name] = _at(patients[column.name], at_patient)
    ep["index_episode_id"] = _at(episodes["episode_id"], index_row)
    ep["index_onset"] = _dates(episodes, "onset_date")[index_row]
    ep["index_side"] = _at(episodes["side"], index_row)
    ep["index_number"] = number[index_pos[group]].astype("int64")
    needed = ("joint", "side", "onset_date", "resolution_date", "episode_number", "index_onset", "index_side",
              "index_number")
    relation = classify_relations(pd.DataFrame({c: ep[c] for c in needed if c in ep}, copy=False), group,
                                  definitions)
    ep["relation"] = relation.array
    ep["is_index"] = relation.cat.codes.to_numpy() == 0
    onset = _day_numbers(ep["onset_date"])
    ep["days_from_index"] = onset - _day_numbers(ep["index_onset"])
    born = np.where(at_patient >= 0, birth[np.maximum(at_patient, 0)], np.datetime64("NaT"))
    ep["age_at_onset"] = (onset - _day_numbers(born)) / definitions.days_per_year
    pregnancy = pd.Series(ep["pregnancy"]) if "pregnancy" in ep else pd.Series(pd.NA, index=range(n), dtype=object)
    unknown = ((pd.Series(ep["sex"]) == "F") & pregnancy.isna()).to_numpy(dtype=bool)
    ep["pregnancy_associated"] = pd.arrays.BooleanArray(
        pregnancy.isin(["pregnant", "postpartum"]).to_numpy(dtype=bool), unknown)
    end = _earlier(_dates_of(ep, "last_followup_date", n), ep["death_date"])
    ep["followup_end_date"] = end
    ep["followup_days"] = _day_numbers(end) - onset
    resolution = _dates_of(ep, "resolution_date", n)
    resolved = ~np.isnat(resolution)
    ep["resolved"] = resolved
    ep["resolution_days"] = _day_numbers(np.where(resolved, resolution, end)) - onset

    derived_row = np.full(len(episodes), -1, dtype=np.int64)  # episode row -> derived row
    derived_row[kept] = np.arange(n)
    exams = np.flatnonzero(exam_in)
    im = _rows(imaging, exams)
    exam_episode = derived_row[exam_at[exams]]
    im["day"] = _day_numbers(im["exam_date"]) - onset[exam_episode]
    im["film_status"] = _films(im, len(exams), definitions)
    happened = np.flatnonzero(event_in)
    ev = _rows(events, happened)
    event_episode = derived_row[event_at[happened]]
    ev["day"] = _day_numbers(ev["event_date"]) - onset[event_episode]
    im, ev = pd.DataFrame(im, copy=False), pd.DataFrame(ev, copy=False)  # the columns are new arrays

    ep.update(_radiographic_intervals(im["film_status"].array, im["day"].to_numpy(), exam_episode, n))
    event_date = ev["event_date"].to_numpy(dtype="datetime64[ns]")
    for name, types in (("fracture", definitions.fracture_event_types), ("avn", definitions.avn_event_types)):
        chosen = ev["event_type"].isin(types).to_numpy(dtype=bool)
        when = _by_group(event_date[chosen], event_episode[chosen], n, "min")
        ep[f"{name}_event"] = ~np.isnat(when)
        ep[f"{name}_days"] = _day_numbers(np.where(np.isnat(when), end, when)) - onset

    index = _index_table(ep, group, definitions)
    drop = ("index_onset", "index_side", "index_number", "death_date")
    episodes_out = pd.DataFrame({c: v for c, v in ep.items() if c not in drop}, copy=False)
    on_index = ep["is_index"][event_episode]
    ledger += attrition.within_cohort(episodes_out, im, ev, definitions, on_index=on_index, absent=absent)
    return DerivedCohort(
        episodes=episodes_out,
        index=index,
        imaging=im,
        events=ev,
        attrition=attrition.ledger(ledger),
        definitions=definitions,
        absent=absent,
        columns=columns,
    )


def _index_table(ep: dict[str, object], group: np.ndarray, definitions: Definitions) -> pd.DataFrame:
    """One row per cohort patient: the index episode plus patient-level follow-up and outcomes.

    ``ep`` holds the derived episode columns and ``group`` the patient's group code of each
    episode (codes need not be contiguous).
    """
    n = int(group.max(initial=0)) + 1
    rows = np.flatnonzero(ep["is_index"])
    mine = group[rows]
    drop = ("index_onset", "index_side", "index_number", "relation", "is_index", "days_from_index",
            "episode_number", "index_episode_id")
    index = {("index_episode_id" if c == "episode_id" else c): _pick(v, rows)
             for c, v in ep.items() if c not in drop}
    death = np.asarray(index["death_date"], dtype="datetime64[ns]")
    last_followup = np.asarray(ep["last_followup_date"], dtype="datetime64[ns]")
    patient_last = _by_group(last_followup, group, n, "max")[mine]
    index["patient_end_date"] = end = _earlier(death, patient_last)
    index["died"] = died = death <= patient_last  # NaT compares False
    onset_days = _day_numbers(index["onset_date"])
    index["patient_followup_days"] = _day_numbers(end) - onset_days
    relation = np.asarray(ep["relation"].codes)
    codes = {name: i for i, name in enumerate(RELATIONS)}
    bilateral = np.zeros(n, dtype=bool)
    bilateral[group[relation == codes["bilateral"]]] = True
    index["bilateral"] = bilateral[mine]
    index["n_episodes"] = np.bincount(group, minlength=n).astype("int64")[mine]

    onset = np.asarray(ep["onset_date"], dtype="datetime64[ns]")
    joint = pd.Series(ep["joint"])
    same_hip = ((relation == codes["recurrence"]) & (joint == definitions.index_joint).to_numpy(dtype=bool)
                & (pd.Series(ep["side"]) == pd.Series(ep["index_side"])).to_numpy(dtype=bool))
    recurrence = _by_group(onset[same_hip], group[same_hip], n, "min")[mine]
    index.update(_competing(recurrence, end, died, onset_days, "recurrence"))
    migrations = np.flatnonzero(relation == codes["migration"])
    first, _ = runs(group[migrations])  # rows are in onset order within a patient
    migrations = migrations[first]
    migration_row = np.full(n, -1, dtype=np.int64)
    migration_row[group[migrations]] = migrations
    target = migration_row[mine]
    migration_onset = np.where(target >= 0, onset[np.maximum(target, 0)], np.datetime64("NaT"))
    index.update(_competing(migration_onset, end, died, onset_days, "migration"))
    chosen = np.flatnonzero((target >= 0) & (index["migration_status"] == 1))
    joints = joint.iloc[target[chosen]].astype(object).to_numpy()
    # With no migration at all the column holds no text: float NaN, as a map onto nothing gives.
    site = np.full(len(rows), np.nan, dtype=object if len(migrations) else float)
    site[chosen] = np.where(joints == definitions.index_joint, "contralateral_hip", joints)
    index["migration_site"] = site
    return pd.DataFrame(index, copy=False)
