"""Log-rank and Gray's tests stratified by site, from each site's counts, against R on the
concatenated rows (reference/make_stratified_reference.R, ref_stratified.csv): survdiff(~ group +
strata(site)) and cuminc(strata = site), with a site of men only, without recurrence and without
one treatment (disjoint strata); and the same functions unstratified against survdiff / cuminc."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from toh.analyses._gray import gray_test
from toh.analyses._second_episode import incidence_strata_counts
from toh.analyses.resolution import survival_counts
from toh.analyses.stratified import gray_by_site, logrank_by_site, logrank_counts

HERE = Path(__file__).parent / "reference"
VARIABLES = ("sex", "pregnancy", "treatment")
TOL = 1e-9


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    data = pd.read_csv(HERE / "stratified_input.csv", keep_default_na=False, na_values=[""])
    data["pregnancy_associated"] = data["pregnancy_associated"].map({True: True, False: False}).astype("boolean")
    data["resolved"] = data["resolved"].astype(bool)
    return data


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(HERE / "ref_stratified.csv").set_index(["test", "outcome", "variable", "stratified"])


def _by_site(rows: pd.DataFrame, make) -> dict[str, pd.DataFrame]:
    return {site: make(part.reset_index(drop=True)) for site, part in rows.groupby("site")}


def _check(row, ref) -> None:
    assert row.stat == pytest.approx(ref["stat"], rel=TOL, abs=1e-12)
    assert row.p == pytest.approx(ref["p"], rel=TOL, abs=1e-15)
    assert row.df == ref["df"]


def test_logrank_stratified_by_site_equals_survdiff(rows: pd.DataFrame, reference: pd.DataFrame) -> None:
    table = logrank_by_site(_by_site(rows, lambda p: survival_counts(p, VARIABLES)), VARIABLES)
    assert list(table["variable"]) == list(VARIABLES)
    for row in table.itertuples():
        _check(SimpleNamespace(stat=row.chisq, p=row.p, df=row.df),
               reference.loc[("logrank", "resolution", row.variable, True)])
    sexes = table.set_index("variable").loc["sex"]
    assert sexes["n"] == len(rows) and sexes["events"] == rows["resolved"].sum()


def test_logrank_of_one_stratum_equals_survdiff(rows: pd.DataFrame, reference: pd.DataFrame) -> None:
    counts = survival_counts(rows, VARIABLES)
    for variable in VARIABLES:
        stat, df, p, _ = logrank_counts([counts[counts["variable"] == variable]])
        ref = reference.loc[("logrank", "resolution", variable, False)]
        assert stat == pytest.approx(ref["stat"], rel=TOL) and df == ref["df"] and p == pytest.approx(ref["p"], rel=TOL)


@pytest.mark.parametrize("outcome", ["recurrence", "migration"])
def test_gray_stratified_by_site_equals_cuminc(rows: pd.DataFrame, reference: pd.DataFrame, outcome: str) -> None:
    table = gray_by_site(_by_site(rows, lambda p: incidence_strata_counts(p, outcome, VARIABLES)), outcome, VARIABLES)
    for row in table.itertuples():
        _check(SimpleNamespace(stat=row.chisq, p=row.p, df=row.df), reference.loc[("gray", outcome, row.variable, True)])
    # the rows' version of the same test, stratified and not
    from toh.analyses._strata import strata_of

    for variable in VARIABLES:
        groups = strata_of(rows, variable)
        keep = groups.notna().to_numpy()
        args = (rows[f"{outcome}_days"].to_numpy(float)[keep], rows[f"{outcome}_status"].to_numpy(int)[keep],
                groups[keep].astype(str).to_numpy())
        _check(gray_test(*args, strata=rows["site"].to_numpy()[keep]), reference.loc[("gray", outcome, variable, True)])
        _check(gray_test(*args), reference.loc[("gray", outcome, variable, False)])


def test_the_public_gray_test_takes_strata(rows: pd.DataFrame, reference: pd.DataFrame) -> None:
    import toh

    women = rows[rows["sex"] == "F"]
    labels = np.where(women["pregnancy_associated"].fillna(False).to_numpy(bool), "pregnancy-associated",
                      "not pregnancy-associated")
    known = women["pregnancy_associated"].notna().to_numpy()
    test = toh.gray_test(women["migration_days"][known], women["migration_status"][known], labels[known],
                         strata=women["site"][known])
    _check(test, reference.loc[("gray", "migration", "pregnancy", True)])
    with pytest.raises(ValueError, match="strata"):
        toh.gray_test([1, 2], [1, 0], ["a", "b"], strata=["x"])


def test_fewer_than_two_groups_and_no_event_give_no_test() -> None:
    counts = pd.DataFrame({"variable": "sex", "stratum": "M", "time": [1.0, 2.0], "n_event": [1, 0],
                           "n_censor": [0, 1]})
    table = logrank_by_site({"a": counts, "b": counts}, ("sex",))
    assert table.loc[0, "groups"] == 1 and np.isnan(table.loc[0, "p"]) and table.loc[0, "df"] == 0
    cif = pd.DataFrame({"variable": "sex", "stratum": ["M", "F"], "time": [1.0, 2.0], "censored": [1, 1],
                        "event": [0, 0], "death": [0, 0]})
    gray = gray_by_site({"a": cif}, "recurrence", ("sex",))
    assert gray.loc[0, "events"] == 0 and np.isnan(gray.loc[0, "p"])
    # disjoint sites: men only at one, women only at the other: nothing is compared within a site
    men = counts.assign(stratum="M")
    women = counts.assign(stratum="F")
    stat, df, p, groups = logrank_counts([men, women])
    assert groups == ("F", "M") and np.isnan(stat) and np.isnan(p) and df == 1


def test_each_test_carries_its_smallest_group(rows: pd.DataFrame) -> None:
    """``n_smallest``: the patients of the smallest group a test compares (what the report's rule
    reads), by hand from the rows; the same for the tests by site (groups summed over sites) and
    for one registry's log-rank and Gray's tests."""
    from toh.analyses._second_episode import gray_tables
    from toh.analyses._strata import strata_of
    from toh.analyses.resolution import _logrank

    by_hand = {v: int(strata_of(rows, v).dropna().astype(str).value_counts().min()) for v in VARIABLES}
    assert by_hand["treatment"] < by_hand["sex"]  # the groups differ in size: the minimum is not a total
    logrank = logrank_by_site(_by_site(rows, lambda p: survival_counts(p, VARIABLES)), VARIABLES)
    assert dict(zip(logrank["variable"], logrank["n_smallest"])) == by_hand
    assert dict(zip(*_logrank(rows, VARIABLES)[["variable", "n_smallest"]].to_numpy().T)) == by_hand
    for outcome in ("recurrence", "migration"):
        gray = gray_by_site(_by_site(rows, lambda p: incidence_strata_counts(p, outcome, VARIABLES)), outcome, VARIABLES)
        assert dict(zip(gray["variable"], gray["n_smallest"])) == by_hand
        assert dict(zip(*gray_tables(rows, outcome, VARIABLES)[["variable", "n_smallest"]].to_numpy().T)) == by_hand
