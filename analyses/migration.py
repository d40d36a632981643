"""Migration (regional migratory osteoporosis): a later episode in the opposite hip, beyond the
bilateral window, or in another joint."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from toh.analyses.result import AnalysisResult
from toh.analyses._second_episode import gray_reasons, gray_tables, incidence_headline, incidence_tables
from toh.cohort.derive import DerivedCohort
from toh.analyses._checks import horizons, names

__all__ = ["MigrationOptions", "MigrationResult", "analyse_migration", "site_table"]


@dataclass(frozen=True)
class MigrationOptions:
    """Months at which the cumulative incidence is read (default 1 and 2 years), the stratum
    variables whose groups Gray's test compares (:data:`toh.analyses._strata.STRATA`), and
    ``min_level``: treatments of fewer patients are compared as "other" (the report's
    ``min_cell``, as :class:`toh.analyses.resolution.ResolutionOptions` does)."""

    months: tuple[float, ...] = (12.0, 24.0)
    strata: tuple[str, ...] = ("sex", "pregnancy", "treatment")
    min_level: int = 0

    def __post_init__(self) -> None:
        horizons("MigrationOptions", "months", self.months)
        names("MigrationOptions", "strata", self.strata)
        if isinstance(self.min_level, bool) or not isinstance(self.min_level, int) or self.min_level < 0:
            raise ValueError(f"min_level must be a whole number >= 0, got {self.min_level!r}")


@dataclass(frozen=True)
class MigrationResult(AnalysisResult):
    """Cumulative incidence (death competing), rate, and the joints migration went to."""

    incidence: pd.DataFrame
    rates: pd.DataFrame
    sites: pd.DataFrame
    curves: pd.DataFrame
    gray: pd.DataFrame
    options: MigrationOptions
    conf: float
    name: str = "migration"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"migration_incidence": self.incidence, "migration_rate": self.rates,
                "migration_sites": self.sites, "migration_curves": self.curves, "migration_gray": self.gray}

    @property
    def not_estimable(self) -> dict[str, str]:  # type: ignore[override]
        """Gray's tests that cannot be made (one group, or no event)."""
        return gray_reasons("migration", self.gray)

    def headline(self) -> dict[str, float | int | str | None]:
        out = dict(incidence_headline("migration", self.incidence, self.rates, self.gray))
        for row in self.sites.itertuples():
            out[f"migration.sites.{row.site}"] = int(row.n)
        return out


SITES = ("contralateral_hip", "knee", "ankle", "foot", "other")


def site_table(counts: pd.DataFrame) -> pd.DataFrame:
    """``site, n, share_of_migrations`` from first migrations per site (``site, n``: one
    cohort's, or summed over sites); the share is NaN when nobody migrated."""
    moved = int(counts["n"].sum())
    return counts[["site", "n"]].assign(share_of_migrations=counts["n"] / moved if moved else float("nan"))


def analyse_migration(cohort: DerivedCohort, options: MigrationOptions | None = None) -> MigrationResult:
    """Estimate migration after the index episode.

    Time runs from the index onset to the onset of the first migration episode; death before it
    is a competing risk.  Estimators as for recurrence (:mod:`toh.analyses.recurrence`); ``sites``
    counts where the first migration went, with its share of migrations.
    """
    options = options or MigrationOptions()
    d = cohort.definitions
    index = cohort.index
    incidence, curves, rates = incidence_tables(index, "migration", options.months, d.days_per_year, d.confidence)
    counts = index.loc[index["migration_status"] == 1, "migration_site"].value_counts()
    sites = site_table(pd.DataFrame([(s, int(counts.get(s, 0))) for s in SITES], columns=["site", "n"]))
    gray = gray_tables(index, "migration", options.strata, options.min_level)
    return MigrationResult(incidence, rates, sites, curves, gray, options, d.confidence)
