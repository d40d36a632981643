"""Log-rank and Gray's tests stratified by site, from the sites' counts only.

A pool of sites compares the groups of a stratum variable (sex, pregnancy among women, treatment)
within each site and adds the comparisons up, so that a difference between hospitals (in their
patients' follow-up, their case mix) is not mistaken for a difference between groups:

* :func:`logrank_counts` is ``survival::survdiff(Surv(time, status) ~ group + strata(site))``
  (rho = 0): per stratum, observed minus expected resolutions per group and the hypergeometric
  covariance, added over strata; the statistic solves the groups with an expected count above 0
  without the first, as survdiff does.  Its inputs are resolutions and censorings per time and
  group, which the bundles hold (``resolution_km``).
* Gray's test is :func:`toh.analyses._gray.gray_test_counts` over the sites as strata, as
  ``cmprsk::cuminc(ftime, fstatus, group, strata = site)``; its inputs are censorings, events
  and deaths per time and group (``recurrence_cif_strata``, ``migration_cif_strata``).

Both are checked against R on the concatenated rows in tests/analyses/test_stratified.py (the R
script beside its values).  A treatment level a site did not write (not a code) is not in these
tests; with no level withheld they equal R's on the concatenated export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from toh.analyses._gray import gray_test_counts
from toh.analyses._second_episode import GRAY_COLUMNS

__all__ = ["LOGRANK_COLUMNS", "logrank_counts", "logrank_by_site", "gray_by_site", "NOT_COMPARED"]

#: Why a stratified test with two or more groups has no statistic.
NOT_COMPARED = ("no site has patients of two groups at risk together with an event to compare (a singular "
                "variance): the groups are never compared within a site")

LOGRANK_COLUMNS = ["variable", "groups", "n", "n_smallest", "events", "chisq", "df", "p"]


def _matrices(table: pd.DataFrame, groups: list[str], columns: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Counts of ``table`` (``stratum, time`` and ``columns``) as distinct times x groups
    matrices, one per column, and the patients at risk (time >= t)."""
    times = np.unique(table["time"].to_numpy(float))
    row = np.searchsorted(times, table["time"].to_numpy(float))
    col = np.array([groups.index(s) for s in table["stratum"]], dtype=np.int64)
    out = []
    for name in columns:
        m = np.zeros((len(times), len(groups)))
        np.add.at(m, (row, col), table[name].to_numpy(float))
        out.append(m)
    leaving = sum(out)
    at_risk = np.cumsum(leaving[::-1], axis=0)[::-1]
    return (*out, at_risk)


def logrank_counts(strata: Sequence[pd.DataFrame]) -> tuple[float, int, float, tuple[str, ...]]:
    """Log-rank test (survdiff, rho = 0) of equal survival across groups, stratified.

    Parameters
    ----------
    strata
        One table per stratum: ``stratum`` (the group), ``time``, ``n_event``, ``n_censor``.

    Returns
    -------
    tuple
        chisq, df (groups with an expected event, minus one), p, groups (sorted).  NaN and
        df 0 with fewer than two such groups; NaN when no stratum has two of them at risk
        together (a singular variance: R's survdiff stops with an error there).
    """
    from scipy.stats import chi2
    groups = sorted({str(s) for t in strata for s in t["stratum"]})
    k = len(groups)
    observed, expected, variance = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for table in strata:
        if not len(table):
            continue
        d, _, n = _matrices(table.assign(stratum=table["stratum"].astype(str)), groups, ("n_event", "n_censor"))
        total, deaths = n.sum(axis=1), d.sum(axis=1)
        observed += d.sum(axis=0)
        share = np.divide(n, total[:, None], out=np.zeros_like(n), where=total[:, None] > 0)
        expected += (share * deaths[:, None]).sum(axis=0)
        factor = np.divide(deaths * (total - deaths), total - 1, out=np.zeros_like(total), where=total > 1)
        variance += np.einsum("t,ti,tj->ij", factor, share, -share) + np.diag((factor[:, None] * share).sum(axis=0))
    keep = np.flatnonzero(expected > 0)
    if len(keep) < 2:
        return float("nan"), 0, float("nan"), tuple(groups)
    used = keep[1:]
    difference = (observed - expected)[used]
    df = len(keep) - 1
    try:
        stat = float(difference @ np.linalg.solve(variance[np.ix_(used, used)], difference))
    except np.linalg.LinAlgError:  # no stratum compares the groups (R's survdiff stops with an error)
        return float("nan"), df, float("nan"), tuple(groups)
    return stat, df, float(chi2.sf(stat, df)), tuple(groups)


def logrank_by_site(survival: Mapping[str, pd.DataFrame], variables: Sequence[str]) -> pd.DataFrame:
    """Log-rank test of each stratum variable stratified by site, from each site's
    :func:`toh.analyses.resolution.survival_counts` (site name -> table)."""
    rows = []
    for variable in variables:
        parts = [t[t["variable"] == variable] for t in survival.values()]
        parts = [p for p in parts if len(p)]
        groups = sorted({str(s) for p in parts for s in p["stratum"]})
        n = int(sum((p["n_event"] + p["n_censor"]).sum() for p in parts))
        smallest = _smallest(parts, ("n_event", "n_censor"))
        events = int(sum(p["n_event"].sum() for p in parts))
        if len(groups) < 2:
            rows.append((variable, len(groups), n, smallest, events, np.nan, max(len(groups) - 1, 0), np.nan))
            continue
        stat, df, p, _ = logrank_counts(parts)
        rows.append((variable, len(groups), n, smallest, events, stat, df, p))
    return pd.DataFrame(rows, columns=LOGRANK_COLUMNS)


def gray_by_site(counts: Mapping[str, pd.DataFrame], outcome: str, variables: Sequence[str]) -> pd.DataFrame:
    """Gray's test of equal cumulative incidence of ``outcome`` across the groups of each
    variable, stratified by site, from each site's counts per stratum level (``variable,
    stratum, time, censored, event, death``; site name -> table).  Columns of
    :data:`toh.analyses._second_episode.GRAY_COLUMNS`; NaN with fewer than two groups or no event."""
    rows = []
    for variable in variables:
        parts = [t[t["variable"] == variable] for t in counts.values()]
        parts = [p for p in parts if len(p)]
        groups = sorted({str(s) for p in parts for s in p["stratum"]})
        n = int(sum(p[["censored", "event", "death"]].to_numpy().sum() for p in parts))
        smallest = _smallest(parts, ("censored", "event", "death"))
        events = int(sum(p["event"].sum() for p in parts))
        if len(groups) < 2 or events == 0:
            rows.append((outcome, variable, len(groups), n, smallest, events, np.nan, max(len(groups) - 1, 0),
                         np.nan))
            continue
        layers = []
        for part in parts:
            _, d1, d2, at_risk = _matrices(part.assign(stratum=part["stratum"].astype(str)), groups,
                                           ("censored", "event", "death"))
            layers.append((d1, d2, at_risk))
        test = gray_test_counts(layers, tuple(groups))
        rows.append((outcome, variable, len(groups), n, smallest, events, test.stat, test.df, test.p))
    return pd.DataFrame(rows, columns=GRAY_COLUMNS)


def _smallest(parts: Sequence[pd.DataFrame], columns: tuple[str, ...]) -> int:
    """Patients of the smallest group over the sites' ``parts`` (rows per stratum and time,
    ``columns`` the counts that add up to the patients)."""
    if not parts:
        return 0
    whole = pd.concat(parts, ignore_index=True)
    sizes = whole.assign(_n=whole[list(columns)].sum(axis=1)).groupby(whole["stratum"].astype(str))["_n"].sum()
    return int(sizes.min()) if len(sizes) else 0
