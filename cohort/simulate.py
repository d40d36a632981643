"""Seeded synthetic registry of transient osteoporosis of the hip (TOH).

:func:`simulate_registry` draws the four export tables (patients, episodes, imaging, events) in the
canonical columns of the export contract (``docs/contract.md``) from the calibration
defaults of ``docs/definitions.md``, and records the parameters and the true values an
analysis should recover in ``truth``.  :func:`write_registry` writes them (CSV or Parquet) with a
``truth.json``; :func:`make_demo` writes the bundled demo registry.

The model, in short (every number a field of :class:`SimulationParameters`):

- patients: sex; for women pregnancy status (and trimester); age at onset by sex and pregnancy
  (truncated normals); index hip and side; index onset uniform over the study window; birth date
  = onset - age (only the birth year given for a share of patients); site.
- every episode: treatment; diagnosis 1-6 weeks after onset; resolution after a log-normal time
  (shorter with a bisphosphonate); radiographic change after a log-normal time; plain films from
  diagnosis every 3-6 weeks until one shows the change; one MRI for most, NM for a minority, a few
  CT; 5% of finding cells empty.
- later episodes: opposite hip within 30 days (bilateral); same hip after the index resolution
  (recurrence) and opposite hip or another joint after 30 days (migration), their shares
  calibrated to the 2-year cumulative incidences.
- events: fractures (more often in pregnancy) within 3 months and AVN of the index episode, some
  surgery and other events, and death at a background rate.
- follow-up: a share of patients lost within a year of onset, the others followed to the export
  date; nothing after the end of contact is recorded, and episodes starting after it are absent.

All days are whole days; everything is drawn, vectorised, from one ``numpy.random.Generator``
seeded with ``seed``, so the same (n_patients, seed, parameters) gives the same tables and the
same files byte for byte.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toh.cohort._simulate_episodes import draw_cohort
from toh.cohort._simulate_exams import FINDING_COLUMNS, draw_events, draw_imaging
from toh.cohort._simulate_params import TREATMENTS, SimulationParameters
from toh.cohort._simulate_truth import calibrate, derived_truth
from toh.cohort._simulate_util import (
    boolean_column,
    code_column,
    date_column,
    int_column,
    make_ids,
)
from toh.schemas.codes import (
    BOOLEAN_FINDINGS,
    EDEMA_EXTENT,
    EVENT_TYPES,
    JOINTS,
    MODALITIES,
    PREGNANCY,
    SEX,
    SIDES,
)

__all__ = [
    "SimulationParameters",
    "SimulatedRegistry",
    "TREATMENTS",
    "DEMO_N_PATIENTS",
    "DEMO_SEED",
    "simulate_registry",
    "write_registry",
    "make_demo",
]

DEMO_N_PATIENTS = 400
DEMO_SEED = 20240229


@dataclass(frozen=True, eq=False)
class SimulatedRegistry:
    """A simulated registry export and what generated it.

    Attributes
    ----------
    patients, episodes, imaging, events : pandas.DataFrame
        The four tables in the canonical columns, rows sorted by id, a default RangeIndex.
        Dates are datetime64[ns] (NaT when empty), findings pandas "boolean", trimester and
        birth_year "Int64", strings object (NaN when empty).
    parameters : SimulationParameters
        The parameters used.
    seed : int
        Seed of the one random generator.
    n_patients : int
        Number of patients.
    truth : dict
        JSON-serialisable: n_patients, seed, generator, parameters (every field) and derived
        (``{key: {"value", "method"}}``: the true values an analysis should recover).
    """

    patients: pd.DataFrame
    episodes: pd.DataFrame
    imaging: pd.DataFrame
    events: pd.DataFrame
    parameters: SimulationParameters
    seed: int
    n_patients: int
    truth: dict[str, Any]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name, in the order of ``toh.schemas.codes.TABLES``."""
        return {"patients": self.patients, "episodes": self.episodes,
                "imaging": self.imaging, "events": self.events}


def _version() -> str:
    """Version of the installed toh-cohort, else the one in the source tree's pyproject.toml."""
    try:
        return importlib.metadata.version("toh-cohort")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            import tomllib

            return str(tomllib.loads(pyproject.read_text())["project"]["version"])
        except (OSError, KeyError, ValueError):
            return "unknown"


def simulate_registry(
    n_patients: int, seed: int, parameters: SimulationParameters | None = None
) -> SimulatedRegistry:
    """Draw a synthetic registry export.

    Parameters
    ----------
    n_patients : int
        Number of patients (each has at least the index hip episode); 0 gives empty tables.
    seed : int
        Seed of the ``numpy.random.Generator`` every draw comes from.
    parameters : SimulationParameters, optional
        Model parameters; the defaults are the calibration defaults of ``docs/definitions.md``.

    Returns
    -------
    SimulatedRegistry
        The tables, the parameters, the seed and the truth.

    Raises
    ------
    ValueError
        If ``n_patients`` is negative or the recurrence / migration targets cannot be met.
    """
    if isinstance(n_patients, bool) or int(n_patients) != n_patients or n_patients < 0:
        raise ValueError(f"n_patients must be a non-negative integer, got {n_patients!r}")
    n_patients = int(n_patients)
    params = parameters if parameters is not None else SimulationParameters()
    cal = calibrate(params)
    rng = np.random.default_rng(seed)
    pat, ep = draw_cohort(rng, n_patients, params, cal)
    img = draw_imaging(rng, ep, params)
    evt = draw_events(rng, pat, ep, params)

    patient_ids = make_ids("P", n_patients)
    episode_ids = make_ids("E", ep["onset"].size)
    birth_year = (pat["birth"].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
                  + 1970)
    patients = pd.DataFrame({
        "patient_id": patient_ids,
        "sex": code_column(np.where(pat["male"], SEX.index("M"), SEX.index("F")), SEX),
        "birth_date": date_column(pat["birth"], pat["birth_year_only"]),
        "birth_year": int_column(birth_year),
        "death_date": date_column(np.where(pat["died"], pat["death"], pat["end"]), ~pat["died"]),
        "site": code_column(pat["site"], params.sites),
    })
    end = ep["end"]
    episodes = pd.DataFrame({
        "episode_id": episode_ids,
        "patient_id": patient_ids[ep["patient"]],
        "joint": code_column(ep["joint"], JOINTS),
        "side": code_column(ep["side"], SIDES),
        "onset_date": date_column(ep["onset"]),
        "diagnosis_date": date_column(ep["diagnosis"], ep["diagnosis"] > end),
        "pregnancy": code_column(ep["pregnancy"], PREGNANCY),
        "trimester": int_column(ep["trimester"]),
        "treatment": code_column(ep["treatment"], TREATMENTS),
        "resolution_date": date_column(ep["resolution"], ep["resolution"] > end),
        "last_followup_date": date_column(end),
    })
    imaging = pd.DataFrame({
        "exam_id": make_ids("X", img["date"].size),
        "episode_id": episode_ids[img["episode"]],
        "exam_date": date_column(img["date"]),
        "modality": code_column(img["modality"], MODALITIES),
    })
    for name in FINDING_COLUMNS:
        imaging[name] = (boolean_column(img[name]) if name in BOOLEAN_FINDINGS
                         else code_column(img[name], EDEMA_EXTENT))
    events = pd.DataFrame({
        "event_id": make_ids("V", evt["date"].size),
        "episode_id": episode_ids[evt["episode"]],
        "event_date": date_column(evt["date"]),
        "event_type": code_column(evt["type"], EVENT_TYPES),
    })
    truth = {
        "n_patients": n_patients,
        "seed": int(seed),
        "generator": f"toh-cohort {_version()}",
        "parameters": params.to_dict(),
        "derived": derived_truth(params, cal),
    }
    return SimulatedRegistry(patients=patients, episodes=episodes, imaging=imaging,
                             events=events, parameters=params, seed=int(seed),
                             n_patients=n_patients, truth=truth)


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Copy with booleans as true/false (empty when missing) for CSV writing."""
    out = df.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.BooleanDtype):
            column = out[name]
            true = column.fillna(False).to_numpy(dtype=bool)
            out[name] = np.where(column.isna().to_numpy(), "", np.where(true, "true", "false"))
    return out


def write_registry(registry: SimulatedRegistry, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write the four tables and ``truth.json`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    registry : SimulatedRegistry
        Output of :func:`simulate_registry`.
    out_dir : str or Path
        Directory to write to; existing files of the same names are overwritten.
    fmt : {"csv", "parquet"}
        CSV: UTF-8, a header line, "\\n" line ends, no index column, dates yyyy-mm-dd, booleans
        true/false, missing values as empty fields.  Parquet: the DataFrames' own types.

    Returns
    -------
    list of Path
        The paths written, sorted.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in registry.tables().items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            _csv_ready(df).to_csv(path, index=False, date_format="%Y-%m-%d", na_rep="",
                                  lineterminator="\n", encoding="utf-8")
        else:
            df.to_parquet(path, index=False, engine="pyarrow")
        written.append(path)
    truth_path = out / "truth.json"
    text = json.dumps(registry.truth, sort_keys=True, indent=2, allow_nan=False)
    truth_path.write_text(text + "\n", encoding="utf-8")
    written.append(truth_path)
    return sorted(written)


def make_demo(out_dir: str | Path) -> list[Path]:
    """Write the bundled demo registry: 400 patients, seed 20240229, default parameters, CSV.

    Parameters
    ----------
    out_dir : str or Path
        Directory to write to (``cohort/demo`` in the source tree holds the bundled copy).

    Returns
    -------
    list of Path
        The paths written, sorted.
    """
    registry = simulate_registry(DEMO_N_PATIENTS, DEMO_SEED)
    return write_registry(registry, out_dir, fmt="csv")
