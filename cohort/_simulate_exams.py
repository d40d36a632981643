"""Imaging exams and events of the synthetic registry (integer-coded numpy arrays).

Input is the episode arrays of :func:`toh.cohort._simulate_episodes.draw_cohort`; findings are int8
codes 1 (true), 0 (false) or ``MISSING`` (empty), and only the findings of an exam's modality are
ever filled.  Nothing is dated after the episode's end of contact.
"""

from __future__ import annotations

import numpy as np

from toh.cohort._simulate_episodes import HIP, INDEX, POSTPARTUM, PREGNANT
from toh.cohort._simulate_params import SimulationParameters
from toh.cohort._simulate_util import (
    MISSING,
    categorical,
    last_per_group,
    lognormal_days,
    uniform_days,
)
from toh.schemas.codes import EVENT_TYPES, MODALITIES, MRI_FINDINGS, NM_FINDINGS, XR_FINDINGS

__all__ = ["FINDING_COLUMNS", "draw_imaging", "draw_events"]

Arrays = dict[str, np.ndarray]

#: Finding columns of the imaging table, in export order (edema_extent holds EDEMA_EXTENT codes).
FINDING_COLUMNS: tuple[str, ...] = XR_FINDINGS + MRI_FINDINGS + ("edema_extent",) + NM_FINDINGS

XR, MRI, NM, CT = (MODALITIES.index(m) for m in ("XR", "MRI", "NM", "CT"))
_EVENT = {name: EVENT_TYPES.index(name) for name in EVENT_TYPES}


def _blank(rng: np.random.Generator, values: Arrays, share: float) -> Arrays:
    """Empty each finding cell with probability ``share`` (one draw per cell, in column order)."""
    m = next(iter(values.values())).size
    missing = rng.random((m, len(values))) < share
    for j, name in enumerate(values):
        values[name] = np.where(missing[:, j], MISSING, values[name]).astype(np.int8)
    return values


def _rows(episode: np.ndarray, date: np.ndarray, modality: int, findings: Arrays) -> Arrays:
    """Imaging rows with every finding column (``MISSING`` where not in ``findings``)."""
    rows = {"episode": episode, "date": date,
            "modality": np.full(episode.size, modality, np.int8)}
    for name in FINDING_COLUMNS:
        rows[name] = findings.get(name, np.full(episode.size, MISSING, np.int8))
    return rows


def _films(rng: np.random.Generator, ep: Arrays, p: SimulationParameters) -> list[Arrays]:
    """Plain films: at diagnosis, then every few weeks until one shows the change.

    The series stops after a film recorded abnormal (osteopenia or subchondral loss true), when the
    next film would fall after the resolution or end of contact, or after the first film for the
    single-film episodes.  A film on or after the change day is abnormal.
    """
    count = ep["onset"].size
    diagnosed = ep["diagnosis"] <= ep["end"]
    filmed = diagnosed & ((ep["kind"] == INDEX) | (rng.random(count) < p.later_episode_film_share))
    single = rng.random(count) < p.single_film_share
    change = ep["onset"] + lognormal_days(rng, p.change_median_days, p.change_log_sd, count)
    limit = np.minimum(ep["resolution"], ep["end"])
    active = np.flatnonzero(filmed)
    day = ep["diagnosis"][active]
    chunks = []
    while active.size:
        abnormal = day >= change[active]
        m = active.size
        findings = _blank(rng, {
            "osteopenia": abnormal.astype(np.int8),
            "subchondral_cortical_loss":
                (abnormal & (rng.random(m) < p.subchondral_loss_share)).astype(np.int8),
            "joint_effusion": (rng.random(m) < p.joint_effusion_share).astype(np.int8),
            "joint_space_preserved":
                (rng.random(m) < p.joint_space_preserved_share).astype(np.int8),
        }, p.missing_finding_share)
        chunks.append(_rows(active, day, XR, findings))
        shown = (findings["osteopenia"] == 1) | (findings["subchondral_cortical_loss"] == 1)
        more = ~shown & ~single[active]
        active = active[more]
        day = day[more] + uniform_days(rng, p.film_interval_days, active.size)
        within = day <= limit[active]
        active, day = active[within], day[within]
    return chunks


def _single_exam(rng: np.random.Generator, ep: Arrays, share: float,
                 delay: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Episodes (and dates) with one exam of a kind: diagnosis + delay, within contact."""
    who = np.flatnonzero((ep["diagnosis"] <= ep["end"]) & (rng.random(ep["onset"].size) < share))
    date = ep["diagnosis"][who] + uniform_days(rng, delay, who.size)
    within = date <= ep["end"][who]
    return who[within], date[within]


def draw_imaging(rng: np.random.Generator, ep: Arrays, p: SimulationParameters) -> Arrays:
    """Draw every exam of the episodes.

    Returns
    -------
    dict of numpy arrays
        ``episode`` (position in ``ep``), ``date`` (day number), ``modality`` (MODALITIES code)
        and one int8 array per name in ``FINDING_COLUMNS``; sorted by (episode, date, modality).
    """
    chunks = _films(rng, ep, p)
    who, date = _single_exam(rng, ep, p.mri_share, p.mri_delay_days)
    m = who.size
    edema = categorical(rng, m, p.edema_extent_shares)
    findings = _blank(rng, {
        "t1_low": (rng.random(m) < p.t1_low_share).astype(np.int8),
        "t2_high": (rng.random(m) < p.t2_high_share).astype(np.int8),
        "edema_extent": edema,
    }, p.missing_finding_share)
    findings["edema_extent"][ep["joint"][who] != HIP] = MISSING  # the extent is a hip scale
    chunks.append(_rows(who, date, MRI, findings))
    who, date = _single_exam(rng, ep, p.nm_share, p.nm_delay_days)
    uptake = (rng.random(who.size) < p.uptake_increased_share).astype(np.int8)
    chunks.append(_rows(who, date, NM, _blank(rng, {"uptake_increased": uptake},
                                              p.missing_finding_share)))
    who, date = _single_exam(rng, ep, p.ct_share, p.ct_delay_days)
    chunks.append(_rows(who, date, CT, {}))
    rows = {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}
    order = np.lexsort((rows["modality"], rows["date"], rows["episode"]))
    return {key: value[order] for key, value in rows.items()}


def draw_events(rng: np.random.Generator, pat: Arrays, ep: Arrays,
                p: SimulationParameters) -> Arrays:
    """Draw fractures, surgery, AVN, other events and deaths.

    Fractures and AVN belong to the index episode; "other" events to any episode; a recorded
    death is put on the patient's latest episode (the last in (onset, kind) order), dated the
    death date.  Events after the end of contact are not recorded.

    Returns
    -------
    dict of numpy arrays
        ``episode`` (position in ``ep``), ``date`` (day number), ``type`` (EVENT_TYPES code);
        sorted by (episode, date, type).
    """
    index = np.flatnonzero(ep["kind"] == INDEX)
    associated = np.isin(ep["pregnancy"][index], (PREGNANT, POSTPARTUM))
    risk = np.where(associated, p.fracture_share_pregnancy, p.fracture_share_not_pregnancy)
    frac = index[rng.random(index.size) < risk]
    frac_date = ep["onset"][frac] + uniform_days(rng, (1, p.fracture_window_days), frac.size)
    frac_type = np.where(rng.random(frac.size) < p.subcapital_fracture_share,
                         _EVENT["subcapital_fracture"], _EVENT["insufficiency_fracture"])
    operated = rng.random(frac.size) < p.surgery_after_fracture_share
    surg = frac[operated]
    surg_date = frac_date[operated] + uniform_days(rng, p.surgery_delay_days, surg.size)
    avn = index[rng.random(index.size) < p.avn_share]
    avn_date = ep["onset"][avn] + uniform_days(rng, p.avn_window_days, avn.size)
    other = np.flatnonzero(rng.random(ep["onset"].size) < p.other_event_share)
    other_date = ep["onset"][other] + uniform_days(rng, (0, p.other_event_window_days),
                                                   other.size)
    latest = last_per_group(ep["patient"])
    dead = latest[pat["died"][ep["patient"][latest]]]
    dead_date = pat["death"][ep["patient"][dead]]

    def full(size: int, code: int) -> np.ndarray:
        return np.full(size, code, np.int64)

    rows = {
        "episode": np.concatenate([frac, surg, avn, other, dead]),
        "date": np.concatenate([frac_date, surg_date, avn_date, other_date, dead_date]),
        "type": np.concatenate([frac_type.astype(np.int64), full(surg.size, _EVENT["surgery"]),
                                full(avn.size, _EVENT["avascular_necrosis"]),
                                full(other.size, _EVENT["other"]),
                                full(dead.size, _EVENT["death"])]),
    }
    keep = rows["date"] <= ep["end"][rows["episode"]]
    rows = {key: value[keep] for key, value in rows.items()}
    order = np.lexsort((rows["type"], rows["date"], rows["episode"]))
    return {key: value[order] for key, value in rows.items()}
