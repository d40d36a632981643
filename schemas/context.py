"""The day of validation, which the "no date in the future" rules compare against.

Held in a context variable so that a validation run (or a test) can fix it without the schema
classes holding state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

import pandas as pd

_VALIDATION_DATE: ContextVar[dt.date | None] = ContextVar("validation_date", default=None)


def validation_date() -> pd.Timestamp:
    """Return the day of validation: the one set by :func:`validating_on`, else today."""
    day = _VALIDATION_DATE.get()
    return pd.Timestamp(day if day is not None else dt.date.today())


def not_in_future(series: pd.Series) -> pd.Series:
    """The rule ``not_in_future`` of every date column: missing, or not after the day of
    validation (each table's schema applies it to its date columns)."""
    return series.isna() | (series <= validation_date())


@contextlib.contextmanager
def validating_on(day: dt.date | None) -> Iterator[None]:
    """Validate as if on ``day`` (``None``: today) inside the ``with`` block."""
    token = _VALIDATION_DATE.set(day)
    try:
        yield
    finally:
        _VALIDATION_DATE.reset(token)
