"""The public estimators (``import toh``) against R on R's own data sets.

Data and references: tests/analyses/data/r_*.csv and tests/analyses/reference/ref_r_*.csv, both
written by tests/analyses/reference/make_r_datasets_reference.R (R 4.2.2, survival 3.5-3,
cmprsk 2.2-11) from survival::lung, aml, ovarian and a competing-risks set built from mgus2.
Every comparison is to 1e-8 (relative, and absolute near 0) except the Clopper-Pearson limits
(1e-10 relative, down to proportions of 1e-13) and Turnbull: R's ``survfit(type = "interval2")``
stops its EM once successive curves differ by less than 5e-5, so it is only a ~1e-3 reference
(2e-3 here, at 65 points of three data sets), while ours meets the KKT conditions to 1e-8.  Each test asserts how many values it
compared, so that a reference file that lost rows cannot pass quietly.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toh

HERE = Path(__file__).parent
DATA, REF = HERE / "data", HERE / "reference"
RTOL, ATOL = 1e-8, 1e-10


def _close(got, expected, rtol: float = RTOL, atol: float = ATOL) -> int:
    """Assert equal within tolerance (NaN where R has NA, Inf where R has Inf); the count."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    return got.size


def _km_input(dataset: str, group: str) -> tuple[np.ndarray, np.ndarray]:
    if dataset == "lung":
        d = pd.read_csv(DATA / "r_lung.csv")
        if group != "all":
            d = d[d["sex"] == int(group.split("=")[1])]
        return d["time"].to_numpy(), (d["status"] == 2).astype(int).to_numpy()
    if dataset == "aml":
        d = pd.read_csv(DATA / "r_aml.csv")
        if group != "all":
            d = d[d["x"] == group]
        return d["time"].to_numpy(), d["status"].to_numpy()
    d = pd.read_csv(DATA / "r_ovarian.csv")
    return d["futime"].to_numpy(), d["fustat"].to_numpy()


KM_REF = pd.read_csv(REF / "ref_r_km.csv")
KM_FITS = list(KM_REF.groupby(["dataset", "group", "conf_level"], sort=False).groups)


@pytest.mark.parametrize("key", KM_FITS, ids=lambda k: f"{k[0]}-{k[1]}-{k[2]:g}")
def test_kaplan_meier_matches_survfit_on_r_data(key) -> None:
    dataset, group, conf = key
    ref = KM_REF[(KM_REF["dataset"] == dataset) & (KM_REF["group"] == group) & (KM_REF["conf_level"] == conf)]
    fit = toh.kaplan_meier(*_km_input(dataset, group), conf_level=conf)
    summary = fit.summary
    lower, upper = f"lower_{conf * 100:g}", f"upper_{conf * 100:g}"
    assert list(summary.columns) == ["time", "n_risk", "n_event", "n_censor", "estimate", "se", lower, upper]
    assert len(summary) == len(ref)
    for column in ("time", "n_risk", "n_event", "n_censor"):
        np.testing.assert_array_equal(summary[column], ref[column])
    compared = sum(_close(summary[ours], ref[theirs]) for ours, theirs in
                   (("estimate", "surv"), ("se", "std_err"), (lower, "lower"), (upper, "upper")))
    assert compared == 4 * len(ref) > 0


def test_kaplan_meier_reference_covers_every_fit() -> None:
    assert len(KM_FITS) == 9 and len(KM_REF) == 652


def test_se_is_inf_where_survival_reaches_zero_as_in_r() -> None:
    # aml, Nonmaintained: the last patient dies at 45 weeks, S = 0.  R: std.err Inf, limits NA.
    # Before the fix the se column held the finite Greenwood sum there (0.9449, as at 43 weeks).
    fit = toh.kaplan_meier(*_km_input("aml", "Nonmaintained"))
    last = fit.summary.iloc[-1]
    assert last["estimate"] == 0 and np.isinf(last["se"])
    assert np.isnan(last["lower_95"]) and np.isnan(last["upper_95"])


def test_quantiles_follow_quantile_survfit() -> None:
    ref = pd.read_csv(REF / "ref_r_km_quantile.csv")
    compared = 0
    for (dataset, group, conf), rows in ref.groupby(["dataset", "group", "conf_level"], sort=False):
        fit = toh.kaplan_meier(*_km_input(dataset, group), conf_level=conf)
        for row in rows.itertuples():
            got = fit.median if row.prob == 0.5 else fit.quantile(row.prob)
            compared += _close(tuple(got), (row.quantile, row.lower, row.upper))
    assert compared == 3 * 27


def _mgus() -> pd.DataFrame:
    return pd.read_csv(DATA / "r_mgus2_cr.csv")


@pytest.mark.parametrize("conf", [0.95, 0.90])
@pytest.mark.parametrize("cause", [1, 2])
def test_cumulative_incidence_matches_cuminc_timepoints(cause: int, conf: float) -> None:
    ref = pd.read_csv(REF / "ref_r_cuminc.csv")
    ref = ref[(ref["cause"] == cause) & (ref["conf_level"] == conf) & ref["est"].notna()]
    d = _mgus()
    fit = toh.cumulative_incidence(d["time"], d["status"], cause=cause, conf_level=conf)
    est, var, lower, upper = fit.at(ref["time"].to_numpy())
    compared = _close(est, ref["est"]) + _close(var, ref["var"]) + _close(lower, ref["lower"]) \
        + _close(upper, ref["upper"])
    assert compared == 4 * 269
    # the summary holds the same curve, with se = sqrt(var)
    summary = fit.summary.set_index("time")
    at_times = summary.loc[summary.index.intersection(ref["time"])]
    merged = ref.set_index("time").loc[at_times.index]
    _close(at_times["se"] ** 2, merged["var"])
    assert f"lower_{conf * 100:g}" in summary.columns


@pytest.mark.parametrize("row", pd.read_csv(REF / "ref_r_gray.csv").to_dict("records"),
                         ids=lambda r: f"{r['dataset']}-rho{r['rho']}-cause{r['cause']}")
def test_gray_test_matches_cuminc_tests(row: dict) -> None:
    d = _mgus().rename(columns={"sex": "group"}) if row["dataset"] == "mgus2_cr" \
        else pd.read_csv(DATA / "r_gray_zero.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 RuntimeWarning where group a's survival is 0
        test = toh.gray_test(d["time"], d["status"], d["group"], cause=row["cause"], rho=row["rho"])
    assert test.df == row["df"]
    assert _close([test.stat, test.p], [row["stat"], row["p"]]) == 2
    assert test.summary.loc[0, "cause"] == row["cause"]


def test_gray_reference_has_every_case() -> None:
    assert len(pd.read_csv(REF / "ref_r_gray.csv")) == 8


def test_clopper_pearson_matches_binom_test_even_near_zero() -> None:
    ref = pd.read_csv(REF / "ref_r_binom.csv")
    compared = 0
    for row in ref.itertuples():
        got = toh.clopper_pearson(int(row.x), int(row.n), conf_level=row.conf_level)
        # relative 1e-10 (the limits go down to 2.5e-13); before the fix, x = 1 of 1e11 gave a
        # lower limit of 0 (R: 2.5317807984e-13) and an upper limit of 5.5752e-11 (R: 5.5716e-11)
        compared += _close((got.lower, got.upper), (row.lower, row.upper), rtol=1e-10, atol=0)
        assert got.estimate == row.x / row.n
    assert compared == 2 * 12
    assert toh.clopper_pearson(3, 10, conf_level=0.9).summary.columns[3] == "lower_90"


def test_wilson_matches_prop_test() -> None:
    ref = pd.read_csv(REF / "ref_r_wilson.csv")
    compared = 0
    for r in ref.itertuples():
        got = toh.wilson(int(r.x), int(r.n), conf_level=r.conf_level)
        compared += _close((got.lower, got.upper), (r.lower, r.upper))
    assert compared == 2 * 7


def test_poisson_rate_matches_poisson_test() -> None:
    ref = pd.read_csv(REF / "ref_r_poisson.csv")
    compared = 0
    for r in ref.itertuples():
        got = toh.poisson_rate(int(r.x), r.time, conf_level=r.conf_level)
        compared += _close((got.estimate, got.lower, got.upper), (r.estimate, r.lower, r.upper))
        per100 = toh.poisson_rate(int(r.x), r.time, conf_level=r.conf_level, per=100)
        _close((per100.estimate, per100.lower, per100.upper), (100 * r.estimate, 100 * r.lower, 100 * r.upper))
    assert compared == 3 * 6


@pytest.mark.parametrize("dataset", ["lung_visits", "ovarian_visits", "lung_irregular"])
def test_turnbull_matches_interval2_loosely(dataset: str) -> None:
    d = pd.read_csv(DATA / f"r_{dataset}.csv")
    fit = toh.turnbull(d["lo"], d["hi"])
    assert fit.kkt <= 1e-8
    ref = pd.read_csv(REF / "ref_r_turnbull.csv")
    ref = ref[ref["dataset"] == dataset]
    # R draws each jump in the middle of its innermost interval: compare at every interval end
    # that lies inside no innermost interval holding mass, where both step functions are flat.
    # 2e-3, because R's EM stops at 5e-5 (seen: 1e-13 on the regular visit grids, where the EM
    # converges at once, and 7.6e-4 on lung_irregular).
    ends = np.unique(np.r_[fit.left, fit.right[np.isfinite(fit.right)]])
    points = [t for t in ends if not np.any((fit.left < t) & (t < fit.right) & (fit.p > 1e-6))]
    r_surv = [ref.loc[ref["time"] <= t, "surv"].iloc[-1] if (ref["time"] <= t).any() else 1.0 for t in points]
    compared = _close(fit.survival(points), r_surv, rtol=0, atol=2e-3)
    assert compared == {"lung_visits": 17, "ovarian_visits": 10, "lung_irregular": 38}[dataset]
    summary = fit.summary
    assert list(summary.columns) == ["left", "time", "mass", "estimate"]
    np.testing.assert_allclose(summary["estimate"], 1 - np.cumsum(fit.p))


# ---------------------------------------------------------------- input checks

@pytest.mark.parametrize("call,message", [
    (lambda: toh.kaplan_meier([1, 2, float("nan")], [1, 0, 1]), r"kaplan_meier: time\[2\] is missing"),
    (lambda: toh.kaplan_meier([1, float("inf")], [1, 0]), r"time\[1\] = inf is not a finite number"),
    (lambda: toh.kaplan_meier([1, -2, 3], [1, 0, 1]), r"time\[1\] = -2 is negative"),
    (lambda: toh.kaplan_meier([1, 2, 3], [1, 2, 1]), r"event\[1\] = .*2.* is not 0 or 1"),
    (lambda: toh.kaplan_meier([1, 2, 3], [1, 0]), r"time has 3 values but event has 2"),
    (lambda: toh.kaplan_meier([], []), r"time is empty"),
    (lambda: toh.kaplan_meier([1, 2], [1, 0], conf_level=95), r"conf_level = 95 must be .* between 0 and 1"),
    (lambda: toh.kaplan_meier([1, 2], [1, 0], conf_level=1.0), r"conf_level = 1.0"),
    (lambda: toh.turnbull([0, 5, 3], [2, 5, 4]), r"lower\[1\] == upper\[1\] == 5: an exact time .*closed"),
    (lambda: toh.turnbull([0, 6], [2, 5]), r"lower\[1\] = 6 > upper\[1\] = 5"),
    (lambda: toh.turnbull([0, float("inf")], [2, float("inf")]), r"lower\[1\] = inf is not a finite"),
    (lambda: toh.turnbull([0, 1], [2, float("nan")]), r"upper\[1\] is missing"),
    (lambda: toh.turnbull([-1, 1], [2, 3]), r"lower\[0\] = -1 is negative"),
    (lambda: toh.cumulative_incidence([1, 2, 3], [0, 1.5, 2]), r"status\[1\] = .*1.5 is not an integer >= 0"),
    (lambda: toh.cumulative_incidence([1, 2, 3], [0, -1, 2]), r"status\[1\] = .*-1 is not an integer >= 0"),
    (lambda: toh.cumulative_incidence([1, 2], [0, 1], cause=0), r"cause = 0 must be a whole number >= 1"),
    (lambda: toh.cumulative_incidence([1, 2], [0, 1], conf_level=0), r"conf_level = 0 must"),
    (lambda: toh.gray_test([1, 2, 3], [1, 0, 2], ["a", "b"]), r"time has 3 values but group has 2"),
    (lambda: toh.gray_test([1, 2], [1, 0], ["a", "a"]), r"at least two groups"),
    (lambda: toh.gray_test([1, 2], [1, 0], ["a", None]), r"group\[1\] is missing"),
    (lambda: toh.clopper_pearson(11, 10), r"x = 11 is larger than n = 10"),
    (lambda: toh.clopper_pearson(1, 0), r"n = 0 must be a whole number >= 1"),
    (lambda: toh.wilson(1.5, 10), r"x = 1.5 must be a whole number"),
    (lambda: toh.poisson_rate(3, 0.0), r"person_time = 0.0 must be a finite number > 0"),
    (lambda: toh.poisson_rate(-1, 10.0), r"events = -1 must be a whole number >= 0"),
    (lambda: toh.kaplan_meier(pd.Series([1.0, None], dtype="Float64"), [1, 0]), r"time\[1\] is missing"),
    (lambda: toh.kaplan_meier([1, 2], pd.Series([True, None], dtype="boolean")), r"event\[1\] = <NA> is not 0 or 1"),
    (lambda: toh.kaplan_meier(["1", "x"], [1, 0]), r"time\[1\] = 'x' is not a number"),
    (lambda: toh.gray_test([1, 2, 3], [1, 0, 2], pd.Series(["a", pd.NA, "b"], dtype="string")),
     r"group\[1\] is missing"),
])
def test_bad_input_fails_with_a_clear_message(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_inputs_may_be_lists_arrays_or_series_and_are_not_changed() -> None:
    time = pd.Series([3.0, 1.0, 2.0, 2.0])
    event = pd.Series([True, False, True, True])
    a = toh.kaplan_meier(time, event).summary
    b = toh.kaplan_meier(list(time), [1, 0, 1, 1]).summary
    pd.testing.assert_frame_equal(a, b)
    assert list(time) == [3.0, 1.0, 2.0, 2.0]


def test_results_are_frozen() -> None:
    fit = toh.kaplan_meier([1, 2], [1, 1])
    with pytest.raises(AttributeError):
        fit.conf = 0.5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        toh.wilson(1, 2).lower = 0  # type: ignore[misc]


def test_every_result_shows_its_summary_in_a_notebook() -> None:
    results = [toh.kaplan_meier([1, 2, 3], [1, 0, 1]), toh.turnbull([0, 1], [2, 3]),
               toh.cumulative_incidence([1, 2, 3], [1, 2, 0]), toh.gray_test([1, 2, 3, 4], [1, 2, 1, 0], list("abab")),
               toh.clopper_pearson(1, 4), toh.wilson(1, 4), toh.poisson_rate(1, 4.0)]
    for result in results:
        html = result._repr_html_()
        assert type(result).__name__ in html and "<table" in html
        assert isinstance(repr(result), str)
