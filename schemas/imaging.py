"""pandera model of the ``imaging`` table: one row per examination and its findings."""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from toh.schemas.context import not_in_future
from toh.schemas.text import TEXT_FIELD, Text
from toh.schemas.codes import EDEMA_EXTENT, MODALITIES

__all__ = ["ImagingSchema"]

_Finding = Optional[Series[pd.BooleanDtype]]


class ImagingSchema(pa.DataFrameModel):
    """One row per exam; findings are true / false / empty (not recorded)."""

    exam_id: Text = pa.Field(**TEXT_FIELD, unique=True, description="Exam identifier.")
    episode_id: Text = pa.Field(**TEXT_FIELD, description="The episode (episodes.episode_id).")
    exam_date: Series[pd.Timestamp] = pa.Field(description="Day of the exam.")
    modality: Text = pa.Field(**TEXT_FIELD, isin=list(MODALITIES), description="XR/MRI/NM/CT.")
    osteopenia: _Finding = pa.Field(nullable=True, description="XR: osteopenia.")
    subchondral_cortical_loss: _Finding = pa.Field(
        nullable=True, description="XR: loss of the subchondral cortex."
    )
    joint_effusion: _Finding = pa.Field(nullable=True, description="Joint effusion.")
    joint_space_preserved: _Finding = pa.Field(nullable=True, description="XR: joint space kept.")
    t1_low: _Finding = pa.Field(nullable=True, description="MRI: low T1 marrow signal.")
    t2_high: _Finding = pa.Field(nullable=True, description="MRI: high T2 marrow signal.")
    edema_extent: Optional[Text] = pa.Field(
        **TEXT_FIELD, isin=list(EDEMA_EXTENT), nullable=True, description="MRI: furthest oedema extent."
    )
    uptake_increased: _Finding = pa.Field(nullable=True, description="NM: increased uptake.")

    @pa.check("exam_date", name="not_in_future")
    def _not_in_future(cls, series: Series[pd.Timestamp]) -> Series[bool]:
        """No date after the day of validation."""
        return not_in_future(series)

    class Config:
        """Extra columns are kept (and reported as a warning by the validator)."""

        strict = False
        coerce = False


RULE_COLUMNS: dict[str, tuple[str, ...]] = {}
