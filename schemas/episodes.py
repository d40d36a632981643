"""pandera model of the ``episodes`` table: one row per affected joint and bout of the disease."""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from toh.schemas.context import not_in_future
from toh.schemas.text import TEXT_FIELD, Text
from toh.schemas.codes import JOINTS, PREGNANCY, SIDES, TRIMESTERS

__all__ = ["EpisodesSchema"]

_DATES = ("onset_date", "diagnosis_date", "resolution_date", "last_followup_date")


def _not_before_onset(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        return pd.Series(True, index=df.index)
    value = df[column]
    return value.isna() | df["onset_date"].isna() | (value >= df["onset_date"])


class EpisodesSchema(pa.DataFrameModel):
    """One row per episode; the index holds the source row."""

    episode_id: Text = pa.Field(**TEXT_FIELD, unique=True, description="Episode identifier.")
    patient_id: Text = pa.Field(**TEXT_FIELD, description="The patient (patients.patient_id).")
    joint: Text = pa.Field(**TEXT_FIELD, isin=list(JOINTS), description="hip/knee/ankle/foot/other.")
    side: Text = pa.Field(**TEXT_FIELD, isin=list(SIDES), nullable=True, description="L or R.")
    onset_date: Series[pd.Timestamp] = pa.Field(description="Symptom onset: the time origin.")
    diagnosis_date: Optional[Series[pd.Timestamp]] = pa.Field(nullable=True)
    pregnancy: Optional[Text] = pa.Field(
        **TEXT_FIELD, isin=list(PREGNANCY), nullable=True, description="Women only: none/pregnant/postpartum."
    )
    trimester: Optional[Series[pd.Int64Dtype]] = pa.Field(
        isin=list(TRIMESTERS), nullable=True, description="1-3, pregnant episodes only."
    )
    treatment: Optional[Text] = pa.Field(**TEXT_FIELD, nullable=True, description="Treatment given.")
    resolution_date: Optional[Series[pd.Timestamp]] = pa.Field(
        nullable=True, description="Clinical resolution; empty while unresolved."
    )
    last_followup_date: Series[pd.Timestamp] = pa.Field(description="Last contact.")

    @pa.check(*_DATES, name="not_in_future")
    def _not_in_future(cls, series: Series[pd.Timestamp]) -> Series[bool]:
        """No date after the day of validation."""
        return not_in_future(series)

    @pa.dataframe_check(name="diagnosis_not_before_onset")
    def _diagnosis(cls, df: pd.DataFrame) -> Series[bool]:
        """diagnosis_date is not before onset_date."""
        return _not_before_onset(df, "diagnosis_date")

    @pa.dataframe_check(name="resolution_not_before_onset")
    def _resolution(cls, df: pd.DataFrame) -> Series[bool]:
        """resolution_date is not before onset_date."""
        return _not_before_onset(df, "resolution_date")

    @pa.dataframe_check(name="last_followup_not_before_onset")
    def _followup(cls, df: pd.DataFrame) -> Series[bool]:
        """last_followup_date is not before onset_date."""
        return _not_before_onset(df, "last_followup_date")

    @pa.dataframe_check(name="trimester_only_when_pregnant")
    def _trimester(cls, df: pd.DataFrame) -> Series[bool]:
        """A trimester is given only for episodes with pregnancy = pregnant."""
        if "trimester" not in df.columns:
            return pd.Series(True, index=df.index)
        pregnant = df["pregnancy"] == "pregnant" if "pregnancy" in df.columns else False
        return df["trimester"].isna() | pd.Series(pregnant, index=df.index).fillna(False)

    @pa.dataframe_check(name="hip_side_required")
    def _hip_side(cls, df: pd.DataFrame) -> Series[bool]:
        """A hip episode states its side (L or R)."""
        return (df["joint"] != "hip").fillna(True) | df["side"].notna()

    class Config:
        """Extra columns are kept (and reported as a warning by the validator)."""

        strict = False
        coerce = False


#: Columns each dataframe-wide rule reads, the first being the one a failure is reported on.
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "diagnosis_not_before_onset": ("diagnosis_date", "onset_date"),
    "resolution_not_before_onset": ("resolution_date", "onset_date"),
    "last_followup_not_before_onset": ("last_followup_date", "onset_date"),
    "trimester_only_when_pregnant": ("trimester", "pregnancy"),
    "hip_side_required": ("side", "joint"),
}
