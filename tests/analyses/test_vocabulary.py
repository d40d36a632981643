"""One vocabulary for every result table (docs: README "Result tables"): the limits carry the
level of ``definitions.confidence`` in their names, results.json keys do not, the sexes are
men/women, and none of the old names (surv, npmle, std_err, hr, proportion, ...) is left."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.result import ci_columns, level_free, name_limits
from toh.analyses.run import AnalysisOptions, analyse_cohort
from toh.cohort.definitions import Definitions
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export

DEMO = Path(__file__).parents[2] / "cohort" / "demo"
#: names a table of schema 1 used for what is now estimate / lower_95 / se / stratum / days
OLD = {"surv", "npmle", "std_err", "hr", "hr_lower", "hr_upper", "proportion", "proportion_lower", "share",
       "ratio", "ratio_lower", "p_exact", "median", "median_lower", "rmst", "stratum_var", "group", "sex", "time",
       "lower", "upper", "rate_lower", "stat", "age_lower", "column", "weibull", "median_day"}


@pytest.fixture(scope="module")
def at_90():
    report = load_valid_export(DEMO, validation_date=dt.date(2026, 1, 31))
    cohort = derive_cohort(report.tables, Definitions(confidence=0.9))
    return analyse_cohort(cohort, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=20, seed=1)))


def test_every_table_names_its_limits_by_the_level_and_keeps_no_old_name(at_90) -> None:
    limits = 0
    for name, table in at_90.tables().items():
        old = OLD & set(table.columns)
        assert not old, (name, old)
        for column in table.columns:
            if re.search(r"(^|_)(lower|upper)(_|$)", column):
                assert re.search(r"(^|_)(lower|upper)_90(_|$)", column), (name, column)
                limits += 1
    assert limits >= 40  # every estimate with an interval has both limits named so
    assert list(at_90.radiographic.npmle.columns[:2]) == ["left_days", "right_days"]


def test_the_sexes_are_men_and_women_in_every_table(at_90) -> None:
    for name, table in at_90.tables().items():
        if "stratum" in table.columns:
            assert not {"M", "F"} & set(table["stratum"].astype(str)), name
    assert set(at_90.baseline.table["stratum"]) == {"all", "men", "women"}
    assert set(at_90.resolution.medians.query("variable == 'sex'")["stratum"]) == {"men", "women"}


def test_results_keys_stay_level_free_and_match_the_tables(at_90) -> None:
    head = at_90.headline()
    assert not [k for k in head if re.search(r"_90\b|_95\b", k)]
    medians = at_90.resolution.medians.set_index("variable").loc["all"]
    assert head["resolution.median.estimate_days"] == medians["estimate_days"]
    assert head["resolution.median.lower_days"] == medians["lower_90_days"]
    ratio = at_90.demographics.sex_ratio.iloc[0]
    assert (head["demographics.sex_ratio.lower"], head["demographics.sex_ratio.upper"]) == (
        ratio["lower_90"], ratio["upper_90"])
    # a 90% interval lies inside the 95% one of the same estimate
    share = at_90.demographics.proportions.set_index("quantity").loc["share_men"]
    assert share["lower_90"] < share["estimate"] < share["upper_90"]


@given(st.floats(min_value=0.5, max_value=0.999, allow_nan=False),
       st.lists(st.sampled_from(["lower", "upper", "lower_days", "upper_per_100py", "rate_lower_per_100py",
                                 "estimate", "n", "lowered", "from_years"]), unique=True, min_size=1))
def test_naming_the_limits_is_undone_by_level_free(conf: float, columns: list[str]) -> None:
    frame = pd.DataFrame(columns=columns)
    named = name_limits(frame, conf)
    lower, _ = ci_columns(conf)
    level = lower[len("lower_"):]
    for before, after in zip(columns, named.columns):
        changed = bool(re.search(r"(^|_)(lower|upper)(_|$)", before))
        assert (after != before) == changed and (level in after) == changed
    assert list(level_free(named).columns) == columns
