"""Every options class checks its values when it is made."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("options", ["MigrationOptions", "RecurrenceOptions"])
def test_options_check_themselves(options: str) -> None:
    import toh.analyses.migration as migration
    import toh.analyses.recurrence as recurrence

    cls = getattr(migration if options.startswith("M") else recurrence, options)
    cls()
    with pytest.raises(ValueError, match=r"months\[1\] must be a finite number > 0, got -12"):
        cls(months=(12.0, -12))
    with pytest.raises(ValueError, match="strata must be a tuple of names"):
        cls(strata="sex")


def test_resolution_options_check_their_horizons() -> None:
    from toh.analyses.resolution import ResolutionOptions

    with pytest.raises(ValueError, match=r"rmst_months\[0\] must be a finite number > 0"):
        ResolutionOptions(rmst_months=(float("inf"),))
