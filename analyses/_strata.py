"""The strata the analyses compare, defined once (sex, pregnancy among women, treatment, and the
export's declared category or boolean columns)."""

from __future__ import annotations

import pandas as pd

from toh.analyses.levels import fold_levels
from toh.cohort.columns import ExtraColumn

__all__ = ["SEX_LEVELS", "PREGNANCY_LEVELS", "STRATA", "strata_of", "fewer_than_two_groups", "describe_stratum"]

#: how the result tables name the sexes of the export (M/F): one word for the API, the CSVs and the report
SEX_LEVELS: dict[str, str] = {"M": "men", "F": "women"}
#: the pregnancy strata (women only), by pregnancy_associated
PREGNANCY_LEVELS: dict[bool, str] = {True: "pregnancy-associated", False: "not pregnancy-associated"}

#: stratum variable -> what it compares
STRATA: dict[str, str] = {
    "sex": "men vs women",
    "pregnancy": "women: pregnant or postpartum at onset vs neither (women with unknown status left out)",
    "treatment": "each treatment recorded (episodes without one left out)",
}


def _fold(labels: pd.Series, min_level: int) -> pd.Series:
    """Levels of fewer than ``min_level`` patients pooled into "other" (:func:`fold_levels`)."""
    if min_level <= 1 or labels.notna().sum() == 0:
        return labels
    counts = labels.value_counts().sort_index()
    folding = fold_levels({str(k): int(v) for k, v in counts.items()}, min_level)
    rename = {level: label for label, levels in folding.items() for level in levels}
    return labels.map(rename).astype(object).where(labels.notna())


def strata_of(index: pd.DataFrame, variable: str, columns: tuple[ExtraColumn, ...] = (),
              min_level: int = 0) -> pd.Series:
    """Stratum label of each index episode for ``variable`` (NA: not in any stratum).

    ``columns`` are the declared extra columns: one of type category stratifies by its values,
    one of type boolean by "yes" / "no".  With ``min_level``, the levels of a category
    (treatment, a declared category) resting on fewer patients are pooled into "other".
    """
    if variable == "sex":
        return index["sex"].map(SEX_LEVELS).astype(object)
    if variable == "pregnancy":
        women = (index["sex"] == "F") & index["pregnancy_associated"].notna()
        labels = index["pregnancy_associated"].map(PREGNANCY_LEVELS)
        return labels.where(women).astype(object)
    if variable == "treatment":
        if "treatment" not in index.columns:
            return pd.Series(pd.NA, index=index.index, dtype=object)
        return _fold(index["treatment"].astype(object), min_level)
    declared = {c.name: c for c in columns if c.type in ("category", "boolean")}
    if variable in declared:
        values = index[variable]
        if declared[variable].type == "boolean":
            return values.astype("boolean").map({True: "yes", False: "no"}).astype(object).where(values.notna())
        return _fold(values.astype(object).where(values.notna()), min_level)
    raise ValueError(f"unknown stratum variable {variable!r}; known: {sorted(STRATA) + sorted(declared)}")


def describe_stratum(variable: str, columns: tuple[ExtraColumn, ...] = ()) -> str:
    """What the strata of ``variable`` compare."""
    if variable in STRATA:
        return STRATA[variable]
    shown = {c.name: c.shown for c in columns}.get(variable, variable)
    return f"each value of {shown} (episodes without one left out)"


def fewer_than_two_groups(variable: str, groups: int, columns: tuple[ExtraColumn, ...] = ()) -> str:
    """Why a comparison across the groups of ``variable`` cannot be made (one reason text for
    every test: log-rank, Gray's)."""
    found = "no group" if groups == 0 else "one group only"
    return f"{found} of {variable} ({describe_stratum(variable, columns)}): nothing to compare"
