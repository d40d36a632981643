"""CSV output that a spreadsheet opens as data: no cell starts a formula."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["write_csv", "defuse"]

_PATTERN = r"[=+\-@\t\r]"


def defuse(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that start with = + - @ (or a tab / carriage return) with a quote.

    Spreadsheets run such cells as formulas (CSV injection); numbers are left alone.
    """
    out = frame.copy()
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
