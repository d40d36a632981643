"""Baseline characteristics of the cohort by sex: the data of Table 1.

Counts and summaries only; formatting ("n (%)", "median [IQR]") and small-cell suppression are
the reports layer's (:mod:`toh.reports.document.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.analyses.result import AnalysisResult, clean_number
from toh.cohort.derive import DerivedCohort

__all__ = ["BaselineResult", "analyse_baseline", "BASELINE_COLUMNS"]

BASELINE_COLUMNS = ["variable", "level", "kind", "stratum", "n", "denominator", "median", "q1", "q3", "missing"]
COLUMNS = ("all", "men", "women")


@dataclass(frozen=True)
class BaselineResult(AnalysisResult):
    """Long table: one row per variable, level and stratum (all / men / women).

    ``kind`` is "count" (n of denominator) or "continuous" (median, q1, q3 of n values);
    ``missing`` counts patients without the variable.
    """

    table: pd.DataFrame
    name: str = "baseline"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"baseline": self.table}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for row in self.table[self.table["level"] == ""].itertuples():
            if row.kind == "continuous":
                out[f"baseline.{row.variable}.{row.stratum}.median"] = clean_number(row.median)
        return out


def _continuous(name: str, values: pd.Series, groups: dict[str, pd.Series]) -> list[tuple]:
    rows = []
    for column, mask in groups.items():
        v = values[mask].dropna().to_numpy(float)
        med, q1, q3 = np.percentile(v, [50, 25, 75]) if len(v) else (np.nan,) * 3
        rows.append((name, "", "continuous", column, len(v), len(v), med, q1, q3, int(values[mask].isna().sum())))
    return rows


def _categorical(name: str, values: pd.Series, levels: list[str], groups: dict[str, pd.Series]) -> list[tuple]:
    rows = []
    for column, mask in groups.items():
        v = values[mask]
        known = int(v.notna().sum())
        missing = int(v.isna().sum())
        for level in levels:
            rows.append((name, level, "count", column, int((v == level).sum()), known, np.nan, np.nan, np.nan, missing))
    return rows


def analyse_baseline(cohort: DerivedCohort) -> BaselineResult:
    """Baseline characteristics of the index episodes, overall and by sex.

    Variables: age at onset (years), age group (<40, 40-55, >=56), side, pregnancy status
    (women), trimester (pregnant women), treatment, bilateral presentation, follow-up (months),
    resolved during follow-up.
    """
    index = cohort.index
    d = cohort.definitions
    groups = {"all": pd.Series(True, index=index.index), "men": index["sex"] == "M", "women": index["sex"] == "F"}
    women = {"women": groups["women"]}
    low, high = d.men_age_range
    age = index["age_at_onset"]
    age_group = pd.Series(np.select([age < low, age < high], [f"<{low:g}", f"{low:g}-{high - 1:g}"], f">={high:g}"),
                          index=index.index).where(age.notna())
    month = d.days_per_year / 12
    rows = _continuous("age_at_onset_years", age, groups)
    rows += _categorical("age_group", age_group, [f"<{low:g}", f"{low:g}-{high - 1:g}", f">={high:g}"], groups)
    rows += _categorical("side", index["side"].map({"L": "left", "R": "right"}), ["left", "right"], groups)
    if "pregnancy" in index:
        rows += _categorical("pregnancy", index["pregnancy"], ["pregnant", "postpartum", "none"], women)
        pregnant = {"women": groups["women"] & (index["pregnancy"] == "pregnant")}
        trimester = index["trimester"].astype("Float64").map(lambda t: f"{int(t)}", na_action="ignore") \
            if "trimester" in index else pd.Series(pd.NA, index=index.index)
        rows += _categorical("trimester", trimester, ["1", "2", "3"], pregnant)
    if "treatment" in index:
        levels = sorted(index["treatment"].dropna().unique())
        rows += _categorical("treatment", index["treatment"], levels, groups)
    rows += _categorical("bilateral", index["bilateral"].map({True: "yes", False: "no"}), ["yes"], groups)
    rows += _continuous("followup_months", index["patient_followup_days"] / month, groups)
    rows += _categorical("resolved", index["resolved"].map({True: "yes", False: "no"}), ["yes"], groups)
    return BaselineResult(pd.DataFrame(rows, columns=BASELINE_COLUMNS))
