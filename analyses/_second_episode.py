"""Shared estimator for later episodes (same-hip recurrence, migration): cumulative incidence with
death as a competing risk, and the rate of first events per 100 person-years."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toh.analyses._cif import cumulative_incidence_counts
from toh.analyses._exact import poisson_rate
from toh.analyses._gray import gray_test
from toh.analyses._strata import fewer_than_two_groups
from toh.analyses.result import clean_number, level_free, name_limits, records
from toh.analyses._strata import strata_of

__all__ = ["INCIDENCE_COLUMNS", "incidence_tables", "incidence_counts", "incidence_strata_counts", "STRATA_COUNT_COLUMNS",
           "incidence_from_counts", "incidence_headline", "gray_tables", "gray_reasons", "GRAY_COLUMNS"]

#: Columns of Gray's tests: ``n_smallest`` the patients of the smallest group compared.
GRAY_COLUMNS = ["outcome", "variable", "groups", "n", "n_smallest", "events", "chisq", "df", "p"]


#: Columns of :func:`incidence_counts`: the sufficient statistics of the cumulative incidence
#: curves and the rate of one outcome.
COUNT_COLUMNS = ["time", "censored", "event", "death"]


def incidence_counts(index: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per distinct time: patients censored, with the ``outcome`` (status 1) and dying first
    (status 2); what a site's bundle holds."""
    time = index[f"{outcome}_days"].to_numpy(float)
    status = index[f"{outcome}_status"].to_numpy(int)
    times, inverse = np.unique(time, return_inverse=True)
    columns = {name: np.bincount(inverse.ravel(), weights=(status == code).astype(float), minlength=len(times))
               for name, code in (("censored", 0), ("event", 1), ("death", 2))}
    return pd.DataFrame({"time": times, **{k: v.astype(np.int64) for k, v in columns.items()}})[COUNT_COLUMNS]


#: Columns of the cumulative incidence at each horizon (:func:`incidence_tables`): ``events`` are
#: the patients with the ``cause`` by ``days`` and ``n`` all patients (a share of ``events`` of
#: ``n`` when nobody is censored before, so the report's small-cell rule reads them).
INCIDENCE_COLUMNS = ["outcome", "cause", "months", "days", "events", "n", "estimate", "se", "lower", "upper"]


#: Columns of :func:`incidence_strata_counts`.
STRATA_COUNT_COLUMNS = ["variable", "stratum", *COUNT_COLUMNS]


def incidence_strata_counts(index: pd.DataFrame, outcome: str, strata: tuple[str, ...]) -> pd.DataFrame:
    """:func:`incidence_counts` within each level of each stratum variable (patients outside
    every level left out): what Gray's test stratified by site needs from a site."""
    parts = [pd.DataFrame(columns=STRATA_COUNT_COLUMNS)]
    for variable in strata:
        labels = strata_of(index, variable)
        for level in sorted(labels.dropna().astype(str).unique()):
            counts = incidence_counts(index[(labels.astype(str) == level) & labels.notna()], outcome)
            parts.append(counts.assign(variable=variable, stratum=level)[STRATA_COUNT_COLUMNS])
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    return frame.astype({c: np.int64 for c in ("censored", "event", "death")}).astype({"time": float})


def incidence_tables(index: pd.DataFrame, outcome: str, months: tuple[float, ...], days_per_year: float,
                     conf: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cumulative incidence at ``months``, the curves, and the rate of ``outcome``.

    ``index`` carries ``{outcome}_days`` and ``{outcome}_status`` (0 censored, 1 event, 2 death).
    """
    return incidence_from_counts(incidence_counts(index, outcome), outcome, months, days_per_year, conf)


def incidence_from_counts(counts: pd.DataFrame, outcome: str, months: tuple[float, ...], days_per_year: float,
                          conf: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`incidence_tables` from :func:`incidence_counts` (one cohort's, or summed over sites)."""
    time = counts["time"].to_numpy(float)
    censored, event, death = (counts[c].to_numpy(float) for c in ("censored", "event", "death"))
    month = days_per_year / 12
    patients = int((censored + event + death).sum())
    at, curves = [], []
    for cause, label, mine, other in ((1, outcome, event, death), (2, "death", death, event)):
        curve = cumulative_incidence_counts(time, mine, other, censored, cause, conf)
        est, var, lower, upper = curve.at(np.asarray(months) * month)
        for m, e, v, lo, hi in zip(months, est, var, lower, upper):
            by_then = int(mine[time <= m * month].sum())  # the events the estimate at m counts
            at.append((outcome, label, m, m * month, by_then, patients, e, np.sqrt(v), lo, hi))
        curves.append(curve.table().assign(outcome=outcome, cause=label))
    events = int(event.sum())
    person_years = float(np.sum(time * (censored + event + death)) / days_per_year)
    rate, lo, hi = poisson_rate(events, person_years, conf, per=100)
    rates = pd.DataFrame([(outcome, events, patients, person_years, rate, lo, hi)],
                         columns=["outcome", "events", "n", "person_years", "estimate_per_100py", "lower_per_100py",
                                  "upper_per_100py"])
    cif = pd.DataFrame(at, columns=INCIDENCE_COLUMNS)
    curve_table = pd.concat(curves, ignore_index=True).rename(columns={"time": "days", "std_err": "se"})
    curve_table = curve_table[["outcome", "cause", "days", "n_risk", "n_event", "n_competing", "estimate",
                               "se", "lower", "upper"]]
    return name_limits(cif, conf), name_limits(curve_table, conf), name_limits(rates, conf)


def gray_tables(index: pd.DataFrame, outcome: str, strata: tuple[str, ...], min_level: int = 0) -> pd.DataFrame:
    """Gray's test of equal cumulative incidence of ``outcome`` across the groups of each stratum
    variable (patients outside every group left out; a variable with fewer than two groups, or
    without an event, gives NaN; ``min_level`` as for :func:`toh.analyses._strata.strata_of`)."""
    rows = []
    for variable in strata:
        groups = strata_of(index, variable, min_level=min_level)
        keep = groups.notna().to_numpy()
        time = index[f"{outcome}_days"].to_numpy(float)[keep]
        status = index[f"{outcome}_status"].to_numpy(int)[keep]
        labels = groups[keep].astype(str).to_numpy()
        levels, sizes = np.unique(labels, return_counts=True)
        smallest = int(sizes.min()) if len(sizes) else 0
        events = int((status == 1).sum())
        if len(levels) < 2 or events == 0:
            rows.append((outcome, variable, len(levels), int(keep.sum()), smallest, events, np.nan,
                         max(len(levels) - 1, 0), np.nan))
            continue
        test = gray_test(time, status, labels, cause=1)
        rows.append((outcome, variable, len(levels), int(keep.sum()), smallest, events, test.stat, test.df, test.p))
    return pd.DataFrame(rows, columns=GRAY_COLUMNS)


def gray_reasons(outcome: str, gray: pd.DataFrame) -> dict[str, str]:
    """Why a Gray's test row has no p-value: fewer than two groups, or no event to compare."""
    reasons = {}
    for row in gray.itertuples():
        if row.groups < 2:
            reasons[f"{outcome}.gray.{row.variable}"] = fewer_than_two_groups(row.variable, row.groups)
        elif row.events == 0:
            reasons[f"{outcome}.gray.{row.variable}"] = f"no {outcome} event: nothing to compare"
    return reasons


def incidence_headline(outcome: str, incidence: pd.DataFrame, rates: pd.DataFrame,
                       gray: pd.DataFrame | None = None) -> dict[str, float | int | None]:
    """Headline keys ``{outcome}.cif_<months>m.*`` (estimate, lower, upper, events, n), ``{outcome}.rate.*`` and ``{outcome}.gray.<variable>.p``."""
    out: dict[str, float | int | None] = {}
    for row in (gray.itertuples() if gray is not None else ()):
        out[f"{outcome}.gray.{row.variable}.p"] = clean_number(row.p)
    incidence = level_free(incidence)  # keys are the column names without the CI level
    for row in records(incidence[incidence["cause"] == outcome]):
        for key in ("estimate", "lower", "upper", "events", "n"):
            out[f"{outcome}.cif_{row['months']:g}m.{key}"] = clean_number(row[key])
    rate = level_free(rates).iloc[0]
    for key in ("events", "person_years", "estimate_per_100py", "lower_per_100py", "upper_per_100py"):
        out[f"{outcome}.rate.{key}"] = clean_number(rate[key])
    return out
