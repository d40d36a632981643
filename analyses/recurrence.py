"""Same-hip recurrence: a later episode of the index hip after the index episode resolved."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analyses._result import AnalysisResult
from analyses._second_episode import incidence_headline, incidence_tables
from cohort.derive import DerivedCohort

__all__ = ["RecurrenceOptions", "RecurrenceResult", "analyse_recurrence"]


@dataclass(frozen=True)
class RecurrenceOptions:
    """Months at which the cumulative incidence is read (default 1 and 2 years)."""

    months: tuple[float, ...] = (12.0, 24.0)


@dataclass(frozen=True)
class RecurrenceResult(AnalysisResult):
    """Cumulative incidence (death competing) and rate of same-hip recurrence."""

    incidence: pd.DataFrame
    rates: pd.DataFrame
    curves: pd.DataFrame
    options: RecurrenceOptions
    conf: float
    name: str = "recurrence"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"recurrence_incidence": self.incidence, "recurrence_rate": self.rates,
                "recurrence_curves": self.curves}

    def headline(self) -> dict[str, float | int | str | None]:
        return incidence_headline("recurrence", self.incidence, self.rates)


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
    return RecurrenceResult(incidence, rates, curves, options, d.confidence)
