"""Key look-ups and duplicate checks in Arrow agree with pandas on object columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from toh.schemas.text import TEXT_DTYPE, duplicated, isin, positions

KEYS = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "É", " ", "b\u00e9"]), st.text(max_size=3)),
                max_size=12)


def _both(values: list[str | None]) -> list[pd.Series]:
    plain = pd.Series(values, dtype=object)
    return [plain, plain.astype(TEXT_DTYPE)]


@settings(max_examples=examples(200), deadline=None)
@given(KEYS, KEYS)
def test_positions_find_the_first_row_of_each_key(values: list[str | None], keys: list[str | None]) -> None:
    known = pd.Series(values, dtype=object).isin(pd.Series(keys, dtype=object)).to_numpy()
    first = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    expected = np.array([first.get(v, -1) for v in values], dtype=np.int64)  # None finds None
    for left in _both(values):
        for right in _both(keys):
            np.testing.assert_array_equal(positions(left, right), expected)
            np.testing.assert_array_equal(isin(left, right), known)


@settings(max_examples=examples(200), deadline=None)
@given(KEYS)
def test_duplicated_marks_every_occurrence(values: list[str | None]) -> None:
    expected = pd.Series(values, dtype=object).duplicated(keep=False).to_numpy()
    for series in _both(values):
        np.testing.assert_array_equal(duplicated(series), expected)
