"""The attrition ledger: every input row that does not reach an analysis, with its reason.

A ledger row names the table, the source row (as in validation messages), the record's id,
the stage it leaves at and why.  :func:`summarise` reconciles it with the rows read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toh.cohort.definitions import Definitions
from toh.schemas.text import isin

__all__ = ["LEDGER_COLUMNS", "REASONS", "ledger", "summarise", "without_index", "within_cohort"]

LEDGER_COLUMNS: tuple[str, ...] = ("table", "source_row", "record_id", "stage", "reason")
_ID = {"patients": "patient_id", "episodes": "episode_id", "imaging": "exam_id", "events": "event_id"}

#: reason code -> sentence used in reports
REASONS: dict[str, str] = {
    "no_index_episode": "the patient has no episode of the index joint",
    "patient_not_in_cohort": "its patient has no episode of the index joint",
    "episode_not_in_cohort": "its episode belongs to a patient outside the cohort",
    "film_indeterminate": "plain film with no abnormal finding and a finding not recorded",
    "no_determinate_film": "index episode without a plain film whose findings decide normal/abnormal",
    "no_imaging_table": "the export has no imaging table",
    "table_absent": "not in the export: nothing read",
    "event_type_not_analysed": "event type with no estimand (surgery, other)",
    "event_not_on_index_episode": "fracture/AVN event of a non-index episode",
    "event_not_first": "a later fracture/AVN event of an episode (time to first event only)",
}


def _part(table: str, source_rows: np.ndarray | pd.Index, ids: pd.Series, stage: str, reason: str) -> pd.DataFrame:
    return pd.DataFrame({
        "table": table,
        "source_row": np.asarray(source_rows, dtype="int64"),
        "record_id": ids.astype(str).to_numpy(),
        "stage": stage,
        "reason": reason,
    }, columns=list(LEDGER_COLUMNS))


def _typed_part(table: str, frame: pd.DataFrame, rows: np.ndarray, stage: str, reason: str) -> pd.DataFrame:
    """Ledger rows of a typed table (indexed by source row) where ``rows`` is true."""
    return _part(table, frame.index[rows], frame[_ID[table]][rows], stage, reason)


def _derived_part(table: str, frame: pd.DataFrame, rows: np.ndarray | pd.Series, stage: str, reason: str) -> pd.DataFrame:
    """Ledger rows of a derived table (with a ``source_row`` column) where ``rows`` is true."""
    rows = np.asarray(rows, dtype=bool)
    return _part(table, frame["source_row"].to_numpy()[rows], frame[_ID[table]][rows], stage, reason)


def without_index(tables: dict[str, pd.DataFrame], leave: dict[str, np.ndarray]) -> pd.DataFrame:
    """Rows of patients without an index-joint episode, and everything that hangs off them.

    Parameters
    ----------
    tables
        The typed tables (indexed by source row).
    leave
        Per table, a boolean array: the rows that leave the cohort (patients without an
        index-joint episode, their episodes, and the exams and events of those episodes).
    """
    parts = [
        _typed_part("patients", tables["patients"], leave["patients"], "cohort", "no_index_episode"),
        _typed_part("episodes", tables["episodes"], leave["episodes"], "cohort", "patient_not_in_cohort"),
        _typed_part("imaging", tables["imaging"], leave["imaging"], "cohort", "episode_not_in_cohort"),
        _typed_part("events", tables["events"], leave["events"], "cohort", "episode_not_in_cohort"),
    ]
    return pd.concat(parts, ignore_index=True)


def within_cohort(
    episodes: pd.DataFrame,
    imaging: pd.DataFrame,
    events: pd.DataFrame,
    definitions: Definitions,
    on_index: np.ndarray | None = None,
    absent: frozenset[str] = frozenset(),
) -> list[pd.DataFrame]:
    """Rows of cohort patients that a particular analysis cannot use (derived tables in).

    ``on_index`` says of each event whether its episode is an index episode (looked up by
    episode_id when not given).  With the imaging table ``absent``, index episodes leave the
    radiographic analysis for that reason, not for want of a film.
    """
    is_index = episodes["is_index"].to_numpy(dtype=bool)
    if on_index is None:
        on_index = isin(events["episode_id"], episodes["episode_id"][is_index])
    outcome_types = definitions.fracture_event_types + definitions.avn_event_types
    is_outcome = events["event_type"].isin(outcome_types).to_numpy(dtype=bool)
    outcome = events[is_outcome]
    on_index_episode = np.asarray(on_index, dtype=bool)[is_outcome]
    on_index = outcome[on_index_episode]
    group = on_index["event_type"].isin(definitions.fracture_event_types).map({True: "fracture", False: "avn"})
    order = on_index.assign(_group=group).sort_values(["episode_id", "_group", "event_date", "event_id"])
    later = order[order.duplicated(["episode_id", "_group"], keep="first")]
    everything = np.ones(len(later), dtype=bool)
    return [
        _derived_part("imaging", imaging, imaging["film_status"] == "indeterminate", "radiographic",
                      "film_indeterminate"),
        _derived_part("episodes", episodes, is_index & (episodes["xr_films"] == 0).to_numpy(), "radiographic",
                      "no_imaging_table" if "imaging" in absent else "no_determinate_film"),
        _derived_part("events", events, ~events["event_type"].isin(outcome_types + ("death",)),
                      "complications", "event_type_not_analysed"),
        _derived_part("events", outcome, ~on_index_episode, "complications", "event_not_on_index_episode"),
        _derived_part("events", later, everything, "complications", "event_not_first"),
    ]


def ledger(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate ledger parts in a stable order (table, source row, stage)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else object)
                             for c in LEDGER_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    order = {"patients": 0, "episodes": 1, "imaging": 2, "events": 3}
    out = out.assign(_t=out["table"].map(order)).sort_values(["_t", "source_row", "stage"], kind="stable")
    return out.drop(columns="_t").reset_index(drop=True)


def summarise(ledger_frame: pd.DataFrame, rows_in: dict[str, int], absent: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Reconcile the ledger with the rows read: one line per table and step.

    Per table: ``read`` (rows in the export), one line per reason rows leave the cohort,
    ``in_cohort`` (read minus those), then one line per reason rows of cohort patients are left
    out of a particular analysis (``stage`` radiographic or complications).  A table the export
    does not have gets one line, ``absent``, and no counts.
    """
    records = []
    for table, n_in in rows_in.items():
        if table in absent:
            records.append((table, "absent", "table_absent", REASONS["table_absent"], 0))
            continue
        mine = ledger_frame[ledger_frame["table"] == table]
        records.append((table, "read", "", "rows read", int(n_in)))
        counts = mine.groupby(["stage", "reason"], sort=True).size()
        cohort = counts[counts.index.get_level_values(0) == "cohort"]
        for (stage, reason), n in cohort.items():
            records.append((table, stage, reason, REASONS.get(reason, reason), int(n)))
        records.append((table, "in_cohort", "", "rows of cohort patients", int(n_in) - int(cohort.sum())))
        for (stage, reason), n in counts[counts.index.get_level_values(0) != "cohort"].items():
            records.append((table, stage, reason, REASONS.get(reason, reason), int(n)))
    return pd.DataFrame(records, columns=["table", "stage", "reason", "description", "n"])
