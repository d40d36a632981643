"""Write the derived analysis tables for users who fit their own models (R, Stata, ...)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cohort._safe_csv import write_csv
from cohort.derive import DerivedCohort

__all__ = ["write_derived", "DERIVED_TABLES"]

DERIVED_TABLES: tuple[str, ...] = ("episodes", "index", "imaging", "events", "attrition", "attrition_summary")


def write_derived(derived: DerivedCohort, rows_in: dict[str, int], out: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write every derived table to ``out`` as Parquet or CSV; return the paths, sorted.

    Dates are written as dates, infinite radiographic upper bounds as ``inf`` (CSV) or IEEE
    infinity (Parquet), missing values as empty cells.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, not {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pd.DataFrame] = {
        "episodes": derived.episodes,
        "index": derived.index,
        "imaging": derived.imaging,
        "events": derived.events,
        "attrition": derived.attrition,
        "attrition_summary": derived.attrition_summary(rows_in),
    }
    paths = []
    for name, frame in frames.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(_dates_as_text(frame), path)
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    return sorted(paths)


def _dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out
