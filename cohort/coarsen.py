"""Coarsen a derived cohort's times to whole weeks or months, before anything is counted.

A site that shares aggregates at week or month granularity (``toh bundle --time-unit``) coarsens
its derived cohort with :func:`coarsen_cohort` first; a pooled estimate then equals the estimate
of the concatenated cohorts coarsened by the same function.  The rule, in one place:

* a unit is 1 day, 7 days, or a twelfth of ``Definitions.days_per_year`` (30.4375 days);
* a time to an event or to censoring, t days, becomes ``ceil(t / unit) * unit`` days: the end of
  the unit it falls in, so (a, b] stays (a, b] on the coarse grid and day 0 stays 0;
* an interval of radiographic change (lower, upper] is widened to whole units,
  ``(floor(lower / unit) * unit, ceil(upper / unit) * unit]``: it still holds the true interval
  and stays non-empty (an infinite upper end stays infinite).

Times stay in days (multiples of the unit), so every landmark, horizon and rate keeps its
meaning.  Only the index table's times are coarsened (:data:`CEIL_COLUMNS`, :data:`FLOOR_COLUMNS`):
they are all that leaves a site.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from toh.cohort.definitions import Definitions
from toh.cohort.derive import DerivedCohort
from toh.cohort.errors import ConfigError

__all__ = ["TIME_UNITS", "CEIL_COLUMNS", "FLOOR_COLUMNS", "unit_days", "coarsen_cohort", "coarsen_times"]

#: The time granularities a bundle may have.
TIME_UNITS = ("day", "week", "month")
#: Index-table times rounded up to the end of their unit.
CEIL_COLUMNS = ("resolution_days", "followup_days", "patient_followup_days", "recurrence_days", "migration_days",
                "fracture_days", "avn_days", "xr_upper_day")
#: Index-table times rounded down to the start of their unit (lower ends of intervals).
FLOOR_COLUMNS = ("xr_lower_day",)


def unit_days(unit: str, definitions: Definitions) -> float:
    """Length of ``unit`` in days: day 1, week 7, month a twelfth of ``days_per_year``."""
    if unit not in TIME_UNITS:
        raise ConfigError(f"time unit {unit!r} is not one of {', '.join(TIME_UNITS)}")
    return {"day": 1.0, "week": 7.0, "month": definitions.days_per_year / 12}[unit]


def coarsen_times(days: np.ndarray, unit: float, up: bool = True) -> np.ndarray:
    """``days`` rounded up (``up``) or down to whole multiples of ``unit`` days; NaN and inf kept."""
    days = np.asarray(days, dtype=float)
    with np.errstate(invalid="ignore"):
        steps = np.ceil(days / unit) if up else np.floor(days / unit)
    return np.where(np.isfinite(days), steps * unit, days)


def coarsen_cohort(cohort: DerivedCohort, unit: str) -> DerivedCohort:
    """A copy of ``cohort`` whose index-table times are coarsened to ``unit`` (the module's rule).

    At ``unit = "day"`` the cohort is returned as it is (its times are whole days already).
    """
    length = unit_days(unit, cohort.definitions)
    if unit == "day":
        return cohort
    index = cohort.index.copy()
    for columns, up in ((CEIL_COLUMNS, True), (FLOOR_COLUMNS, False)):
        for column in columns:
            if column in index:
                index[column] = coarsen_times(index[column].to_numpy(float), length, up)
    return dataclasses.replace(cohort, index=index)
