"""CSV output that a spreadsheet opens as data: no cell starts a formula."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

__all__ = ["write_csv", "defuse"]

_PATTERN = r"[=+\-@\t\r]"


def defuse(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells and column names that start with = + - @ (or a tab / carriage return)
    with a quote.

    Spreadsheets run such cells as formulas (CSV injection), header cells included (an export's
    extra column is written under its own name); numbers are left alone.
    """
    out = frame.copy()
    risky_names = {c: "'" + c for c in out.columns if isinstance(c, str) and re.match(_PATTERN, c)}
    if risky_names:
        out = out.rename(columns=risky_names)
    for column in out.columns:
        series = out[column]
        if series.dtype != object and not pd.api.types.is_string_dtype(series):
            continue
        text = series.astype(object)
        risky = text.str.match(_PATTERN, na=False).astype(bool)
        if risky.any():
            out[column] = text.where(~risky, "'" + text.astype(str))
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` (without its index) as UTF-8 CSV with formula triggers defused."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    defuse(frame).to_csv(path, index=False, lineterminator="\n")
    return path
