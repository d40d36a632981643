"""Vectorised helpers of the registry generator: draws, identifiers and pandas columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "MISSING",
    "categorical",
    "truncated_normal",
    "lognormal_days",
    "uniform_days",
    "make_ids",
    "day_number",
    "date_column",
    "code_column",
    "boolean_column",
    "int_column",
    "last_per_group",
]

#: Code of a missing value in the integer-coded arrays the generator works with.
MISSING = -1

_EPOCH = dt.date(1970, 1, 1)


def categorical(rng: np.random.Generator, n: int, shares: Sequence[float]) -> np.ndarray:
    """Draw ``n`` category indices (0, 1, ...) with the given shares."""
    cum = np.cumsum(np.asarray(shares, dtype=float))
    cum[-1] = 1.0
    idx = np.searchsorted(cum, rng.random(n), side="right")
    return np.minimum(idx, len(cum) - 1).astype(np.int8)


def truncated_normal(
    rng: np.random.Generator, mean: np.ndarray, sd: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """One normal(mean, sd) draw truncated to [low, high] per element (inverse-cdf method)."""
    a = special.ndtr((low - mean) / sd)
    b = special.ndtr((high - mean) / sd)
    u = a + rng.random(np.shape(mean)) * (b - a)
    return np.clip(mean + sd * special.ndtri(u), low, high)


def lognormal_days(
    rng: np.random.Generator, median: np.ndarray | float, log_sd: float, n: int
) -> np.ndarray:
    """Whole days ``ceil(T)`` of log-normal times T (at least 1)."""
    t = np.exp(np.log(median) + log_sd * rng.standard_normal(n))
    return np.maximum(np.ceil(t), 1).astype(np.int64)


def uniform_days(rng: np.random.Generator, bounds: Sequence[int], n: int) -> np.ndarray:
    """Whole days uniform on ``bounds[0]..bounds[1]``, both included."""
    return rng.integers(bounds[0], bounds[1] + 1, size=n, dtype=np.int64)


def make_ids(prefix: str, n: int) -> np.ndarray:
    """Identifiers ``prefix`` + zero-padded 1..n (7 digits, more only when n needs them).

    All ids of one table share the width, so their string order is their numeric order.
    """
    width = max(7, len(str(n)))
    if n == 0:
        return np.array([], dtype=object)
    digits = (np.arange(1, n + 1, dtype=np.int64) + 10**width).astype(f"U{width + 1}")
    chars = digits.view("U1").reshape(n, width + 1).copy()
    chars[:, 0] = prefix
    return chars.view(f"U{width + 1}").ravel().astype(object)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def date_column(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """datetime64[ns] array from day numbers, NaT where ``missing``."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def code_column(codes: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Object array of ``labels[code]``, NaN where the code is ``MISSING``."""
    table = np.array(list(labels) + [np.nan], dtype=object)
    return table[np.where(codes == MISSING, len(labels), codes)]


def boolean_column(values: np.ndarray) -> pd.arrays.BooleanArray:
    """pandas "boolean" array from int8 codes 1 (true), 0 (false), ``MISSING``."""
    return pd.arrays.BooleanArray(values == 1, values == MISSING)


def int_column(values: np.ndarray) -> pd.arrays.IntegerArray:
    """pandas "Int64" array, <NA> where the value is ``MISSING``."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(values, values == MISSING)


def last_per_group(groups: np.ndarray) -> np.ndarray:
    """Positions of the last row of each run of equal values in a sorted ``groups`` array."""
    if groups.size == 0:
        return np.array([], dtype=np.int64)
    return np.flatnonzero(np.r_[groups[1:] != groups[:-1], True])
