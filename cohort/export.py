"""Write the derived analysis tables for users who fit their own models (R, Stata, ...)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from toh.cohort.safe_csv import write_csv
from toh.cohort.derive import DerivedCohort
from toh.schemas.text import TEXT_DTYPE

__all__ = ["write_derived", "DERIVED_TABLES"]

DERIVED_TABLES: tuple[str, ...] = ("episodes", "index", "imaging", "events", "attrition", "attrition_summary")


def write_derived(derived: DerivedCohort, rows_in: dict[str, int], out: str | Path, fmt: str = "parquet") -> list[Path]:
    """Write every derived table to ``out`` as Parquet or CSV; return the paths, sorted.

    A table the export does not have (``derived.absent``) is not written, so a reader of the
    derived folder cannot take it for an empty one.

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
    for name in derived.absent:  # absent stays absent: an empty file would read as "none recorded"
        frames.pop(name, None)
    paths = {name: out / f"{name}.{fmt}" for name in frames}
    if fmt == "csv":
        for name, frame in frames.items():
            write_csv(_dates_as_text(frame), paths[name])
    else:
        # Each file is encoded by its own writer, which releases the GIL: two at a time use both
        # cores of a small machine; the bytes of every file are the same as written one by one.
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(_write_parquet, frames.values(), paths.values()))
    return sorted(paths.values())


def _dates_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet with the file schema of object-dtype text columns.

    Text held in Arrow memory (:data:`toh.schemas.text.TEXT_DTYPE`) would be written as
    ``large_string`` and read back by pandas as its ``str`` dtype; it is written as ``string``
    with the pandas metadata of an object column instead, so R, Stata and pandas users read the
    same files as from object-dtype frames.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    text = {str(c) for c in frame.columns if frame[c].dtype == TEXT_DTYPE}
    if text:
        meta = json.loads(table.schema.metadata[b"pandas"])
        for column in meta["columns"]:
            if column["name"] in text:
                column.update(pandas_type="unicode", numpy_type="object")
        fields = [f.with_type(pa.string()) if f.name in text else f for f in table.schema]
        metadata = {**table.schema.metadata, b"pandas": json.dumps(meta).encode()}
        table = table.cast(pa.schema(fields, metadata=metadata))
    pq.write_table(table, path)
