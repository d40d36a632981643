"""The strata the analyses compare, defined once (sex, pregnancy among women, treatment)."""

from __future__ import annotations

import pandas as pd

__all__ = ["STRATA", "strata_of", "fewer_than_two_groups"]

#: stratum variable -> what it compares
STRATA: dict[str, str] = {
    "sex": "men vs women",
    "pregnancy": "women: pregnant or postpartum at onset vs neither (women with unknown status left out)",
    "treatment": "each treatment recorded (episodes without one left out)",
}


def strata_of(index: pd.DataFrame, variable: str) -> pd.Series:
    """Stratum label of each index episode for ``variable`` (NA: not in any stratum)."""
    if variable == "sex":
        return index["sex"].astype(object)
    if variable == "pregnancy":
        women = (index["sex"] == "F") & index["pregnancy_associated"].notna()
        labels = index["pregnancy_associated"].map({True: "pregnancy-associated", False: "not pregnancy-associated"})
        return labels.where(women).astype(object)
    if variable == "treatment":
        if "treatment" not in index.columns:
            return pd.Series(pd.NA, index=index.index, dtype=object)
        return index["treatment"].astype(object)
    raise ValueError(f"unknown stratum variable {variable!r}; known: {sorted(STRATA)}")


def fewer_than_two_groups(variable: str, groups: int) -> str:
    """Why a comparison across the groups of ``variable`` cannot be made (one reason text for
    every test: log-rank, Gray's)."""
    found = "no group" if groups == 0 else "one group only"
    return f"{found} of {variable} ({STRATA.get(variable, variable)}): nothing to compare"
