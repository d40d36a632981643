"""pandera model of the ``patients`` table."""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from toh.schemas.context import not_in_future
from toh.schemas.text import TEXT_FIELD, Text
from toh.schemas.codes import SEX

__all__ = ["PatientsSchema"]


def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` of ``df``, or an all-missing column when the export omits it."""
    if name in df.columns:
        return df[name]
    return pd.Series(pd.NA, index=df.index, dtype="object")


class PatientsSchema(pa.DataFrameModel):
    """One row per patient.

    The index holds the source row (the line a user opens in a spreadsheet), never a position.
    """

    patient_id: Text = pa.Field(**TEXT_FIELD, unique=True, description="Registry patient identifier.")
    sex: Text = pa.Field(**TEXT_FIELD, isin=list(SEX), description="M or F.")
    birth_date: Optional[Series[pd.Timestamp]] = pa.Field(
        nullable=True, description="Date of birth; birth_year is used where it is empty."
    )
    birth_year: Optional[Series[pd.Int64Dtype]] = pa.Field(
        nullable=True, ge=1880, le=2100, description="Year of birth (birth taken as 1 July)."
    )
    death_date: Optional[Series[pd.Timestamp]] = pa.Field(
        nullable=True, description="Date of death, empty while alive."
    )
    site: Optional[Text] = pa.Field(**TEXT_FIELD, nullable=True, description="Recruiting site.")

    @pa.check("birth_date", "death_date", name="not_in_future")
    def _not_in_future(cls, series: Series[pd.Timestamp]) -> Series[bool]:
        """No date after the day of validation."""
        return not_in_future(series)

    @pa.dataframe_check(name="birth_known")
    def _birth_known(cls, df: pd.DataFrame) -> Series[bool]:
        """birth_date or birth_year is given."""
        return _col(df, "birth_date").notna() | _col(df, "birth_year").notna()

    @pa.dataframe_check(name="birth_year_matches_birth_date")
    def _birth_year_matches(cls, df: pd.DataFrame) -> Series[bool]:
        """Where both are given, birth_year is the year of birth_date."""
        if "birth_date" not in df.columns or "birth_year" not in df.columns:
            return pd.Series(True, index=df.index)
        both = df["birth_date"].notna() & df["birth_year"].notna()
        same = df["birth_date"].dt.year.astype("Int64") == df["birth_year"]
        return (~both) | same.fillna(True)

    @pa.dataframe_check(name="death_after_birth")
    def _death_after_birth(cls, df: pd.DataFrame) -> Series[bool]:
        """death_date is not before birth_date."""
        birth, death = _col(df, "birth_date"), _col(df, "death_date")
        if birth.isna().all() or death.isna().all():
            return pd.Series(True, index=df.index)
        return birth.isna() | death.isna() | (death >= birth)

    class Config:
        """Extra columns are kept (and reported as a warning by the validator)."""

        strict = False
        coerce = False


#: Columns each dataframe-wide rule reads, the first being the one a failure is reported on.
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "birth_known": ("birth_date", "birth_year"),
    "birth_year_matches_birth_date": ("birth_year", "birth_date"),
    "death_after_birth": ("death_date", "birth_date"),
}
