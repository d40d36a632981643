"""The derivation on row positions gives exactly the tables of the plain string-keyed one.

``reference_derive`` (tests/reference_derive.py) is the derivation as it was before it was
vectorised on integer codes; on any valid cohort, with text held as objects or in Arrow, both
must give equal frames: same rows, order, columns, dtypes and values (an empty table only has
to have the same columns: the reference's dtypes there are accidents of mapping no rows).
"""

from __future__ import annotations

import pytest

import pandas as pd
from cohort_strategies import cohorts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_derive import reference_derive_cohort

from toh.cohort.definitions import Definitions
from toh.cohort.derive import derive_cohort
from toh.schemas.text import TEXT_DTYPE


def _as_arrow_text(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same tables with every text column in Arrow memory, as the validator hands them on."""
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = frame[column].astype(TEXT_DTYPE)
        out[name] = frame
    return out


def _assert_same(tables: dict[str, pd.DataFrame], definitions: Definitions) -> None:
    got = derive_cohort(tables, definitions)
    want = reference_derive_cohort(tables, definitions)
    for name in ("episodes", "index", "imaging", "events", "attrition"):
        mine, theirs = getattr(got, name), getattr(want, name)
        if theirs.empty:  # the reference's maps on no rows give float or object columns: names only
            assert list(mine.columns) == list(theirs.columns) and mine.empty, name
            continue
        pd.testing.assert_frame_equal(mine, theirs, obj=name)


@pytest.mark.slow  # 60 hypothesis cohorts through both derivations
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts(), st.sampled_from([30, 0, 400]))
def test_derivation_equals_the_reference(tables: dict[str, pd.DataFrame], window: int) -> None:
    definitions = Definitions(bilateral_window_days=window)
    _assert_same(tables, definitions)
    _assert_same(_as_arrow_text(tables), definitions)
