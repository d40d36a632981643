"""Whole-day arithmetic on date columns that cannot overflow.

Subtracting two ``datetime64[ns]`` columns overflows beyond about 292 years (a birth year typed
as 1700 against a 2020 onset); counting days as integers does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["day_numbers", "days_between"]


def day_numbers(dates: pd.Series) -> pd.Series:
    """Days since 1970-01-01 as floats (NaN where the date is missing), same index."""
    values = dates.to_numpy(dtype="datetime64[ns]")
    days = values.astype("datetime64[D]").astype("int64").astype("float64")
    days[np.isnat(values)] = np.nan
    return pd.Series(days, index=dates.index)


def days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole days from ``earlier`` to ``later`` (NaN where either is missing)."""
    return day_numbers(later) - day_numbers(earlier)
