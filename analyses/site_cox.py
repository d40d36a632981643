"""A site's Cox model of time to resolution, as a bundle holds it, and its hazard ratios put on
one reference per category for a meta-analysis across sites.

A site fits the Cox model of :mod:`toh.analyses.cox` (the same design and fitter as ``toh
analyze``: Efron ties, the configured covariates and strata, age per 10 years, each category's
levels against its most frequent one) and shares its coefficients and their covariance matrix,
never a row: :func:`site_cox` gives the two tables.  A category level that does not look like a
code (:data:`toh.analyses.aggregates.CODE_PATTERN`) may be free text: its term is not written,
and when a category's reference level is such a level none of its terms is written (the other
terms are still adjusted for it).

Sites' references may differ (the most frequent treatment of one hospital is not another's).
:func:`on_reference` re-expresses a site's coefficients against common references: with
reference r and terms b_l = log HR(l vs r), the contrast against R is b_l - b_R, and r itself
gets -b_R; the covariance follows as A V A'.  That is the same fitted model with another coding,
so it equals refitting the site with R as its reference (tests/analyses/test_site_cox.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from toh.analyses.cox import _design, _fit, group_sizes
from toh.analyses.levels import small_count
from toh.analyses.resolution import ResolutionOptions
from toh.cohort.errors import StatisticalWarning

__all__ = ["COEFFICIENT_COLUMNS", "COVARIANCE_COLUMNS", "site_cox", "common_references", "on_reference",
           "term_groups"]

COEFFICIENT_COLUMNS = ["term", "variable", "reference", "coef", "n", "events", "n_group", "n_compared"]
COVARIANCE_COLUMNS = ["term", "other", "covariance"]


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(columns=COEFFICIENT_COLUMNS), pd.DataFrame(columns=COVARIANCE_COLUMNS)


def _small_groups(groups: Mapping[str, tuple[int, int]], min_cell: int) -> set[str]:
    """The design columns whose hazard ratio would rest on fewer than ``min_cell`` patients
    (``groups``: :func:`toh.analyses.cox.group_sizes`): a yes/no term whose yes or no group is small, a category level
    that is small, or every level of a category whose reference level is small."""
    return {c for c, sizes in groups.items() if any(small_count(n, min_cell) for n in sizes)}


def site_cox(index: pd.DataFrame, options: ResolutionOptions, conf: float, code: re.Pattern[str],
             columns: Sequence = (), min_cell: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The site's Cox coefficients (``term, variable, reference, coef, n, events, n_group,
    n_compared``; ``reference`` is the level a category's term is compared with, empty for
    numbers and yes/no terms; ``n_group`` and ``n_compared`` the fitted patients in the two
    groups the term compares, :func:`toh.analyses.cox.group_sizes`) and their
    covariance (``term, other, covariance``, every pair); empty when the model cannot be fitted
    (fewer than two resolutions, no covariate that varies, a fit that fails or is not finite).
    ``columns`` are the export's declared extra columns (:mod:`toh.cohort.columns`).  A number
    entered per several units is named as results.json names it: ``age_per_10``.  With the
    site's small-cell rule ``min_cell``, a term whose hazard ratio rests on fewer patients
    (:func:`_small_groups`) is not written, as a level that may be free text is not: the model
    still adjusts for it."""
    declared = {c.name: c for c in columns}
    design, terms, strata_frame, _, _ = _design(index, options.cox_covariates, options.cox_strata, declared,
                                                options.min_level)
    event = index.loc[design.index, "resolved"].astype(int)
    stratum_columns = {f"_strata_{s}": strata_frame[s] for s in options.cox_strata}
    data = design.assign(_t=index.loc[design.index, "resolution_days"].astype(float), _e=event, **stratum_columns)
    if design.shape[1] == 0 or event.sum() < 2:
        return _empty()
    covariance: dict[str, pd.DataFrame] = {}
    fitted = _fit(data, conf, list(stratum_columns), covariance=covariance)
    if fitted is None:
        return _empty()
    if not (np.all(np.isfinite(fitted["coef"].to_numpy(float)))
            and np.all(np.isfinite(covariance["matrix"].to_numpy(float)))):
        warnings.warn("the site's Cox model of resolution has a coefficient or variance that is not finite (the "
                      "covariates separate the outcome): it is not shared", StatisticalWarning, stacklevel=2)
        return _empty()
    rows, keep = [], []
    for term in terms:
        if term.reference is not None and not code.fullmatch(str(term.reference)):
            continue
        groups = group_sizes(data, term)
        small = _small_groups(groups, min_cell)
        for column in term.columns:
            if term.reference is not None and not code.fullmatch(column[len(term.name) + 1:]):
                continue
            if column in small:
                continue
            keep.append(column)  # a number entered per several units is named so: age_per_10 (as results.json)
            rows.append((column if term.per == 1 else f"{column}_per_{term.per:g}", term.name,
                         "" if term.reference is None else str(term.reference), float(fitted.loc[column, "coef"]),
                         len(data), int(event.sum()), *groups[column]))
    coefficients = pd.DataFrame(rows, columns=COEFFICIENT_COLUMNS).astype(
        {"n": np.int64, "events": np.int64, "n_group": np.int64, "n_compared": np.int64})
    matrix = covariance["matrix"].loc[keep, keep].to_numpy(float)
    names = list(coefficients["term"])
    pairs = pd.DataFrame([(a, b, float(matrix[i, j])) for i, a in enumerate(names) for j, b in enumerate(names)],
                         columns=COVARIANCE_COLUMNS)
    return coefficients, pairs


def common_references(coefficients: Mapping[str, pd.DataFrame], survival_counts: Sequence[pd.DataFrame]) -> dict[str, str]:
    """The pool's reference of each category of the sites' Cox models: the most frequent level
    over all sites' index episodes (ties broken alphabetically, the rule of one registry's
    model) where the sites' Kaplan-Meier counts have the category as a stratum (treatment by
    default), else the reference most sites used (ties alphabetical)."""
    out: dict[str, str] = {}
    frames = [c for c in survival_counts if len(c)]
    whole = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variable", "stratum",
                                                                                       "n_event", "n_censor"])
    used: dict[str, list[str]] = {}
    for table in coefficients.values():
        categories = table[table["reference"] != ""]
        for variable, reference in dict(zip(categories["variable"], categories["reference"])).items():
            used.setdefault(variable, []).append(reference)
    for variable in sorted(used):
        counts = whole[whole["variable"] == variable]
        if len(counts):
            sizes = (counts["n_event"] + counts["n_censor"]).groupby(counts["stratum"]).sum()
        else:
            sizes = pd.Series(used[variable]).value_counts()
        out[variable] = str(sorted(sizes[sizes == sizes.max()].index)[0])
    return out


def on_reference(coefficients: pd.DataFrame, covariance: pd.DataFrame,
                 references: Mapping[str, str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A site's terms, coefficients and covariance matrix with every category's terms against
    ``references`` (variable -> level); a category whose common reference the site does not have
    is left out."""
    terms = list(coefficients["term"])
    if not terms:
        return [], np.zeros(0), np.zeros((0, 0))
    b = coefficients["coef"].to_numpy(float)
    v = covariance.pivot(index="term", columns="other", values="covariance").loc[terms, terms].to_numpy(float)
    a = np.eye(len(terms))
    names = list(terms)
    drop: list[int] = []
    variables = coefficients["variable"].tolist()
    own_references = coefficients["reference"].tolist()
    for variable in dict.fromkeys(v_ for v_, r in zip(variables, own_references) if r):
        mine = [i for i, x in enumerate(variables) if x == variable]
        own, target = own_references[mine[0]], references.get(variable, "")
        if own == target:
            continue
        pivot = terms.index(f"{variable}_{target}") if f"{variable}_{target}" in terms else -1
        if pivot < 0:
            drop += mine
            continue
        for i in mine:
            if i == pivot:  # the site's own reference, against the common one: -b_R
                a[i, i] = -1.0
                names[i] = f"{variable}_{own}"
            else:  # b_l - b_R
                a[i, pivot] = -1.0
    kept = [i for i in range(len(terms)) if i not in drop]
    a = a[kept]
    return [names[i] for i in kept], a @ b, a @ v @ a.T


def term_groups(coefficients: pd.DataFrame, references: Mapping[str, str]) -> dict[str, tuple[int, ...]]:
    """Patients of a site in the two groups each of its pooled Cox terms compares, by the term's
    name as :func:`on_reference` gives it: men and women for ``male``; the pregnancy-associated
    episodes and the others for ``pregnancy_associated``; the yes and the no of a declared
    yes/no column; a category's level and the pool's reference level (``references``,
    :func:`common_references`); ``()`` for a number.  Read from the site's own counts of the
    complete cases its model was fitted on (``n_group``, ``n_compared``), so a group small only
    among them is seen."""
    out: dict[str, tuple[int, ...]] = {}
    rows = list(coefficients.itertuples(index=False))
    for row in rows:
        if not row.reference:  # a number (0, 0) or a yes/no term
            out[row.term] = (int(row.n_group), int(row.n_compared)) if row.n_group or row.n_compared else ()
    for variable in dict.fromkeys(r.variable for r in rows if r.reference):
        mine = {r.term[len(variable) + 1:]: int(r.n_group) for r in rows if r.variable == variable}
        own = next(r for r in rows if r.variable == variable)
        mine[str(own.reference)] = int(own.n_compared)
        target = references.get(variable, str(own.reference))
        if target not in mine:  # on_reference leaves the category out
            continue
        for level, size in mine.items():
            if level != target:
                out[f"{variable}_{level}"] = (size, mine[target])
    return out
