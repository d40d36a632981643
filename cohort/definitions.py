"""The estimand definitions: one frozen options object read by derivation, estimators and the
methods text of reports, so that what is computed and what is written can never disagree.

Defaults are documented in ``docs/definitions.md`` (shipped as ``toh.docs``); every field can be
overridden (``Definitions(bilateral_window_days=14)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Definitions", "DEFAULT_DEFINITIONS"]


@dataclass(frozen=True)
class Definitions:
    """How the analysis tables and estimands are defined.

    Attributes
    ----------
    index_joint
        Joint of the cohort's index episode: a patient enters the cohort with their earliest
        episode of this joint (ties broken by the smaller episode_id).
    bilateral_window_days
        An opposite-hip episode whose onset is at most this many days after the index onset is a
        bilateral presentation; later ones are migration.
    days_per_year
        Length of a year in days (a month is a twelfth of it, a week 7 days).
    xr_abnormal_findings
        Plain-film findings that make a film abnormal when any is true; a film is normal when
        all are recorded false, and says nothing (skipped, counted in the attrition) otherwise.
    fracture_event_types, avn_event_types
        Event types counted as insufficiency fracture and as avascular necrosis.
    men_age_range
        Half-open age range [low, high) of "men aged 40-55" (completed years 40 to 55).
    confidence
        Level of every confidence interval.
    """

    index_joint: str = "hip"
    bilateral_window_days: int = 30
    days_per_year: float = 365.25
    xr_abnormal_findings: tuple[str, ...] = ("osteopenia", "subchondral_cortical_loss")
    fracture_event_types: tuple[str, ...] = ("insufficiency_fracture", "subcapital_fracture")
    avn_event_types: tuple[str, ...] = ("avascular_necrosis",)
    men_age_range: tuple[float, float] = (40.0, 56.0)
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if self.bilateral_window_days < 0:
            raise ValueError("bilateral_window_days must be >= 0")
        if self.days_per_year <= 0:
            raise ValueError("days_per_year must be > 0")
        if not 0 < self.confidence < 1:
            raise ValueError("confidence must lie in (0, 1)")
        if not self.xr_abnormal_findings:
            raise ValueError("xr_abnormal_findings must name at least one finding")

    def as_dict(self) -> dict[str, object]:
        """The definitions as plain values (for results.json and the methods text)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_DEFINITIONS = Definitions()
