"""Text columns held in Arrow memory, and key look-ups on them without Python objects.

Text cells are kept as pandas' Arrow-backed string dtype with NaN as the missing value (the
``str`` dtype that pandas 3 uses by default): comparisons give plain numpy booleans, as they do
on object columns, while ``isin``, ``isna`` and sorting run in Arrow instead of per element.
Keys (ids) are looked up, tested for repeats and taken by position in Arrow as well, so that
validation and derivation never build a Python object per cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandera.typing import Series

__all__ = [
    "TEXT_DTYPE", "TEXT_FIELD", "Text", "as_text_dtype", "string_array", "positions", "take", "isin",
    "duplicated", "stable_order",
]


def _text_dtype() -> pd.StringDtype:
    try:  # pandas >= 2.3 (and 3.x: the default str dtype)
        return pd.StringDtype("pyarrow", na_value=np.nan)
    except TypeError:  # pandas 2.2 spells it as a storage
        return pd.StringDtype("pyarrow_numpy")


#: dtype of every text column of a typed table.
TEXT_DTYPE: pd.StringDtype = _text_dtype()

#: annotation of a text column in a pandera model; declare it with ``pa.Field(**TEXT_FIELD)``.
Text = Series[pd.StringDtype]

#: keyword arguments of ``pandera.Field`` for a :data:`Text` column: the Arrow storage makes
#: pandera's dtype check one comparison instead of a test of every cell (object columns, as
#: a test may build them, are still checked cell by cell).
TEXT_FIELD: dict[str, Any] = {"dtype_kwargs": {"storage": TEXT_DTYPE.storage}}


def as_text_dtype(series: pd.Series) -> pd.Series:
    """``series`` with dtype :data:`TEXT_DTYPE` (no copy when it has it already)."""
    if series.dtype == TEXT_DTYPE:
        return series
    return series.astype(TEXT_DTYPE)


def string_array(series: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The cells of a text column as Arrow ``large_string`` (how pandas holds Arrow text);
    ``None`` when they are not all text."""
    values = series.array
    if hasattr(values, "_pa_array"):
        data = values._pa_array  # noqa: SLF001 - Arrow-backed pandas arrays keep their data here
        if pa.types.is_string(data.type):
            data = data.cast(pa.large_string())
        return data if pa.types.is_large_string(data.type) else None
    try:
        return pa.array(series.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


#: the last few Arrow look-ups: (values, keys, positions).  Arrow arrays are immutable and the
#: entries hold them, so an entry found by identity is the answer; validation and derivation
#: look the same references up, and the second time costs nothing.
_RECENT: list[tuple[object, object, np.ndarray]] = []
_RECENT_SIZE = 4


def positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position in ``keys`` of each of ``values`` (the first, if a key repeats), -1 where absent.

    Missing values find a missing key, as ``Series.map`` and ``Series.isin`` do on object
    columns.  Text columns are looked up in Arrow; anything else through a pandas index.
    The result is read-only.
    """
    arrow = [getattr(s.array, "_pa_array", None) for s in (values, keys)]
    for left, right, found in _RECENT:
        if left is arrow[0] is not None and right is arrow[1] is not None:
            return found
    left, right = string_array(values), string_array(keys)
    if left is not None and right is not None:
        if isinstance(right, pa.ChunkedArray):
            right = right.combine_chunks()
        found = pc.index_in(left, value_set=right, skip_nulls=False).fill_null(-1)
        if isinstance(found, pa.ChunkedArray):
            found = found.combine_chunks()
        found = found.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        found.flags.writeable = False
        if arrow[0] is not None and arrow[1] is not None:
            _RECENT[:] = [(arrow[0], arrow[1], found), *_RECENT[: _RECENT_SIZE - 1]]
        return found
    index = pd.Index(keys.to_numpy(dtype=object))
    if not index.is_unique:
        first = ~index.duplicated(keep="first")
        lookup = pd.Index(index[first])
        return np.where(
            (hit := lookup.get_indexer(values.to_numpy(dtype=object))) >= 0,
            np.flatnonzero(first)[np.maximum(hit, 0)],
            -1,
        ).astype(np.int64)
    return index.get_indexer(values.to_numpy(dtype=object)).astype(np.int64)


def take(series: pd.Series, at: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """``series`` at positions ``at`` (missing where ``at`` is -1), keeping its dtype."""
    values = series.array.take(np.asarray(at, dtype=np.int64), allow_fill=True)
    return pd.Series(values, index=index, name=series.name)


def isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Whether each of ``values`` is one of ``keys`` (as ``Series.isin``, without its slow path
    for Arrow text against a long list of keys)."""
    return positions(values, keys) >= 0


def duplicated(series: pd.Series) -> np.ndarray:
    """Whether each value occurs more than once (every occurrence, missing ones included), as
    ``Series.duplicated(keep=False)``; text is sorted in Arrow instead of hashed."""
    data = string_array(series)
    if data is None or len(series) < 2:
        return series.duplicated(keep=False).to_numpy(dtype=bool)
    order = pc.sort_indices(data).to_numpy()  # missing values last, next to each other
    ordered = data.take(pa.array(order))
    before, after = ordered.slice(0, len(order) - 1), ordered.slice(1)
    same = pc.fill_null(pc.equal(before, after), False).to_numpy(zero_copy_only=False)
    same |= (pc.is_null(before).to_numpy(zero_copy_only=False) & pc.is_null(after).to_numpy(zero_copy_only=False))
    repeated = np.zeros(len(order), dtype=bool)
    repeated[:-1] |= same
    repeated[1:] |= same
    out = np.empty(len(order), dtype=bool)
    out[order] = repeated
    return out


def stable_order(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions that sort ``frame`` by ``columns`` (stable, missing last), as ``sort_values``
    does, sorted in Arrow (text columns sort 5 to 10 times faster than pandas' sort)."""
    try:
        table = pa.table({c: pa.Array.from_pandas(frame[c]) for c in columns})
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table = None
    if table is not None:
        keys = [(c, "ascending") for c in columns]
        return pc.sort_indices(table, sort_keys=keys).to_numpy().astype(np.int64)  # missing last
    plain = frame[columns].reset_index(drop=True)
    return plain.sort_values(columns, kind="stable").index.to_numpy(dtype=np.int64)
