"""Split a simulated registry into site exports by patient, and compare two sets of results."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toh.cohort.simulate import SimulatedRegistry, write_registry


def site_registries(registry: SimulatedRegistry, labels: np.ndarray) -> dict[int, SimulatedRegistry]:
    """The registry's patients split by ``labels`` (one per patient, in table order), each with
    their episodes, exams and events."""
    out = {}
    for label in np.unique(labels):
        ids = registry.patients["patient_id"].to_numpy()[labels == label]
        episodes = registry.episodes[registry.episodes["patient_id"].isin(ids)]
        out[int(label)] = dataclasses.replace(
            registry, patients=registry.patients[registry.patients["patient_id"].isin(ids)], episodes=episodes,
            imaging=registry.imaging[registry.imaging["episode_id"].isin(episodes["episode_id"])],
            events=registry.events[registry.events["episode_id"].isin(episodes["episode_id"])])
    return out


def write_sites(registry: SimulatedRegistry, labels: np.ndarray, root: Path) -> dict[str, Path]:
    """Write each site's export under ``root/site<k>``; returns site name -> folder."""
    out = {}
    for label, part in site_registries(registry, labels).items():
        folder = root / f"site{label}"
        write_registry(part, folder)
        out[f"site{label}"] = folder
    return out


def differences(pooled: Mapping[str, Any], reference: Mapping[str, Any]) -> tuple[float, list[str]]:
    """Largest absolute difference over the pooled keys (``sites.*`` and ``meta.*`` aside: they
    have no counterpart in one cohort's analysis) and the keys that
    differ otherwise (missing from the reference, or null / text on one side only)."""
    worst, odd = 0.0, []
    for key, value in pooled.items():
        if key.startswith(("sites.", "meta.")):
            continue
        if key not in reference:
            odd.append(f"{key}: not a key of the concatenated analysis")
            continue
        other = reference[key]
        if isinstance(value, (int, float)) and isinstance(other, (int, float)):
            if math.isnan(value) and math.isnan(other):
                continue
            worst = max(worst, abs(value - other))
        elif value != other:
            odd.append(f"{key}: {value!r} != {other!r}")
    return worst, odd


#: A date as an export writes one (ISO or day/month/year): none may leave a site.
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}"


def identifiers(registry: SimulatedRegistry) -> set[str]:
    """Every patient, episode, exam and event id of ``registry``: none may leave a site."""
    found: set[str] = set()
    for table, column in (("patients", "patient_id"), ("episodes", "episode_id"), ("imaging", "exam_id"),
                          ("events", "event_id")):
        found |= set(getattr(registry, table)[column].astype(str))
    return found
