"""True values behind a simulated registry, and the calibration of recurrence and migration.

Everything here is analytic: the generator records times in whole days (a continuous time ``T``
becomes day ``ceil(T)``), so the distributions are evaluated exactly on the whole-day grid, which
is what an analysis of the exported dates can recover.  "At t days" reads a curve at ``t``; on the
whole-day grid that is day ``floor(t)`` (e.g. 730.5 -> 730).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from toh.cohort._simulate_params import TREATMENTS, SimulationParameters

__all__ = ["Calibration", "calibrate", "derived_truth", "DAYS_PER_YEAR", "DAYS_PER_MONTH"]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
_HORIZON = 2 * DAYS_PER_YEAR  # "by 2 years" = 730.5 days
_GRID = int(math.floor(_HORIZON))  # last whole day on or before 730.5


@dataclass(frozen=True)
class Calibration:
    """Numbers derived from the parameters that the generator draws with.

    Attributes
    ----------
    recurrence_probability, migration_probability : float
        Share of patients whose index hip recurs / who migrate (absent censoring).
    recurrence_onset_by_2y_given_recurrence, migration_onset_by_2y_given_migration : float
        P(onset day <= 730 | recurs / migrates), from index onset.
    death_rate_per_day : float
        The background death hazard.
    recurrence_onset_pmf, migration_onset_pmf : numpy.ndarray
        Whole-day pmf (index = day from index onset, days 0-730) given recurrence / migration.
    """

    recurrence_probability: float
    recurrence_onset_by_2y_given_recurrence: float
    migration_probability: float
    migration_onset_by_2y_given_migration: float
    death_rate_per_day: float
    recurrence_onset_pmf: np.ndarray = field(repr=False)
    migration_onset_pmf: np.ndarray = field(repr=False)


def _lognormal_cdf(days: np.ndarray, median: float, log_sd: float) -> np.ndarray:
    """P(T <= days) for log-normal T; 0 for days <= 0."""
    days = np.asarray(days, dtype=float)
    out = np.zeros_like(days)
    pos = days > 0
    out[pos] = special.ndtr((np.log(days[pos]) - math.log(median)) / log_sd)
    return out


def _resolution_cdf(days: np.ndarray, p: SimulationParameters) -> np.ndarray:
    """P(T_resolution <= days), mixture over the treatments."""
    total = np.zeros(np.shape(days))
    for code, share in zip(TREATMENTS, p.treatment_shares):
        factor = p.bisphosphonate_factor if code == "bisphosphonate" else 1.0
        total = total + share * _lognormal_cdf(days, p.resolution_median_days * factor,
                                               p.resolution_log_sd)
    return total


def _pmf(cdf_on_grid: np.ndarray) -> np.ndarray:
    """Whole-day pmf (index = day) from a cdf evaluated on days 0, 1, ..., with cdf(0) = 0."""
    return np.diff(cdf_on_grid, prepend=0.0)


def _migration_cdf(days: np.ndarray, p: SimulationParameters) -> np.ndarray:
    """P(T_migration <= days | migrates): log-normal truncated to > migration_min_days."""
    median = p.migration_median_months * DAYS_PER_MONTH
    low = _lognormal_cdf(np.array([p.migration_min_days]), median, p.migration_log_sd)[0]
    raw = _lognormal_cdf(days, median, p.migration_log_sd)
    return np.clip((raw - low) / (1.0 - low), 0.0, 1.0)


def _death_survival(days: np.ndarray, p: SimulationParameters) -> np.ndarray:
    """P(death day >= days) from index onset: diagnosis delay + ceil(exponential)."""
    rate = p.death_rate_per_100py / 100.0 / DAYS_PER_YEAR
    delays = np.arange(p.diagnosis_delay_days[0], p.diagnosis_delay_days[1] + 1)
    after = np.asarray(days, dtype=float)[:, None] - delays[None, :] - 1.0
    return np.exp(-rate * np.clip(after, 0.0, None)).mean(axis=1)


def calibrate(p: SimulationParameters) -> Calibration:
    """Return the recurring and migrating shares that meet the 2-year targets.

    Parameters
    ----------
    p : SimulationParameters
        The parameters; ``recurrence_by_2y`` and ``migration_by_2y`` are the targets.

    Returns
    -------
    Calibration
        The recurring share (recurrence onset = index resolution day + ceil(gap)) and migrating
        share that meet the targets, with the distributions they were computed from.

    Raises
    ------
    ValueError
        If a target cannot be met (it would need a share above 1).
    """
    days = np.arange(_GRID + 1, dtype=float)
    res_pmf = _pmf(_resolution_cdf(days, p))
    gap_pmf = _pmf(_lognormal_cdf(days, p.recurrence_gap_median_days, p.recurrence_gap_log_sd))
    rec_pmf = np.convolve(res_pmf, gap_pmf)[: _GRID + 1]
    mig_pmf = _pmf(_migration_cdf(days, p))
    rec_by = float(rec_pmf.sum())
    mig_by = float(mig_pmf.sum())
    shares = {
        "recurrence_probability": p.recurrence_by_2y / rec_by if rec_by > 0 else math.inf,
        "migration_probability": p.migration_by_2y / mig_by if mig_by > 0 else math.inf,
    }
    for key, value in shares.items():
        if not value <= 1.0:
            raise ValueError(f"cannot calibrate: {key} would be {value!r} > 1")
    return Calibration(
        recurrence_onset_by_2y_given_recurrence=rec_by,
        migration_onset_by_2y_given_migration=mig_by,
        death_rate_per_day=p.death_rate_per_100py / 100.0 / DAYS_PER_YEAR,
        recurrence_onset_pmf=rec_pmf,
        migration_onset_pmf=mig_pmf,
        **shares,
    )


def _entry(value: float, method: str) -> dict[str, Any]:
    return {"value": float(value), "method": method}


def derived_truth(p: SimulationParameters, cal: Calibration) -> dict[str, dict[str, Any]]:
    """The true values an analysis of the export should recover, each with its method note.

    Parameters
    ----------
    p : SimulationParameters
        The parameters used.
    cal : Calibration
        Output of :func:`calibrate` for ``p``.

    Returns
    -------
    dict
        ``{key: {"value": float, "method": str}}``, JSON-serialisable.
    """
    analytic = "analytic from the parameters"
    grid = "analytic, exact on the whole-day grid (times recorded as ceil(continuous time))"
    cif = (grid + "; competing risk: death (rate from index onset, alive at index diagnosis); "
           "absent loss to follow-up and administrative censoring")
    women = 1.0 - p.share_men
    preg_assoc = p.women_pregnant_share + p.women_postpartum_share
    share_pa = women * preg_assoc
    d: dict[str, dict[str, Any]] = {
        "share_men": _entry(p.share_men, analytic),
        "male_to_female_ratio": _entry(p.share_men / women if women > 0 else math.inf, analytic),
        "share_pregnancy_associated_among_women": _entry(preg_assoc, analytic),
        "share_pregnant_in_trimester_3": _entry(p.trimester_shares[2], analytic),
        "bilateral_presentation_probability": _entry(p.bilateral_share, analytic),
        "radiographic_change_median_days": _entry(p.change_median_days, analytic + " (log-normal "
                                                  "median; P(change day <= 42) = 0.5 exactly)"),
    }
    for t in (28, 56, 84):
        value = _lognormal_cdf(np.array([float(t)]), p.change_median_days, p.change_log_sd)[0]
        d[f"radiographic_change_by_{t}_days"] = _entry(value, grid)

    def mixture_minus_half(t: float) -> float:
        return float(_resolution_cdf(np.array([t]), p)[0]) - 0.5

    median = optimize.brentq(mixture_minus_half, 1e-6, 1e6, xtol=1e-12, rtol=1e-15)
    d["resolution_median_days"] = _entry(median, "analytic (root of the treatment-mixture cdf), "
                                         "continuous time")
    d["resolution_median_days_whole"] = _entry(math.ceil(median), grid)
    for t, label in ((182.625, "6_months"), (243.5, "8_months"), (365.25, "12_months")):
        value = 1.0 - _resolution_cdf(np.array([float(math.floor(t))]), p)[0]
        d[f"resolution_survival_{label}"] = _entry(value, grid + f"; S({t}) = P(day > {t})")

    days = np.arange(_GRID + 1, dtype=float)
    alive = _death_survival(days, p)
    for name in ("recurrence", "migration"):
        pmf = getattr(cal, f"{name}_onset_pmf")
        share = getattr(cal, f"{name}_probability")
        for t, label in ((DAYS_PER_YEAR, "1y"), (_HORIZON, "2y")):
            last = int(math.floor(t))
            value = share * float(np.sum(pmf[: last + 1] * alive[: last + 1]))
            d[f"{name}_cumulative_incidence_{label}"] = _entry(value, cif + f"; read at {t} days")
        d[f"{name}_probability"] = _entry(share, f"calibration: {name} share so that its "
                                          "cumulative incidence by 730.5 days, absent censoring "
                                          f"and death, is {name}_by_2y")
        d[f"{name}_onset_by_2y_given_{name}"] = _entry(
            getattr(cal, f"{name}_onset_by_2y_given_{name}"), grid + " (used for the calibration)")
    d["migration_opposite_hip_share"] = _entry(
        p.migration_opposite_hip_share * (1.0 - p.bilateral_share),
        analytic + " (patients with a bilateral episode migrate to another joint)")
    d["death_rate_per_day"] = _entry(cal.death_rate_per_day, analytic)
    absent = analytic + "; generative probability, absent censoring"
    fr_all = (1 - share_pa) * p.fracture_share_not_pregnancy + share_pa * p.fracture_share_pregnancy
    d["fracture_probability"] = _entry(fr_all, absent + " (mixture over pregnancy association)")
    d["fracture_probability_pregnancy_associated"] = _entry(p.fracture_share_pregnancy, absent)
    d["fracture_probability_not_pregnancy_associated"] = _entry(
        p.fracture_share_not_pregnancy, absent)
    d["avn_probability"] = _entry(p.avn_share, absent)
    return d
