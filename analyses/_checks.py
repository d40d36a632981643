"""Input checks of the public estimators (:mod:`toh.analyses.estimators`).

Each fails with a ValueError that names the function, the argument, and the first offending
position and value, so that a user can find the row in their own data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["as_times", "as_events", "as_status", "as_groups", "same_length", "conf_level", "count", "is_number",
           "horizons", "names"]


def _array(where: str, name: str, values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{where}: {name} must be one-dimensional (got shape {array.shape})")
    if len(array) == 0:
        raise ValueError(f"{where}: {name} is empty")
    return array


def _show(value: Any) -> str:
    """A value as the user wrote it (numpy scalars as plain Python ones)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def as_times(where: str, name: str, values: Any, *, allow_inf: bool = False) -> np.ndarray:
    """Times as floats: finite (or +inf where allowed), not negative, nothing missing."""
    array = _array(where, name, values)
    try:
        times = array.astype(float)
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(array) if not is_number(v))
        if pd.isna(array[bad]):
            raise ValueError(f"{where}: {name}[{bad}] is missing ({array[bad]}); every {name} must be a number") from None
        raise ValueError(f"{where}: {name}[{bad}] = {_show(array[bad])} is not a number") from None
    if np.isnan(times).any():
        i = _first(np.isnan(times))
        raise ValueError(f"{where}: {name}[{i}] is missing (NaN); every {name} must be a number")
    infinite = np.isneginf(times) | (np.isposinf(times) if not allow_inf else False)
    if np.any(infinite):
        i = _first(infinite)
        hint = "" if allow_inf else " (times must be finite)"
        raise ValueError(f"{where}: {name}[{i}] = {times[i]} is not a finite number{hint}")
    if np.any(times < 0):
        i = _first(times < 0)
        raise ValueError(f"{where}: {name}[{i}] = {times[i]:g} is negative (times are >= 0)")
    return times


def is_number(value: Any) -> bool:
    """True where float(value) works."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def as_events(where: str, name: str, values: Any) -> np.ndarray:
    """Event indicators as booleans: each 0 or 1 (True or False)."""
    array = _array(where, name, values)
    if array.dtype == bool:
        return array
    numbers = np.array([float(v) if is_number(v) else math.nan for v in array]) if array.dtype == object \
        else (array.astype(float) if np.issubdtype(array.dtype, np.number) else None)
    if numbers is None:
        raise ValueError(f"{where}: {name}[0] = {_show(array[0])} is not 0 or 1 (an event indicator)")
    bad = ~np.isin(numbers, (0.0, 1.0))
    if bad.any():
        i = _first(bad)
        raise ValueError(f"{where}: {name}[{i}] = {_show(array[i])} is not 0 or 1 (1 = event, 0 = censored)")
    return numbers == 1.0


def as_status(where: str, name: str, values: Any) -> np.ndarray:
    """Status codes as integers >= 0 (0 censored, any other value the cause of the event)."""
    array = _array(where, name, values)
    if array.dtype == bool:
        return array.astype(np.int64)
    numbers = np.array([float(v) if is_number(v) else math.nan for v in array]) if array.dtype == object \
        else (array.astype(float) if np.issubdtype(array.dtype, np.number) else None)
    if numbers is None:
        raise ValueError(f"{where}: {name}[0] = {_show(array[0])} is not an integer >= 0")
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers))
    if bad.any():
        i = _first(bad)
        raise ValueError(f"{where}: {name}[{i}] = {_show(array[i])} is not an integer >= 0 "
                         "(0 = censored, 1, 2, ... = the cause of the event)")
    return numbers.astype(np.int64)


def as_groups(where: str, name: str, values: Any) -> np.ndarray:
    """Group labels as text; none may be missing."""
    array = _array(where, name, values)
    missing = np.array([v is None or bool(pd.isna(v)) for v in array.tolist()])
    if missing.any():
        i = _first(missing)
        raise ValueError(f"{where}: {name}[{i}] is missing; every observation needs a group")
    return array


def same_length(where: str, **arrays: np.ndarray) -> None:
    """Every array as long as the first."""
    (first, reference), *rest = arrays.items()
    for name, array in rest:
        if len(array) != len(reference):
            raise ValueError(f"{where}: {first} has {len(reference)} values but {name} has {len(array)}")


def conf_level(where: str, value: Any) -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(value, bool) or not is_number(value) or not 0 < float(value) < 1:
        raise ValueError(f"{where}: conf_level = {value!r} must be a number strictly between 0 and 1 "
                         "(e.g. 0.95)")
    return float(value)


def count(where: str, name: str, value: Any, *, minimum: int = 0) -> int:
    """A whole number >= ``minimum`` (a float such as 3.0 is accepted)."""
    if isinstance(value, bool) or not is_number(value) or not float(value).is_integer() \
            or float(value) < minimum:
        raise ValueError(f"{where}: {name} = {value!r} must be a whole number >= {minimum}")
    return int(value)


def horizons(where: str, name: str, values: Any) -> None:
    """Times at which an estimate is read (months, say): a tuple of finite positive numbers."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{where}: {name} must be a tuple of numbers, got {values!r}")
    for position, value in enumerate(values):
        if not is_number(value) or not math.isfinite(float(value)) or float(value) <= 0:
            raise ValueError(f"{where}: {name}[{position}] must be a finite number > 0, got {_show(value)}")


def names(where: str, name: str, values: Any) -> None:
    """Stratum or covariate names: a tuple of non-empty strings."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{where}: {name} must be a tuple of names, got {values!r}")
    for position, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: {name}[{position}] must be a non-empty name, got {_show(value)}")
