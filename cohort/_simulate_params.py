"""Parameters of the synthetic registry generator (re-exported by :mod:`toh.cohort.simulate`).

Every calibration default of ``docs/definitions.md`` ("The synthetic registry's calibration defaults") is a
field here; the remaining fields are generator choices the literature gives no number for (marked
*generator choice* below).  The values used are recorded in each export's ``truth.json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from toh.schemas.codes import EDEMA_EXTENT, JOINTS, TRIMESTERS

__all__ = ["SimulationParameters", "TREATMENTS"]

#: Treatment codes the generator writes, the first being the most frequent (the Cox reference).
TREATMENTS: tuple[str, ...] = ("conservative", "bisphosphonate", "other")

_SHARES = (
    "share_men", "women_pregnant_share", "women_postpartum_share", "women_neither_share",
    "share_birth_year_only", "left_share", "left_share_pregnancy", "bilateral_share",
    "single_film_share", "later_episode_film_share", "subchondral_loss_share",
    "joint_effusion_share", "joint_space_preserved_share", "mri_share", "t1_low_share",
    "t2_high_share", "nm_share", "uptake_increased_share", "ct_share", "missing_finding_share",
    "treatment_conservative_share", "treatment_bisphosphonate_share", "treatment_other_share",
    "recurrence_by_2y", "migration_by_2y", "migration_opposite_hip_share",
    "fracture_share_not_pregnancy", "fracture_share_pregnancy", "subcapital_fracture_share",
    "surgery_after_fracture_share", "avn_share", "other_event_share", "loss_share",
)
_POSITIVE = (
    "age_men_sd", "age_pregnancy_sd", "age_women_other_sd", "change_median_days", "change_log_sd",
    "resolution_median_days", "resolution_log_sd", "bisphosphonate_factor",
    "recurrence_gap_median_days", "recurrence_gap_log_sd", "migration_median_months",
    "migration_log_sd",
)
_DAY_RANGES = (
    "diagnosis_delay_days", "film_interval_days", "mri_delay_days", "nm_delay_days",
    "ct_delay_days", "surgery_delay_days", "avn_window_days",
)


@dataclass(frozen=True)
class SimulationParameters:
    """Every number the generator draws from; all fields have the documented defaults.

    Attributes
    ----------
    export_date : datetime.date
        Day of the export: no date in the output is after it (fixed, never today's date).
    study_start : datetime.date
        Index onsets are uniform on whole days from ``study_start`` to
        ``export_date - index_onset_margin_days``.
    index_onset_margin_days : int
        See ``study_start`` (60).
    share_men : float
        Share of men (0.75, i.e. M:F 3:1).
    age_men_mean, age_men_sd, age_men_range : float, float, (float, float)
        Age at onset of men: normal(47, 7) truncated to 25-75 years.
    women_pregnant_share, women_postpartum_share, women_neither_share : float
        Pregnancy status of women at index onset (0.55, 0.15, 0.30; they sum to 1).
    trimester_shares : (float, float, float)
        Trimester 1, 2, 3 among pregnant women (0.05, 0.15, 0.80).
    age_pregnancy_mean, age_pregnancy_sd, age_pregnancy_range
        Age of pregnant or postpartum women: normal(31, 5) truncated to 18-45.
    age_women_other_mean, age_women_other_sd, age_women_other_range
        Age of other women: normal(52, 10) truncated to 25-80.
    share_birth_year_only : float
        Patients whose birth_date is left empty (birth_year is always given) (0.10).
    sites, site_shares : tuple of str, tuple of float
        Recruiting sites and their shares (generator choice: 0.45, 0.35, 0.20).
    left_share, left_share_pregnancy : float
        P(index hip is the left one): 0.5; 0.65 for pregnant or postpartum women.
    bilateral_share : float
        Share with an opposite-hip episode starting 0..``bilateral_window_days`` days after the
        index onset (0.03).
    bilateral_window_days : int
        The bilateral window (30 days).
    diagnosis_delay_days : (int, int)
        diagnosis_date = onset + uniform whole days in this range, both ends included (1-6 weeks).
    change_median_days, change_log_sd : float
        Onset to radiographic change: log-normal, median 42 days, log-SD 0.22.  The change day is
        the continuous time rounded up to a whole day; a film on or after it is abnormal.
    film_interval_days : (int, int)
        Days between films, uniform (3-6 weeks).  Films run from diagnosis until a film that shows
        the change (osteopenia or subchondral loss recorded true), resolution or end of contact.
    single_film_share : float
        Episodes with a single film (0.10).
    later_episode_film_share : float
        Non-index episodes that get films at all (generator choice: 0.5; index episodes always do).
    subchondral_loss_share : float
        P(subchondral_cortical_loss) on a film after the change (generator choice: 0.6); before
        the change osteopenia and subchondral loss are both false.
    joint_effusion_share, joint_space_preserved_share : float
        XR effusion (generator choice: 0.3) and preserved joint space (generator choice: 0.97).
    mri_share, mri_delay_days : float, (int, int)
        Episodes with one MRI (generator choice: 0.85), dated diagnosis + 0-7 days.
    t1_low_share, t2_high_share : float
        MRI marrow signal (generator choice: 0.95 each).
    edema_extent_shares : (float, float, float)
        Head / neck / intertrochanteric oedema extent on hip MRI (generator choice: 0.25, 0.5,
        0.25); empty for other joints.
    nm_share, nm_delay_days, uptake_increased_share
        Scintigraphy (NM): 0.15 of episodes, diagnosis + 0-14 days, uptake increased 0.95
        (generator choices).
    ct_share, ct_delay_days
        CT (no findings columns): 0.02 of episodes, diagnosis + 0-30 days (generator choices).
    missing_finding_share : float
        Each applicable finding cell is empty with this probability (0.05).
    resolution_median_days, resolution_log_sd : float
        Onset to resolution: log-normal, median 200 days, log-SD 0.35; the resolution day is the
        continuous time rounded up to a whole day.
    treatment_conservative_share, treatment_bisphosphonate_share, treatment_other_share : float
        Treatment of each episode (0.55, 0.30, 0.15), codes in ``TREATMENTS``.
    bisphosphonate_factor : float
        Bisphosphonate multiplies the time to resolution by this (0.75).
    recurrence_by_2y : float
        Target cumulative incidence of same-hip recurrence 730.5 days after index onset, absent
        censoring and death (0.05).  A recurrence starts after the index resolution.
    recurrence_gap_median_days, recurrence_gap_log_sd : float
        Resolution to recurrence onset, among those who recur: log-normal (generator choice:
        median 180 days, log-SD 0.6).  The recurring share is calibrated to ``recurrence_by_2y``.
    migration_by_2y : float
        Target cumulative incidence of migration by 730.5 days, absent censoring and death (0.12).
    migration_median_months, migration_log_sd : float
        Index onset to migration onset, among those who migrate: log-normal, median 14 months
        (log-SD a generator choice: 0.5), truncated to more than ``migration_min_days``.
    migration_min_days : int
        Migration starts more than this many days after the index onset (30).
    migration_opposite_hip_share : float
        Migrations to the opposite hip (0.70); patients with a bilateral episode migrate to
        another joint instead, so that no hip has two overlapping roles.
    migration_joints, migration_joint_shares : tuple of str, tuple of float
        Joints of the other migrations (knee, ankle, foot: generator choice 0.5, 0.3, 0.2).
    fracture_share_not_pregnancy, fracture_share_pregnancy : float
        Insufficiency / subcapital fracture of the index episode: 0.02 outside pregnancy, 0.10 in
        pregnancy-associated (pregnant or postpartum) episodes.
    fracture_window_days : int
        Fractures occur 1..91 days after onset (3 months).
    subcapital_fracture_share : float
        Fractures coded subcapital_fracture, the rest insufficiency_fracture (generator choice 0.4).
    surgery_after_fracture_share, surgery_delay_days
        A surgery event follows a fracture (generator choice: 0.3, 1-14 days later).
    avn_share, avn_window_days
        avascular_necrosis of the index episode (0.01), 30-365 days after onset (generator choice).
    other_event_share, other_event_window_days
        An "other" event on any episode (generator choice: 0.02, 0-182 days after onset).
    death_rate_per_100py : float
        Background death rate from index onset (0.3 per 100 person-years), among patients alive
        at their index diagnosis (a registry records living patients).
    loss_share, loss_window_days
        Patients lost to follow-up (0.10) at a uniform whole day between index diagnosis and
        ``loss_window_days`` (365) after index onset; the others are followed to the export date.
    """

    export_date: dt.date = dt.date(2025, 12, 31)
    study_start: dt.date = dt.date(2012, 1, 1)
    index_onset_margin_days: int = 60
    share_men: float = 0.75
    age_men_mean: float = 47.0
    age_men_sd: float = 7.0
    age_men_range: tuple[float, float] = (25.0, 75.0)
    women_pregnant_share: float = 0.55
    women_postpartum_share: float = 0.15
    women_neither_share: float = 0.30
    trimester_shares: tuple[float, float, float] = (0.05, 0.15, 0.80)
    age_pregnancy_mean: float = 31.0
    age_pregnancy_sd: float = 5.0
    age_pregnancy_range: tuple[float, float] = (18.0, 45.0)
    age_women_other_mean: float = 52.0
    age_women_other_sd: float = 10.0
    age_women_other_range: tuple[float, float] = (25.0, 80.0)
    share_birth_year_only: float = 0.10
    sites: tuple[str, ...] = ("A", "B", "C")
    site_shares: tuple[float, ...] = (0.45, 0.35, 0.20)
    left_share: float = 0.5
    left_share_pregnancy: float = 0.65
    bilateral_share: float = 0.03
    bilateral_window_days: int = 30
    diagnosis_delay_days: tuple[int, int] = (7, 42)
    change_median_days: float = 42.0
    change_log_sd: float = 0.22
    film_interval_days: tuple[int, int] = (21, 42)
    single_film_share: float = 0.10
    later_episode_film_share: float = 0.5
    subchondral_loss_share: float = 0.6
    joint_effusion_share: float = 0.3
    joint_space_preserved_share: float = 0.97
    mri_share: float = 0.85
    mri_delay_days: tuple[int, int] = (0, 7)
    t1_low_share: float = 0.95
    t2_high_share: float = 0.95
    edema_extent_shares: tuple[float, float, float] = (0.25, 0.50, 0.25)
    nm_share: float = 0.15
    nm_delay_days: tuple[int, int] = (0, 14)
    uptake_increased_share: float = 0.95
    ct_share: float = 0.02
    ct_delay_days: tuple[int, int] = (0, 30)
    missing_finding_share: float = 0.05
    resolution_median_days: float = 200.0
    resolution_log_sd: float = 0.35
    treatment_conservative_share: float = 0.55
    treatment_bisphosphonate_share: float = 0.30
    treatment_other_share: float = 0.15
    bisphosphonate_factor: float = 0.75
    recurrence_by_2y: float = 0.05
    recurrence_gap_median_days: float = 180.0
    recurrence_gap_log_sd: float = 0.6
    migration_by_2y: float = 0.12
    migration_median_months: float = 14.0
    migration_log_sd: float = 0.5
    migration_min_days: int = 30
    migration_opposite_hip_share: float = 0.70
    migration_joints: tuple[str, ...] = ("knee", "ankle", "foot")
    migration_joint_shares: tuple[float, ...] = (0.5, 0.3, 0.2)
    fracture_share_not_pregnancy: float = 0.02
    fracture_share_pregnancy: float = 0.10
    fracture_window_days: int = 91
    subcapital_fracture_share: float = 0.4
    surgery_after_fracture_share: float = 0.3
    surgery_delay_days: tuple[int, int] = (1, 14)
    avn_share: float = 0.01
    avn_window_days: tuple[int, int] = (30, 365)
    other_event_share: float = 0.02
    other_event_window_days: int = 182
    death_rate_per_100py: float = 0.3
    loss_share: float = 0.10
    loss_window_days: int = 365

    def __post_init__(self) -> None:
        """Check ranges and that every set of shares sums to one."""
        for name in _SHARES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
        for name in _POSITIVE:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in _DAY_RANGES:
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        if self.film_interval_days[0] < 1:
            raise ValueError("film_interval_days must start at 1 day or more")
        if self.diagnosis_delay_days[1] >= self.loss_window_days:
            raise ValueError("diagnosis_delay_days must end before loss_window_days")
        for name in ("age_men_range", "age_pregnancy_range", "age_women_other_range"):
            low, high = getattr(self, name)
            if not 10.0 <= low < high <= 110.0:
                raise ValueError(f"{name} must lie within 10-110 years, low < high")
        groups = {
            "women shares": (self.women_pregnant_share, self.women_postpartum_share,
                             self.women_neither_share),
            "treatment shares": (self.treatment_conservative_share,
                                 self.treatment_bisphosphonate_share, self.treatment_other_share),
            "trimester_shares": self.trimester_shares,
            "site_shares": self.site_shares,
            "edema_extent_shares": self.edema_extent_shares,
            "migration_joint_shares": self.migration_joint_shares,
        }
        for name, shares in groups.items():
            if min(shares) < 0 or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
                raise ValueError(f"{name} must be non-negative and sum to 1, got {shares!r}")
        if len(self.trimester_shares) != len(TRIMESTERS):
            raise ValueError("trimester_shares needs one share per trimester")
        if len(self.edema_extent_shares) != len(EDEMA_EXTENT):
            raise ValueError("edema_extent_shares needs one share per EDEMA_EXTENT code")
        if len(self.sites) != len(self.site_shares) or not self.sites:
            raise ValueError("sites and site_shares must have the same, non-zero length")
        if len(self.migration_joints) != len(self.migration_joint_shares):
            raise ValueError("migration_joints and migration_joint_shares differ in length")
        if not set(self.migration_joints) <= set(JOINTS) - {"hip"}:
            raise ValueError(f"migration_joints must be non-hip codes of {JOINTS}")
        last_onset = self.export_date - dt.timedelta(days=self.index_onset_margin_days)
        if self.study_start > last_onset:
            raise ValueError("study_start must be on or before export_date - margin")
        if self.death_rate_per_100py < 0:
            raise ValueError("death_rate_per_100py must be non-negative")
        if not 0 <= self.bilateral_window_days <= self.migration_min_days:
            raise ValueError("need 0 <= bilateral_window_days <= migration_min_days")
        if self.fracture_window_days < 1 or self.other_event_window_days < 0:
            raise ValueError("fracture_window_days >= 1 and other_event_window_days >= 0")

    @property
    def treatment_shares(self) -> tuple[float, float, float]:
        """Shares of the ``TREATMENTS`` codes, in that order."""
        return (self.treatment_conservative_share, self.treatment_bisphosphonate_share,
                self.treatment_other_share)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-serialisable: dates as ISO strings, tuples as lists."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SimulationParameters:
        """Rebuild parameters from :meth:`to_dict` output (e.g. ``truth.json["parameters"]``)."""
        kwargs: dict[str, Any] = {}
        defaults = cls()
        for field in dataclasses.fields(cls):
            if field.name not in values:
                continue
            value = values[field.name]
            default = getattr(defaults, field.name)
            if isinstance(default, dt.date) and isinstance(value, str):
                value = dt.date.fromisoformat(value)
            elif isinstance(default, tuple):
                value = tuple(value)
            kwargs[field.name] = value
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown simulation parameters: {sorted(unknown)}")
        return cls(**kwargs)
