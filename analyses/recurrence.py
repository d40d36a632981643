"""Same-hip recurrence: a later episode of the index hip after the index episode resolved."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from toh.analyses.result import AnalysisResult
from toh.analyses._second_episode import gray_reasons, gray_tables, incidence_headline, incidence_tables
from toh.cohort.derive import DerivedCohort
from toh.analyses._checks import horizons, names

__all__ = ["RecurrenceOptions", "RecurrenceResult", "analyse_recurrence"]


@dataclass(frozen=True)
class RecurrenceOptions:
    """Months at which the cumulative incidence is read (default 1 and 2 years), the stratum
    variables whose groups Gray's test compares (:data:`toh.analyses._strata.STRATA`), and
    ``min_level``: treatments of fewer patients are compared as "other" (the report's
    ``min_cell``, as :class:`toh.analyses.resolution.ResolutionOptions` does)."""

    months: tuple[float, ...] = (12.0, 24.0)
    strata: tuple[str, ...] = ("sex", "pregnancy", "treatment")
    min_level: int = 0

    def __post_init__(self) -> None:
        horizons("RecurrenceOptions", "months", self.months)
        names("RecurrenceOptions", "strata", self.strata)
        if isinstance(self.min_level, bool) or not isinstance(self.min_level, int) or self.min_level < 0:
            raise ValueError(f"min_level must be a whole number >= 0, got {self.min_level!r}")


@dataclass(frozen=True)
class RecurrenceResult(AnalysisResult):
    """Cumulative incidence (death competing) and rate of same-hip recurrence."""

    incidence: pd.DataFrame
    rates: pd.DataFrame
    curves: pd.DataFrame
    gray: pd.DataFrame
    options: RecurrenceOptions
    conf: float
    name: str = "recurrence"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"recurrence_incidence": self.incidence, "recurrence_rate": self.rates,
                "recurrence_curves": self.curves, "recurrence_gray": self.gray}

    @property
    def not_estimable(self) -> dict[str, str]:  # type: ignore[override]
        """Gray's tests that cannot be made (one group, or no event)."""
        return gray_reasons("recurrence", self.gray)

    def headline(self) -> dict[str, float | int | str | None]:
        return incidence_headline("recurrence", self.incidence, self.rates, self.gray)


def analyse_recurrence(cohort: DerivedCohort, options: RecurrenceOptions | None = None) -> RecurrenceResult:
    """Estimate same-hip recurrence after the index episode.

    Time runs from the index onset to the onset of the first same-hip episode that starts after
    the index resolution_date; death before it is a competing risk, end of follow-up censors.
    Cumulative incidence is Aalen-Johansen with cmprsk's variance and a log(-log) interval; the
    rate counts first recurrences per 100 person-years with an exact Poisson interval.
    """
    options = options or RecurrenceOptions()
    d = cohort.definitions
    incidence, curves, rates = incidence_tables(cohort.index, "recurrence", options.months, d.days_per_year, d.confidence)
    gray = gray_tables(cohort.index, "recurrence", options.strata, options.min_level)
    return RecurrenceResult(incidence, rates, curves, gray, options, d.confidence)
