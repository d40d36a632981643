"""How each episode relates to the patient's earlier ones (vectorised; see DESIGN.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cohort.definitions import Definitions

__all__ = ["RELATIONS", "order_episodes", "classify_relations"]

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
