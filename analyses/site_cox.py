"""A site's Cox model of time to resolution, as a bundle holds it, and its hazard ratios put on
one reference for a meta-analysis across sites.

A site fits the Cox model of :mod:`toh.analyses.resolution` (the same design and fitter: Efron
ties, covariates male, age, pregnancy_associated and treatment, each treatment against the site's
most frequent one) and shares its coefficients and their covariance matrix, never a row:
:func:`site_cox` gives the two tables.  A treatment level that does not look like a code
(:data:`toh.analyses.aggregates.CODE_PATTERN`) may be free text: its term is not written, and
when the site's reference level is such a level no treatment term is written (the other terms
are still adjusted for treatment).

Sites' treatment references may differ (the most frequent treatment of one hospital is not
another's).  :func:`on_reference` re-expresses a site's coefficients against a common
reference: with reference r and terms b_l = log HR(l vs r), the contrast against R is
b_l - b_R, and r itself gets -b_R; the covariance follows as A V A'.  That is the same fitted
model with another coding, so it equals refitting the site with R as its reference
(tests/analyses/test_site_cox.py).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from toh.analyses.resolution import ResolutionOptions, _design, _fit_cox
from toh.cohort.errors import StatisticalWarning

__all__ = ["COEFFICIENT_COLUMNS", "COVARIANCE_COLUMNS", "site_cox", "common_reference", "on_reference", "TREATMENT"]

COEFFICIENT_COLUMNS = ["term", "reference", "coef", "n", "events"]
COVARIANCE_COLUMNS = ["term", "other", "covariance"]
#: prefix of the treatment terms (``treatment_<level>``)
TREATMENT = "treatment_"


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(columns=COEFFICIENT_COLUMNS), pd.DataFrame(columns=COVARIANCE_COLUMNS)


def site_cox(index: pd.DataFrame, options: ResolutionOptions, conf: float,
             code: re.Pattern[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The site's Cox coefficients (``term, reference, coef, n, events``; ``reference`` is the
    treatment a treatment term is compared with, empty for the other terms) and their covariance
    (``term, other, covariance``, every pair); empty when the model cannot be fitted (fewer than
    two resolutions, no covariate that varies, a fit that fails)."""
    design, _, reference, _ = _design(index, options.cox_covariates)
    data = design.assign(_t=index.loc[design.index, "resolution_days"].astype(float),
                         _e=index.loc[design.index, "resolved"].astype(int))
    if design.shape[1] == 0 or data["_e"].sum() < 2:
        return _empty()
    covariance: dict[str, pd.DataFrame] = {}
    fitted = _fit_cox(data, conf, covariance=covariance)
    if fitted is None:
        return _empty()
    if not (np.all(np.isfinite(fitted["coef"].to_numpy(float)))
            and np.all(np.isfinite(covariance["matrix"].to_numpy(float)))):
        warnings.warn("the site's Cox model of resolution has a coefficient or variance that is not finite (the "
                      "covariates separate the outcome): it is not shared", StatisticalWarning, stacklevel=2)
        return _empty()
    ref = reference.get("treatment", "")
    keep = [t for t in fitted["term"] if not t.startswith(TREATMENT)
            or (code.fullmatch(ref) and code.fullmatch(t.removeprefix(TREATMENT)))]
    fitted = fitted.set_index("term").loc[keep].reset_index()
    coefficients = pd.DataFrame({
        "term": fitted["term"], "reference": [ref if t.startswith(TREATMENT) else "" for t in fitted["term"]],
        "coef": fitted["coef"].astype(float), "n": fitted["n"].astype(np.int64),
        "events": fitted["events"].astype(np.int64)})
    matrix = covariance["matrix"].loc[keep, keep]
    pairs = pd.DataFrame([(a, b, float(matrix.loc[a, b])) for a in keep for b in keep], columns=COVARIANCE_COLUMNS)
    return coefficients[COEFFICIENT_COLUMNS], pairs


def common_reference(survival_counts: list[pd.DataFrame]) -> str:
    """The pool's treatment reference: the most frequent treatment over all sites' index
    episodes (ties broken alphabetically, the rule of one registry's Cox model), from the sites'
    per-treatment Kaplan-Meier counts; empty without a treatment."""
    frames = [c[c["stratum_var"] == "treatment"] for c in survival_counts]
    frames = [f for f in frames if len(f)]
    if not frames:
        return ""
    whole = pd.concat(frames, ignore_index=True)
    sizes = (whole["n_event"] + whole["n_censor"]).groupby(whole["stratum"]).sum()
    return str(sorted(sizes[sizes == sizes.max()].index)[0])


def on_reference(coefficients: pd.DataFrame, covariance: pd.DataFrame,
                 reference: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A site's terms, coefficients and covariance matrix with every treatment term against
    ``reference``; without ``reference`` among the site's treatments (or with ``reference``
    empty) its treatment terms are left out."""
    terms = list(coefficients["term"])
    if not terms:
        return [], np.zeros(0), np.zeros((0, 0))
    b = coefficients["coef"].to_numpy(float)
    v = covariance.pivot(index="term", columns="other", values="covariance").loc[terms, terms].to_numpy(float)
    treatment = [i for i, t in enumerate(terms) if t.startswith(TREATMENT)]
    if not treatment:
        return terms, b, v
    own = str(coefficients["reference"].iloc[treatment[0]])
    target = TREATMENT + reference
    other = [i for i in range(len(terms)) if i not in treatment]
    if own == reference:
        return terms, b, v
    if not reference or target not in terms:
        return [terms[i] for i in other], b[other], v[np.ix_(other, other)]
    pivot = terms.index(target)
    rows, names = [], []
    for i in range(len(terms)):
        row = np.zeros(len(terms))
        if i == pivot:  # the site's own reference, against the common one: -b_R
            row[pivot] = -1.0
            names.append(TREATMENT + own)
        else:
            row[i] = 1.0
            if i in treatment:  # b_l - b_R
                row[pivot] = -1.0
            names.append(terms[i])
        rows.append(row)
    a = np.array(rows)
    return names, a @ b, a @ v @ a.T
