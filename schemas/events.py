"""pandera model of the ``events`` table: complications and deaths, one row per event."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from toh.schemas.context import not_in_future
from toh.schemas.text import TEXT_FIELD, Text
from toh.schemas.codes import EVENT_TYPES

__all__ = ["EventsSchema"]


class EventsSchema(pa.DataFrameModel):
    """One row per event; event_type is a closed list (recode a registry's own via the mapping)."""

    event_id: Text = pa.Field(**TEXT_FIELD, unique=True, description="Event identifier.")
    episode_id: Text = pa.Field(**TEXT_FIELD, description="The episode (episodes.episode_id).")
    event_date: Series[pd.Timestamp] = pa.Field(description="Day of the event.")
    event_type: Text = pa.Field(**TEXT_FIELD, isin=list(EVENT_TYPES), description="Closed code list.")

    @pa.check("event_date", name="not_in_future")
    def _not_in_future(cls, series: Series[pd.Timestamp]) -> Series[bool]:
        """No date after the day of validation."""
        return not_in_future(series)

    class Config:
        """Extra columns are kept (and reported as a warning by the validator)."""

        strict = False
        coerce = False


RULE_COLUMNS: dict[str, tuple[str, ...]] = {}
