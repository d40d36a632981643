"""Patients and episodes of the synthetic registry (integer-coded numpy arrays).

Days are day numbers (days since 1970-01-01); codes index the tuples of :mod:`toh.schemas.codes`
(``MISSING`` for an empty cell).  Every draw comes from the one generator passed in, in a fixed
order, so the same (n, seed, parameters) gives the same arrays.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from toh.cohort._simulate_params import TREATMENTS, SimulationParameters
from toh.cohort._simulate_truth import DAYS_PER_MONTH, Calibration
from toh.cohort._simulate_util import (
    MISSING,
    categorical,
    day_number,
    lognormal_days,
    truncated_normal,
    uniform_days,
)
from toh.schemas.codes import JOINTS, PREGNANCY, SIDES, TRIMESTERS

__all__ = ["INDEX", "BILATERAL", "RECURRENCE", "MIGRATION", "draw_cohort"]

#: Kinds of episode, in the order that breaks ties of onset (the index comes first).
INDEX, BILATERAL, RECURRENCE, MIGRATION = 0, 1, 2, 3

HIP = JOINTS.index("hip")
LEFT, RIGHT = SIDES.index("L"), SIDES.index("R")
NONE, PREGNANT, POSTPARTUM = (PREGNANCY.index(c) for c in ("none", "pregnant", "postpartum"))
BISPHOSPHONATE = TREATMENTS.index("bisphosphonate")

Arrays = dict[str, np.ndarray]


def _course(rng: np.random.Generator, onset: np.ndarray, p: SimulationParameters) -> Arrays:
    """Treatment, true resolution day and true diagnosis day of episodes starting on ``onset``."""
    m = onset.size
    treatment = categorical(rng, m, p.treatment_shares)
    median = np.where(treatment == BISPHOSPHONATE,
                      p.resolution_median_days * p.bisphosphonate_factor,
                      p.resolution_median_days)
    resolution = onset + lognormal_days(rng, median, p.resolution_log_sd, m)
    diagnosis = onset + uniform_days(rng, p.diagnosis_delay_days, m)
    return {"treatment": treatment, "resolution": resolution, "diagnosis": diagnosis}


def _draw_patients(rng: np.random.Generator, n: int, p: SimulationParameters) -> Arrays:
    """Sex, pregnancy status, age, index onset, birth and site of ``n`` patients."""
    male = rng.random(n) < p.share_men
    shares = {"none": p.women_neither_share, "pregnant": p.women_pregnant_share,
              "postpartum": p.women_postpartum_share}
    pregnancy = categorical(rng, n, [shares[c] for c in PREGNANCY])
    pregnancy[male] = MISSING
    trimester = np.asarray(TRIMESTERS, dtype=np.int64)[categorical(rng, n, p.trimester_shares)]
    trimester[pregnancy != PREGNANT] = MISSING
    associated = (pregnancy == PREGNANT) | (pregnancy == POSTPARTUM)
    groups = np.where(male, 0, np.where(associated, 1, 2))
    table = np.array([
        [p.age_men_mean, p.age_men_sd, *p.age_men_range],
        [p.age_pregnancy_mean, p.age_pregnancy_sd, *p.age_pregnancy_range],
        [p.age_women_other_mean, p.age_women_other_sd, *p.age_women_other_range],
    ])[groups]
    age = truncated_normal(rng, table[:, 0], table[:, 1], table[:, 2], table[:, 3])
    first = day_number(p.study_start)
    last = day_number(p.export_date) - p.index_onset_margin_days
    onset = rng.integers(first, last + 1, size=n, dtype=np.int64)
    birth = onset - np.rint(age * 365.25).astype(np.int64)
    birth_year_only = rng.random(n) < p.share_birth_year_only
    site = categorical(rng, n, p.site_shares)
    side = np.where(rng.random(n) < np.where(associated, p.left_share_pregnancy, p.left_share),
                    LEFT, RIGHT).astype(np.int8)
    return {"male": male, "pregnancy": pregnancy, "trimester": trimester, "onset": onset,
            "birth": birth, "birth_year_only": birth_year_only, "site": site, "side": side}


def _end_of_contact(rng: np.random.Generator, pat: Arrays, p: SimulationParameters,
                    cal: Calibration) -> None:
    """Add death (recorded or not), loss to follow-up and the end of contact to ``pat``."""
    n = pat["onset"].size
    entry = pat["index_diagnosis"] - pat["onset"]
    if cal.death_rate_per_day > 0:
        wait = rng.exponential(1.0 / cal.death_rate_per_day, size=n)
        death = pat["index_diagnosis"] + np.maximum(np.ceil(wait), 1).astype(np.int64)
    else:
        death = np.full(n, np.iinfo(np.int64).max // 2, dtype=np.int64)
    lost = rng.random(n) < p.loss_share
    loss = pat["onset"] + rng.integers(entry, p.loss_window_days + 1, dtype=np.int64)
    contact = np.where(lost, np.minimum(loss, day_number(p.export_date)),
                       day_number(p.export_date))
    pat["died"] = death <= contact
    pat["death"] = death
    pat["end"] = np.minimum(contact, death)


def _opposite(side: np.ndarray) -> np.ndarray:
    return np.where(side == LEFT, RIGHT, LEFT).astype(np.int8)


def draw_cohort(rng: np.random.Generator, n: int, p: SimulationParameters,
                cal: Calibration) -> tuple[Arrays, Arrays]:
    """Draw patients and their recorded episodes.

    Parameters
    ----------
    rng : numpy.random.Generator
        The one generator of the run.
    n : int
        Number of patients.
    p : SimulationParameters
        Parameters.
    cal : Calibration
        Recurring and migrating shares from :func:`toh.cohort._simulate_truth.calibrate`.

    Returns
    -------
    patients, episodes : dict of numpy arrays
        Patients in id order (``end``: end of contact; ``died``: death recorded).  Episodes whose
        onset is on or before the patient's end of contact, sorted by (patient, onset, kind); their
        ``resolution`` and ``diagnosis`` are the true days, recorded only when not after ``end``.
    """
    pat = _draw_patients(rng, n, p)
    index = _course(rng, pat["onset"], p)
    pat["index_diagnosis"] = index["diagnosis"]
    _end_of_contact(rng, pat, p, cal)
    everyone = np.arange(n, dtype=np.int64)
    parts: list[Arrays] = [{
        "patient": everyone, "kind": np.full(n, INDEX, np.int8), "onset": pat["onset"],
        "joint": np.full(n, HIP, np.int8), "side": pat["side"],
        "pregnancy": pat["pregnancy"], "trimester": pat["trimester"], **index,
    }]

    bilateral = np.flatnonzero(rng.random(n) < p.bilateral_share)
    onset = pat["onset"][bilateral] + uniform_days(rng, (0, p.bilateral_window_days),
                                                   bilateral.size)
    parts.append({
        "patient": bilateral, "kind": np.full(bilateral.size, BILATERAL, np.int8),
        "onset": onset, "joint": np.full(bilateral.size, HIP, np.int8),
        "side": _opposite(pat["side"][bilateral]), "pregnancy": pat["pregnancy"][bilateral],
        "trimester": pat["trimester"][bilateral], **_course(rng, onset, p),
    })

    recur = np.flatnonzero(rng.random(n) < cal.recurrence_probability)
    onset = index["resolution"][recur] + lognormal_days(
        rng, p.recurrence_gap_median_days, p.recurrence_gap_log_sd, recur.size)
    parts.append(_later(rng, pat, recur, RECURRENCE, onset, np.full(recur.size, HIP, np.int8),
                        pat["side"][recur], p))

    migrate = np.flatnonzero(rng.random(n) < cal.migration_probability)
    m = migrate.size
    median = p.migration_median_months * DAYS_PER_MONTH
    low = (special.ndtr((np.log(p.migration_min_days) - np.log(median)) / p.migration_log_sd)
           if p.migration_min_days > 0 else 0.0)
    u = low + rng.random(m) * (1.0 - low)  # log-normal truncated to > migration_min_days
    wait = np.exp(np.log(median) + p.migration_log_sd * special.ndtri(u))
    onset = pat["onset"][migrate] + np.maximum(np.ceil(wait).astype(np.int64),
                                               p.migration_min_days + 1)
    to_hip = rng.random(m) < p.migration_opposite_hip_share
    has_bilateral = np.isin(migrate, bilateral)
    to_hip &= ~has_bilateral
    other = np.array([JOINTS.index(j) for j in p.migration_joints], dtype=np.int8)
    joint = np.where(to_hip, HIP, other[categorical(rng, m, p.migration_joint_shares)])
    side = np.where(to_hip, _opposite(pat["side"][migrate]),
                    np.where(rng.random(m) < 0.5, LEFT, RIGHT)).astype(np.int8)
    parts.append(_later(rng, pat, migrate, MIGRATION, onset, joint.astype(np.int8), side, p))

    ep = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    keep = ep["onset"] <= pat["end"][ep["patient"]]
    ep = {key: value[keep] for key, value in ep.items()}
    order = np.lexsort((ep["kind"], ep["onset"], ep["patient"]))
    ep = {key: value[order] for key, value in ep.items()}
    ep["end"] = pat["end"][ep["patient"]]
    return pat, ep


def _later(rng: np.random.Generator, pat: Arrays, who: np.ndarray, kind: int, onset: np.ndarray,
           joint: np.ndarray, side: np.ndarray, p: SimulationParameters) -> Arrays:
    """A later (recurrence or migration) episode: pregnancy "none" for women, empty for men."""
    pregnancy = np.where(pat["male"][who], MISSING, NONE).astype(np.int8)
    return {
        "patient": who, "kind": np.full(who.size, kind, np.int8), "onset": onset,
        "joint": joint, "side": side, "pregnancy": pregnancy,
        "trimester": np.full(who.size, MISSING, np.int64), **_course(rng, onset, p),
    }
