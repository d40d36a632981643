"""The strata the analyses compare, defined once (sex, pregnancy among women, treatment)."""

from __future__ import annotations

import pandas as pd

__all__ = ["STRATA", "strata_of"]

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
