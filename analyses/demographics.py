"""Who gets TOH: sex ratio against 3:1, age at onset by sex, pregnancy and trimester among
women, laterality and bilateral presentation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.analyses._exact import binomial_test, clopper_pearson, wilson
from toh.analyses._strata import SEX_LEVELS
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records
from toh.cohort.definitions import Definitions
from toh.cohort.derive import DerivedCohort

__all__ = ["DemographicsOptions", "DemographicsResult", "analyse_demographics", "proportion_counts",
           "proportion_table", "sex_ratio_table", "share_headline"]

PROPORTION_COLUMNS = ["quantity", "description", "x", "n", "estimate", "lower", "upper", "method"]


@dataclass(frozen=True)
class DemographicsOptions:
    """Settings of the demographic description.

    Attributes
    ----------
    null_ratio
        Men-to-women ratio the exact binomial test compares with (3 for the published 3:1).
    age_bin_years
        Width of the age bins of the age distribution (the data of the age figure).
    """

    null_ratio: float = 3.0
    age_bin_years: float = 5.0

    def __post_init__(self) -> None:
        if not self.null_ratio > 0:
            raise ValueError("null_ratio must be > 0")
        if not self.age_bin_years > 0:
            raise ValueError("age_bin_years must be > 0")


@dataclass(frozen=True)
class DemographicsResult(AnalysisResult):
    """Sex, age, pregnancy and laterality of the cohort's index episodes."""

    proportions: pd.DataFrame
    sex_ratio: pd.DataFrame
    age: pd.DataFrame
    pregnancy: pd.DataFrame
    trimester: pd.DataFrame
    laterality: pd.DataFrame
    age_distribution: pd.DataFrame
    options: DemographicsOptions
    conf: float
    name: str = "demographics"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"demographics_proportions": self.proportions, "demographics_sex_ratio": self.sex_ratio,
                "demographics_age": self.age, "demographics_pregnancy": self.pregnancy,
                "demographics_trimester": self.trimester, "demographics_laterality": self.laterality,
                "demographics_age_distribution": self.age_distribution}

    @property
    def not_estimable(self) -> dict[str, str]:  # type: ignore[override]
        """Shares with an empty denominator, a ratio without women, ages of a sex not in the cohort."""
        reasons = {f"demographics.{row.quantity}": f"no one in the denominator ({row.description})"
                   for row in self.proportions.itertuples() if row.n == 0}
        ratio = self.sex_ratio.iloc[0]
        if ratio["women"] == 0:
            reasons["demographics.sex_ratio"] = "no women in the cohort: men per woman is undefined"
        names = {"all": "no patient", "men": "no men", "women": "no women"}
        reasons.update({f"demographics.age.{row.stratum}": f"{names.get(row.stratum, 'no one')} with a known age"
                        for row in self.age.itertuples() if row.n == 0})
        return reasons

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        out.update(share_headline(self.sex_ratio, self.proportions))
        for row in records(self.age):
            for key in ("n", "mean_years", "sd_years", "median_years", "q1_years", "q3_years"):
                out[f"demographics.age.{row['stratum']}.{key}"] = clean_number(row[key])
        return out


def share_headline(sex_ratio: pd.DataFrame, proportions: pd.DataFrame) -> dict[str, float | int | None]:
    """Headline keys ``demographics.sex_ratio.*`` and ``demographics.<share>.*`` (one cohort's,
    or a pool's; limits level-free)."""
    out: dict[str, float | int | None] = {}
    ratio = level_free(sex_ratio).iloc[0]  # keys are the column names without the CI level
    for key in ("n", "men", "women", "estimate", "lower", "upper", "null_ratio", "p"):
        out[f"demographics.sex_ratio.{key}"] = clean_number(ratio[key])
    for row in records(level_free(proportions)):
        for key in ("x", "n", "estimate", "lower", "upper"):
            out[f"demographics.{row['quantity']}.{key}"] = clean_number(row[key])
    return out


def _proportion(quantity: str, description: str, x: int, n: int, conf: float, method: str = "exact") -> tuple:
    est, lo, hi = (wilson if method == "wilson" else clopper_pearson)(int(x), int(n), conf)
    return (quantity, description, int(x), int(n), est, lo, hi,
            "Wilson score" if method == "wilson" else "Clopper-Pearson exact")


def _age_table(index: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for sex, group in [("all", index), (SEX_LEVELS["M"], index[index["sex"] == "M"]),
                       (SEX_LEVELS["F"], index[index["sex"] == "F"])]:
        age = group["age_at_onset"].dropna().to_numpy(float)
        stats = (np.mean(age), np.std(age, ddof=1) if len(age) > 1 else np.nan, *np.percentile(age, [50, 25, 75]),
                 age.min(), age.max()) if len(age) else (np.nan,) * 7
        rows.append((sex, len(age), int(group["age_at_onset"].isna().sum()), *stats))
    return pd.DataFrame(rows, columns=["stratum", "n", "missing", "mean_years", "sd_years", "median_years", "q1_years",
                                       "q3_years", "min_years", "max_years"])


def _age_distribution(index: pd.DataFrame, width: float) -> pd.DataFrame:
    """Counts by stratum (men; women, pregnancy-associated; women, other) and age bin
    [from_years, to_years): the data of the age figure."""
    group = np.where(index["sex"] == "M", "men",
                     np.where(index["pregnancy_associated"].fillna(False).astype(bool), "women, pregnancy-associated",
                              "women, other"))
    age = index["age_at_onset"].to_numpy(float)
    lower = np.floor(age / width) * width
    frame = pd.DataFrame({"stratum": group, "from_years": lower}).dropna()
    counts = frame.groupby(["stratum", "from_years"], sort=True).size().rename("n").reset_index()
    counts.insert(2, "to_years", counts["from_years"] + width)
    return counts


def _counts(series: pd.Series, levels: list, name: str) -> pd.DataFrame:
    counts = series.value_counts(dropna=False)
    known = int(series.notna().sum())
    rows = [(str(level), int(counts.get(level, 0)), counts.get(level, 0) / known if known else np.nan) for level in levels]
    rows.append(("unknown", int(series.isna().sum()), np.nan))
    return pd.DataFrame(rows, columns=[name, "n", "share_of_known"])


def sex_ratio_table(n: int, men: int, null_ratio: float, conf: float) -> pd.DataFrame:
    """Men per woman among ``n`` patients, ``men`` of them men (see :func:`analyse_demographics`)."""
    women = n - men
    share, lo, hi = wilson(men, n, conf)
    p0 = null_ratio / (1 + null_ratio)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame([(n, men, women, men / women if women else np.inf, lo / (1 - lo),
                              hi / (1 - hi) if hi < 1 else np.inf, null_ratio, binomial_test(men, n, p0))],
                            columns=["n", "men", "women", "estimate", "lower", "upper", "null_ratio", "p"]
                            ).pipe(name_limits, conf)


#: Columns of :func:`proportion_counts`.
COUNT_COLUMNS = ["quantity", "description", "x", "n", "method"]


def proportion_counts(index: pd.DataFrame, definitions: Definitions) -> pd.DataFrame:
    """x and n of every share of the description (``method`` "wilson" or "exact"); what a
    site's bundle holds."""
    n = len(index)
    men = int((index["sex"] == "M").sum())
    low, high = definitions.men_age_range
    men_age = index.loc[index["sex"] == "M", "age_at_onset"].dropna()
    women_idx = index[index["sex"] == "F"]
    known_preg = women_idx["pregnancy_associated"].dropna()
    pregnant = women_idx[women_idx["pregnancy"] == "pregnant"] if "pregnancy" in women_idx else women_idx.iloc[:0]
    trimester = pregnant["trimester"] if "trimester" in pregnant else pd.Series(dtype="Int64")
    preg_women = women_idx[women_idx["pregnancy_associated"].fillna(False).astype(bool)]
    rows = [
        ("share_men", "men among patients", men, n, "wilson"),
        ("men_aged_40_55", f"men aged {low:g} to <{high:g} at onset, among men with a known age",
         int(((men_age >= low) & (men_age < high)).sum()), len(men_age), "exact"),
        ("women_pregnancy_associated", "women pregnant or postpartum at onset, among women with a known status",
         int(known_preg.astype(bool).sum()), len(known_preg), "exact"),
        ("pregnant_in_trimester_3", "3rd trimester among pregnant women with a known trimester",
         int((trimester == 3).sum()), int(trimester.notna().sum()), "exact"),
        ("left_hip", "left index hip", int((index["side"] == "L").sum()), int(index["side"].notna().sum()), "exact"),
        ("bilateral", "bilateral presentation (opposite hip within the window)",
         int(index["bilateral"].astype(bool).sum()), n, "exact"),
        ("left_hip_pregnancy_associated", "left index hip, pregnancy-associated women",
         int((preg_women["side"] == "L").sum()), int(preg_women["side"].notna().sum()), "exact"),
    ]
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def proportion_table(counts: pd.DataFrame, conf: float) -> pd.DataFrame:
    """Every share with its interval from :func:`proportion_counts` (one cohort's, or summed over sites)."""
    return name_limits(pd.DataFrame([_proportion(r.quantity, r.description, r.x, r.n, conf, r.method)
                                     for r in counts.itertuples()], columns=PROPORTION_COLUMNS), conf)


def analyse_demographics(cohort: DerivedCohort, options: DemographicsOptions | None = None) -> DemographicsResult:
    """Describe the cohort's index episodes (one per patient).

    The sex ratio's interval is the Wilson interval on the proportion of men, p, carried to the
    ratio p / (1 - p); the test is the exact binomial test of p = r / (1 + r).  Other
    proportions have Clopper-Pearson intervals.  Ages are in years at the index onset; quartiles
    interpolate linearly (R's type 7).

    Parameters
    ----------
    cohort
        Derived cohort tables.
    options
        The null ratio of the test (default 3:1).

    Returns
    -------
    DemographicsResult
    """
    options = options or DemographicsOptions()
    definitions = cohort.definitions
    conf = definitions.confidence
    index = cohort.index
    n = len(index)
    men = int((index["sex"] == "M").sum())
    women_idx = index[index["sex"] == "F"]
    pregnant = women_idx[women_idx["pregnancy"] == "pregnant"] if "pregnancy" in women_idx else women_idx.iloc[:0]
    trimester = pregnant["trimester"] if "trimester" in pregnant else pd.Series(dtype="Int64")
    laterality = pd.crosstab(index["sex"].map(SEX_LEVELS).rename("stratum"), index["side"]).reindex(
        columns=["L", "R"], fill_value=0)
    laterality = laterality.reset_index().rename(columns={"L": "left", "R": "right"})
    laterality.columns.name = None
    pregnancy = women_idx["pregnancy"] if "pregnancy" in women_idx else pd.Series(pd.NA, index=women_idx.index)
    return DemographicsResult(
        proportions=proportion_table(proportion_counts(index, definitions), conf),
        sex_ratio=sex_ratio_table(n, men, options.null_ratio, conf),
        age=_age_table(index),
        pregnancy=_counts(pregnancy, ["pregnant", "postpartum", "none"], "pregnancy"),
        trimester=_counts(trimester.astype("Float64"), [1, 2, 3], "trimester").assign(
            trimester=lambda f: f["trimester"].str.replace(".0", "", regex=False)),
        laterality=laterality,
        age_distribution=_age_distribution(index, options.age_bin_years),
        options=options,
        conf=conf,
    )
