"""How each episode relates to the patient's earlier ones (vectorised; see docs/definitions.md).

Everything works on row positions and integer group codes: the episodes are sorted once (in
Arrow, by patient, onset and episode_id), and every group-wise step is a pass over that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from toh.cohort.definitions import Definitions
from toh.schemas.text import stable_order

__all__ = ["RELATIONS", "order_episodes", "classify_relations", "runs"]

#: Relation codes, in the order the rules are applied.
RELATIONS: dict[str, str] = {
    "index": "the patient's earliest episode of the index joint (ties: smaller episode_id)",
    "prior": "an episode (of another joint) that starts before the index episode",
    "recurrence": "same joint and side as an earlier episode, onset after its resolution_date",
    "overlap": "same joint and side as an earlier episode that had not resolved by this onset",
    "bilateral": "opposite hip, onset within the bilateral window after the index onset",
    "concurrent": "another joint, onset on the index onset day",
    "migration": "opposite hip beyond the bilateral window, or another joint, later than the index",
}


def runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted ``keys``: whether each element starts a run of equal keys, and its rank in the run."""
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    return starts, np.arange(len(keys)) - first


def order_episodes(episodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort episodes by patient, onset and episode_id and number them 1, 2, ... per patient.

    Returns
    -------
    tuple of numpy arrays
        ``order`` (row positions of ``episodes`` in sorted order), ``patient`` (a group code
        per patient, in sorted order, 0 for a missing patient_id) and ``number`` (the episode's
        number within its patient, in sorted order).
    """
    order = stable_order(episodes, ["patient_id", "onset_date", "episode_id"])
    patient = pd.factorize(episodes["patient_id"])[0].astype(np.int64)[order] + 1
    _, rank = runs(patient)
    return order, patient, rank + 1


def classify_relations(episodes: pd.DataFrame, patient: np.ndarray, definitions: Definitions) -> pd.Series:
    """Relation of each episode (a categorical with the codes of :data:`RELATIONS`).

    ``episodes`` is ordered as :func:`order_episodes` orders it, with a RangeIndex, and carries
    ``episode_number`` and ``index_onset``, ``index_side`` and ``index_number`` (the index
    episode's onset, side and number); ``patient`` is the patient's group code of each row.
    """
    joint = pd.factorize(episodes["joint"])[0].astype(np.int64) + 1
    side = pd.factorize(episodes["side"])[0].astype(np.int64) + 1  # a missing side is a side of its own
    site = (patient * (joint.max(initial=0) + 1) + joint) * (side.max(initial=0) + 1) + side
    # Rows are in onset (then episode_id) order within a patient; a stable sort by site keeps it.
    by_site = np.argsort(site, kind="stable")
    starts, _ = runs(site[by_site])
    resolution = (episodes["resolution_date"].to_numpy(dtype="datetime64[ns]") if "resolution_date" in episodes
                  else np.full(len(episodes), np.datetime64("NaT"), dtype="datetime64[ns]"))
    shifted = np.full(len(episodes), np.datetime64("NaT"), dtype="datetime64[ns]")
    shifted[1:] = resolution[by_site][:-1]
    previous_resolution = np.empty_like(shifted)
    previous_resolution[by_site] = np.where(starts, np.datetime64("NaT"), shifted)
    has_previous = np.empty(len(episodes), dtype=bool)
    has_previous[by_site] = ~starts

    onset = episodes["onset_date"].to_numpy(dtype="datetime64[ns]")
    days = (episodes["onset_date"] - episodes["index_onset"]).dt.days
    is_index = (episodes["episode_number"] == episodes["index_number"]).to_numpy()
    prior = (episodes["episode_number"] < episodes["index_number"]).to_numpy()
    recurred = has_previous & (onset > previous_resolution)  # NaT compares False
    index_joint = (episodes["joint"] == definitions.index_joint).to_numpy(dtype=bool)
    opposite = index_joint & (episodes["side"] != episodes["index_side"]).fillna(False).to_numpy(dtype=bool)
    bilateral = opposite & (days <= definitions.bilateral_window_days).to_numpy()
    concurrent = ~index_joint & (days == 0).to_numpy()

    codes = np.select([is_index, prior, recurred, has_previous, bilateral, concurrent],
                      [0, 1, 2, 3, 4, 5], default=6)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(RELATIONS)), index=episodes.index)
