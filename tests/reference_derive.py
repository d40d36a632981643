"""The derivation as it was before its rewrite on integer row positions (commit 3842ec6694f1).

Kept verbatim apart from imports and names as a plain reference implementation: the property
tests check that :func:`toh.cohort.derive.derive_cohort` gives exactly the same tables.  It maps and
merges on the id strings, which is slow on large registries; use it in tests only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toh.cohort import attrition
from toh.cohort._relations import RELATIONS
from toh.cohort.attrition import _ID, LEDGER_COLUMNS
from toh.cohort.definitions import DEFAULT_DEFINITIONS, Definitions
from toh.cohort.derive import FILM_STATUS, DerivedCohort
from toh.schemas.crosstable import birth_dates
from toh.schemas.dates import days_between

__all__ = ["reference_derive_cohort"]


def order_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    """Sort episodes by patient, onset and episode_id and number them 1, 2, ... per patient."""
    ordered = episodes.sort_values(["patient_id", "onset_date", "episode_id"], kind="stable")
    return ordered.assign(episode_number=ordered.groupby("patient_id", sort=False).cumcount() + 1)


def classify_relations(episodes: pd.DataFrame, definitions: Definitions) -> pd.Series:
    """Relation of each episode (a categorical with the codes of :data:`RELATIONS`).

    ``episodes`` is ordered by :func:`order_episodes` and carries ``index_onset``,
    ``index_side`` and ``index_number`` (the index episode's onset, side and number).
    """
    side_key = episodes["side"].astype(object).where(episodes["side"].notna(), "?")
    keyed = episodes.assign(_side=side_key)
    by_site = keyed.sort_values(["patient_id", "joint", "_side", "onset_date", "episode_id"], kind="stable")
    grouped = by_site.groupby(["patient_id", "joint", "_side"], sort=False)
    previous_resolution = grouped["resolution_date"].shift(1).reindex(episodes.index)
    has_previous = (grouped.cumcount() > 0).reindex(episodes.index)

    days = (episodes["onset_date"] - episodes["index_onset"]).dt.days
    is_index = episodes["episode_number"] == episodes["index_number"]
    prior = episodes["episode_number"] < episodes["index_number"]
    recurred = has_previous & (episodes["onset_date"] > previous_resolution).fillna(False)
    index_joint = episodes["joint"] == definitions.index_joint
    opposite = index_joint & (episodes["side"] != episodes["index_side"]).fillna(False)
    bilateral = opposite & (days <= definitions.bilateral_window_days)
    concurrent = ~index_joint & (days == 0)

    relation = np.select(
        [is_index, prior, recurred, has_previous, bilateral, concurrent],
        ["index", "prior", "recurrence", "overlap", "bilateral", "concurrent"],
        default="migration",
    )
    return pd.Series(pd.Categorical(relation, categories=list(RELATIONS)), index=episodes.index)


def _part(table: str, frame: pd.DataFrame, stage: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame({
        "table": table,
        "source_row": frame["source_row"].to_numpy(dtype="int64"),
        "record_id": frame[_ID[table]].astype(str).to_numpy(),
        "stage": stage,
        "reason": reason,
    }, columns=list(LEDGER_COLUMNS))


def without_index(
    patients: pd.DataFrame,
    episodes: pd.DataFrame,
    imaging: pd.DataFrame,
    events: pd.DataFrame,
    cohort_patients: pd.Series,
    definitions: Definitions,
) -> pd.DataFrame:
    """Rows of patients without an index-joint episode, and everything that hangs off them."""
    out_patients = patients[~patients["patient_id"].isin(cohort_patients)]
    out_episodes = episodes[~episodes["patient_id"].isin(cohort_patients)]
    out_ids = out_episodes["episode_id"]
    parts = [
        _part("patients", out_patients, "cohort", "no_index_episode"),
        _part("episodes", out_episodes, "cohort", "patient_not_in_cohort"),
        _part("imaging", imaging[imaging["episode_id"].isin(out_ids)], "cohort", "episode_not_in_cohort"),
        _part("events", events[events["episode_id"].isin(out_ids)], "cohort", "episode_not_in_cohort"),
    ]
    return pd.concat(parts, ignore_index=True)


def within_cohort(
    episodes: pd.DataFrame, imaging: pd.DataFrame, events: pd.DataFrame, definitions: Definitions
) -> list[pd.DataFrame]:
    """Rows of cohort patients that a particular analysis cannot use."""
    index_ids = episodes.loc[episodes["is_index"], "episode_id"]
    index_eps = episodes[episodes["is_index"]]
    outcome_types = definitions.fracture_event_types + definitions.avn_event_types
    outcome = events[events["event_type"].isin(outcome_types)]
    on_index = outcome[outcome["episode_id"].isin(index_ids)]
    group = on_index["event_type"].isin(definitions.fracture_event_types).map({True: "fracture", False: "avn"})
    order = on_index.assign(_group=group).sort_values(["episode_id", "_group", "event_date", "event_id"])
    later = order[order.duplicated(["episode_id", "_group"], keep="first")]
    return [
        _part("imaging", imaging[imaging["film_status"] == "indeterminate"], "radiographic", "film_indeterminate"),
        _part("episodes", index_eps[index_eps["xr_films"] == 0], "radiographic", "no_determinate_film"),
        _part("events", events[~events["event_type"].isin(outcome_types + ("death",))],
              "complications", "event_type_not_analysed"),
        _part("events", outcome[~outcome["episode_id"].isin(index_ids)], "complications",
              "event_not_on_index_episode"),
        _part("events", later, "complications", "event_not_first"),
    ]


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return days_between(later, earlier)


def _death_dates(patients: pd.DataFrame, episodes: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Death per patient: death_date, else the earliest death event of their episodes."""
    death = patients.set_index("patient_id")["death_date"] if "death_date" in patients else None
    if death is None:
        death = pd.Series(pd.NaT, index=patients["patient_id"], dtype="datetime64[ns]")
    deaths = events[events["event_type"] == "death"]
    if len(deaths):
        by_patient = deaths.assign(patient_id=deaths["episode_id"].map(episodes.set_index("episode_id")["patient_id"]))
        first = by_patient.groupby("patient_id")["event_date"].min()
        death = death.fillna(first.reindex(death.index))
    return death


def _films(imaging: pd.DataFrame, definitions: Definitions) -> pd.Series:
    """Status of each plain film: abnormal, normal or indeterminate (NA for other modalities)."""
    findings = [imaging[f] if f in imaging else pd.Series(pd.NA, index=imaging.index, dtype="boolean")
                for f in definitions.xr_abnormal_findings]
    any_true = np.logical_or.reduce([f.fillna(False).to_numpy(bool) for f in findings])
    all_false = np.logical_and.reduce([(f == False).fillna(False).to_numpy(bool) for f in findings])  # noqa: E712
    status = np.select([any_true, all_false], ["abnormal", "normal"], default="indeterminate")
    status = pd.Series(pd.Categorical(status, categories=list(FILM_STATUS)), index=imaging.index)
    return status.where(imaging["modality"] == "XR")


def _radiographic_intervals(imaging: pd.DataFrame) -> pd.DataFrame:
    """(lower, upper] day of radiographic change per episode from its determinate films."""
    films = imaging[imaging["film_status"].isin(["abnormal", "normal"])]
    abnormal = films[films["film_status"] == "abnormal"].groupby("episode_id")["day"].min()
    films = films.assign(first_abnormal=films["episode_id"].map(abnormal))
    normal = films[(films["film_status"] == "normal")
                   & ~(films["day"] >= films["first_abnormal"]).fillna(False)]
    last_normal = normal.groupby("episode_id")["day"].max()
    counts = films.groupby("episode_id").size()
    out = pd.DataFrame({"xr_films": counts})
    out["xr_upper_day"] = abnormal.reindex(out.index).astype(float).fillna(np.inf)
    out["xr_lower_day"] = last_normal.reindex(out.index).astype(float).fillna(0.0)
    out["xr_changed"] = np.isfinite(out["xr_upper_day"])
    return out[["xr_films", "xr_lower_day", "xr_upper_day", "xr_changed"]]


def _first_event(events: pd.DataFrame, types: tuple[str, ...]) -> pd.Series:
    chosen = events[events["event_type"].isin(types)]
    return chosen.groupby("episode_id")["event_date"].min()


def _time_to(first: pd.Series, episodes: pd.DataFrame, name: str) -> pd.DataFrame:
    """Event flag and days from onset to the first event, or to the end of follow-up."""
    when = episodes["episode_id"].map(first)
    event = when.notna()
    end = when.where(event, episodes["followup_end_date"])
    return pd.DataFrame({f"{name}_event": event, f"{name}_days": _days(end, episodes["onset_date"])},
                        index=episodes.index)


def _competing(first_onset: pd.Series, index: pd.DataFrame, name: str) -> pd.DataFrame:
    """Status (0 censored, 1 event, 2 death) and days from index onset, for a later episode."""
    when = index["patient_id"].map(first_onset)
    end = index["patient_end_date"]
    event = (when <= end).fillna(False)
    status = np.where(event, 1, np.where(index["died"], 2, 0))
    time = when.where(event, end)
    return pd.DataFrame({f"{name}_status": status.astype("int64"),
                         f"{name}_days": _days(time, index["onset_date"])}, index=index.index)


def reference_derive_cohort(tables: dict[str, pd.DataFrame], definitions: Definitions = DEFAULT_DEFINITIONS) -> DerivedCohort:
    """Derive the episode, index, imaging and event tables and the attrition ledger.

    Parameters
    ----------
    tables
        Validated typed tables ``patients``, ``episodes``, ``imaging``, ``events`` (as in
        :attr:`toh.cohort.validate.ValidationReport.tables`), indexed by source row.
    definitions
        Estimand definitions (default: those of docs/definitions.md).

    Returns
    -------
    DerivedCohort
    """
    patients = tables["patients"].reset_index(names="source_row")
    episodes = tables["episodes"].reset_index(names="source_row")
    imaging = tables["imaging"].reset_index(names="source_row")
    events = tables["events"].reset_index(names="source_row")

    death = _death_dates(patients, episodes, events)
    birth = birth_dates(patients).set_axis(patients["patient_id"])
    ep = order_episodes(episodes)
    ep = ep.assign(sex=ep["patient_id"].map(patients.set_index("patient_id")["sex"]),
                   death_date=ep["patient_id"].map(death))
    if "site" in patients:
        ep["site"] = ep["patient_id"].map(patients.set_index("patient_id")["site"])
    first = ep[ep["joint"] == definitions.index_joint].drop_duplicates("patient_id", keep="first")
    in_cohort = ep["patient_id"].isin(first["patient_id"])
    ledger = [without_index(patients, ep, imaging, events, first["patient_id"], definitions)]
    ep = ep[in_cohort]
    ep = ep.assign(
        index_episode_id=ep["patient_id"].map(first.set_index("patient_id")["episode_id"]),
        index_onset=ep["patient_id"].map(first.set_index("patient_id")["onset_date"]),
        index_side=ep["patient_id"].map(first.set_index("patient_id")["side"]),
        index_number=ep["patient_id"].map(first.set_index("patient_id")["episode_number"]),
    )
    ep["relation"] = classify_relations(ep, definitions)
    ep["is_index"] = ep["relation"] == "index"
    ep["days_from_index"] = _days(ep["onset_date"], ep["index_onset"])
    ep["age_at_onset"] = _days(ep["onset_date"], ep["patient_id"].map(birth)) / definitions.days_per_year
    pregnancy = ep["pregnancy"] if "pregnancy" in ep else pd.Series(pd.NA, index=ep.index, dtype=object)
    ep["pregnancy_associated"] = pregnancy.isin(["pregnant", "postpartum"]).astype("boolean")
    ep.loc[(ep["sex"] == "F") & pregnancy.isna(), "pregnancy_associated"] = pd.NA
    end = ep[["last_followup_date", "death_date"]].min(axis=1)
    ep["followup_end_date"] = end
    ep["followup_days"] = _days(end, ep["onset_date"])
    resolution = ep["resolution_date"] if "resolution_date" in ep else pd.Series(pd.NaT, index=ep.index)
    ep["resolved"] = resolution.notna()
    ep["resolution_days"] = _days(resolution.where(ep["resolved"], end), ep["onset_date"])

    cohort_ids = set(ep["episode_id"])
    im = imaging[imaging["episode_id"].isin(cohort_ids)]
    im = im.assign(day=_days(im["exam_date"], im["episode_id"].map(ep.set_index("episode_id")["onset_date"])))
    im["film_status"] = _films(im, definitions)
    ev = events[events["episode_id"].isin(cohort_ids)]
    ev = ev.assign(day=_days(ev["event_date"], ev["episode_id"].map(ep.set_index("episode_id")["onset_date"])))

    intervals = _radiographic_intervals(im)
    ep = ep.join(intervals, on="episode_id")
    ep["xr_films"] = ep["xr_films"].fillna(0).astype("int64")
    ep["xr_changed"] = ep["xr_changed"].astype("boolean")
    for name, types in (("fracture", definitions.fracture_event_types), ("avn", definitions.avn_event_types)):
        ep = ep.join(_time_to(_first_event(ev, types), ep, name))

    index = _index_table(ep, definitions)
    ledger += within_cohort(ep, im, ev, definitions)
    drop = ["index_onset", "index_side", "index_number", "death_date"]
    episodes_out = ep.drop(columns=drop).reset_index(drop=True)
    return DerivedCohort(
        episodes=episodes_out,
        index=index,
        imaging=im.reset_index(drop=True),
        events=ev.reset_index(drop=True),
        attrition=attrition.ledger(ledger),
        definitions=definitions,
    )


def _index_table(ep: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """One row per cohort patient: the index episode plus patient-level follow-up and outcomes."""
    index = ep[ep["is_index"]].copy()
    last_contact = ep.groupby("patient_id")["last_followup_date"].max()
    patient_last = index["patient_id"].map(last_contact)
    index["patient_end_date"] = index[["death_date"]].assign(last=patient_last).min(axis=1)
    index["died"] = (index["death_date"] <= patient_last).fillna(False)
    index["patient_followup_days"] = _days(index["patient_end_date"], index["onset_date"])
    later = ep[ep["relation"].isin(["bilateral", "recurrence", "migration"])]
    index["bilateral"] = index["patient_id"].isin(later.loc[later["relation"] == "bilateral", "patient_id"])
    index["n_episodes"] = index["patient_id"].map(ep.groupby("patient_id").size()).astype("int64")

    same_hip = later[(later["relation"] == "recurrence") & (later["joint"] == definitions.index_joint)
                     & (later["side"] == later["index_side"])]
    index = index.join(_competing(same_hip.groupby("patient_id")["onset_date"].min(), index, "recurrence"))
    migration = later[later["relation"] == "migration"].drop_duplicates("patient_id", keep="first")
    index = index.join(_competing(migration.set_index("patient_id")["onset_date"], index, "migration"))
    target = migration.set_index("patient_id")
    site = np.where(target["joint"] == definitions.index_joint, "contralateral_hip", target["joint"].astype(str))
    site = pd.Series(site, index=target.index)
    index["migration_site"] = index["patient_id"].map(site).where(index["migration_status"] == 1)
    keep = [c for c in index.columns if c not in ("index_onset", "index_side", "index_number",
                                                  "relation", "is_index", "days_from_index",
                                                  "episode_number", "index_episode_id")]
    return index[keep].rename(columns={"episode_id": "index_episode_id"}).reset_index(drop=True)
