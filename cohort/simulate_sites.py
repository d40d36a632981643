"""Seeded synthetic consortium: K site exports that differ the way hospitals differ.

:func:`simulate_sites` draws, from one seed, the parameters of each site (:class:`SiteHeterogeneity`
says how they spread around the single-registry defaults), then each site's export with
:func:`toh.cohort.simulate.simulate_registry`; :func:`write_sites` writes them into subfolders
with each site's ``truth.json`` and the pool's ``truth.json`` beside them.

Between-site heterogeneity (each a field of :class:`SiteHeterogeneity`, all drawn from one
``numpy.random.SeedSequence(seed)``: the same K, patients, seed and settings give the same bytes):

- size: the sites' shares of the patients are proportional to log-normal weights (log-SD
  ``size_log_sd``); each site has at least ``min_site_patients``, the rest split by the largest
  remainders;
- sex mix: a site's share of men is ``expit(logit(share_men) + N(0, share_men_logit_sd))``;
- treatment mix: a site's treatment shares are Dirichlet with mean the default shares and
  ``alpha = shares / treatment_dispersion`` (each share's variance about
  ``dispersion * p (1 - p)``);
- follow-up: a site's registry starts ``U(0, late_start_years_max)`` years after ``study_start``
  (whole days; the export date is common, so late sites follow their patients for less time) and
  loses ``expit(logit(loss_share) + N(0, loss_logit_sd))`` of its patients within a year.

Every other parameter (the disease's course: resolution, recurrence, migration, fractures, AVN,
films) is the same at every site, so a site's truth differs from another's only through its mix.
The truth of the pool is the patient-weighted mixture of the sites' truths (weights: the sites'
drawn sizes; a conditional quantity weighted by the expected size of its denominator, e.g. the
share pregnancy-associated among women by each site's expected women); a median is the root of the
mixed distribution. It is what the concatenated exports estimate where censoring does not depend
on the site before the time read (late starts censor only after some years).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toh.cohort._simulate_params import TREATMENTS, SimulationParameters
from toh.cohort._simulate_truth import _resolution_cdf, calibrate, derived_truth
from toh.cohort.simulate import SimulatedRegistry, simulate_registry, write_registry

__all__ = ["SiteHeterogeneity", "SimulatedSites", "simulate_sites", "write_sites", "site_names", "pool_truth"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class SiteHeterogeneity:
    """How the sites of a simulated consortium differ (see the module docstring for each draw).

    Attributes
    ----------
    size_log_sd
        Log-SD of the sites' size weights (0.5; 0: equal sizes, up to one patient).
    min_site_patients
        Fewest patients of a site (10, the default minimum of ``toh bundle``).
    share_men_logit_sd
        SD of a site's share of men on the logit scale (0.4).
    treatment_dispersion
        Dispersion of the sites' treatment shares around the defaults (0.05; 0: identical).
    late_start_years_max
        A site's registry starts up to this many years after ``study_start`` (8.0).
    loss_logit_sd
        SD of a site's share lost to follow-up on the logit scale (0.5).
    """

    size_log_sd: float = 0.5
    min_site_patients: int = 10
    share_men_logit_sd: float = 0.4
    treatment_dispersion: float = 0.05
    late_start_years_max: float = 8.0
    loss_logit_sd: float = 0.5

    def __post_init__(self) -> None:
        for name in ("size_log_sd", "share_men_logit_sd", "treatment_dispersion", "late_start_years_max",
                     "loss_logit_sd"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if isinstance(self.min_site_patients, bool) or not isinstance(self.min_site_patients, int) \
                or self.min_site_patients < 1:
            raise ValueError(f"min_site_patients must be a whole number >= 1, got {self.min_site_patients!r}")

    def to_dict(self) -> dict[str, Any]:
        """Every field (JSON-serialisable)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class SimulatedSites:
    """A simulated consortium: each site's registry (by name, in order) and the pool's truth."""

    sites: dict[str, SimulatedRegistry]
    heterogeneity: SiteHeterogeneity
    seed: int
    truth: dict[str, Any]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k} {v.n_patients}" for k, v in self.sites.items())
        return f"<SimulatedSites seed {self.seed}: {sizes}>"


def site_names(k: int, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """``site-1`` ... ``site-K``, or ``names`` after checking them (K of them, distinct, each a site
    name of ``toh bundle --site``: letters, digits, ``_`` and ``-``)."""
    if names is None:
        return tuple(f"site-{i + 1}" for i in range(k))
    names = tuple(names)
    if len(names) != k:
        raise ValueError(f"{len(names)} site names for {k} sites")
    bad = [n for n in names if not _NAME.fullmatch(n)]
    if bad:
        raise ValueError(f"site name {bad[0]!r} is not letters, digits, '_' and '-' (starting with a letter or digit)")
    if len(set(names)) != k:
        raise ValueError("site names must be distinct")
    return names


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p)) if 0.0 < p < 1.0 else (-math.inf if p <= 0 else math.inf)


def _sizes(rng: np.random.Generator, k: int, total: int, h: SiteHeterogeneity) -> list[int]:
    """Site sizes: ``min_site_patients`` each, the rest by log-normal weights (largest remainders)."""
    weights = np.exp(rng.normal(0.0, h.size_log_sd, k)) if h.size_log_sd > 0 else np.ones(k)
    spare = total - k * h.min_site_patients
    raw = spare * weights / weights.sum()
    sizes = np.floor(raw).astype(np.int64)
    extra = np.argsort(-(raw - sizes), kind="stable")[: spare - int(sizes.sum())]
    sizes[extra] += 1
    return [int(s) + h.min_site_patients for s in sizes]


def _site_parameters(rng: np.random.Generator, base: SimulationParameters, name: str,
                     h: SiteHeterogeneity) -> SimulationParameters:
    """One site's parameters: its sex mix, treatment mix, registry start and loss share."""
    share_men = _expit(_logit(base.share_men) + rng.normal(0.0, h.share_men_logit_sd)) \
        if 0 < base.share_men < 1 else base.share_men
    shares = base.treatment_shares
    if h.treatment_dispersion > 0 and min(shares) > 0:
        drawn = rng.dirichlet(np.asarray(shares, float) / h.treatment_dispersion)
        shares = (float(drawn[0]), float(drawn[1]), float(1.0 - drawn[0] - drawn[1]))
    late = int(rng.integers(0, int(h.late_start_years_max * 365.25) + 1))
    last = base.export_date.toordinal() - base.index_onset_margin_days
    start = min(base.study_start.toordinal() + late, last)
    loss = _expit(_logit(base.loss_share) + rng.normal(0.0, h.loss_logit_sd)) if 0 < base.loss_share < 1 \
        else base.loss_share
    return dataclasses.replace(
        base, share_men=float(share_men), treatment_conservative_share=shares[0],
        treatment_bisphosphonate_share=shares[1], treatment_other_share=shares[2],
        study_start=dt.date.fromordinal(start), loss_share=float(loss), sites=(name,), site_shares=(1.0,))


def simulate_sites(k: int, patients: int, seed: int, parameters: SimulationParameters | None = None,
                   heterogeneity: SiteHeterogeneity | None = None,
                   names: tuple[str, ...] | None = None) -> SimulatedSites:
    """Draw ``k`` site exports of ``patients`` patients per site on average (``k * patients`` in all).

    Parameters
    ----------
    k
        Number of sites (>= 1).
    patients
        Mean patients per site; each site has at least ``heterogeneity.min_site_patients``.
    seed
        Seed (>= 0) of the ``numpy.random.SeedSequence`` every draw comes from: one child stream
        draws the sites' sizes and parameters, one child per site its export.
    parameters
        The single-registry parameters the sites spread around (defaults: docs/definitions.md).
    heterogeneity
        How they spread (:class:`SiteHeterogeneity`).
    names
        Site names (default ``site-1`` ... ``site-K``).

    Raises
    ------
    ValueError
        A bad k, patients, seed or name, or fewer patients than ``k * min_site_patients``.
    """
    for label, value, low in (("k", k, 1), ("patients", patients, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{label} must be a whole number >= {low}, got {value!r}")
    base = parameters if parameters is not None else SimulationParameters()
    h = heterogeneity if heterogeneity is not None else SiteHeterogeneity()
    chosen = site_names(int(k), names)
    total = int(k) * int(patients)
    if total < k * h.min_site_patients:
        raise ValueError(f"{k} sites of at least {h.min_site_patients} patients need {k * h.min_site_patients} "
                         f"patients, not {total}: give more patients per site")
    streams = np.random.SeedSequence(int(seed)).spawn(int(k) + 1)
    rng = np.random.default_rng(streams[0])
    sizes = _sizes(rng, int(k), total, h)
    site_params = [_site_parameters(rng, base, name, h) for name in chosen]
    sites = {}
    for name, n, p, stream in zip(chosen, sizes, site_params, streams[1:]):
        sites[name] = simulate_registry(n, int(stream.generate_state(1)[0]), p)
    truth = {
        "seed": int(seed), "sites": len(chosen), "n_patients": total,
        "generator": sites[chosen[0]].truth["generator"],
        "heterogeneity": h.to_dict(),
        "site_summary": {name: {"n_patients": r.n_patients, "seed": r.seed, "share_men": r.parameters.share_men,
                                "treatment_shares": dict(zip(TREATMENTS, r.parameters.treatment_shares)),
                                "study_start": r.parameters.study_start.isoformat(),
                                "loss_share": r.parameters.loss_share}
                         for name, r in sites.items()},
        "derived": pool_truth([r.parameters for r in sites.values()], sizes),
    }
    return SimulatedSites(sites=sites, heterogeneity=h, seed=int(seed), truth=truth)


def _weights(p: SimulationParameters, key: str) -> float:
    """The expected share of a site's patients a truth ``key`` is a quantity of (its denominator)."""
    women = 1.0 - p.share_men
    associated = p.women_pregnant_share + p.women_postpartum_share
    cal = calibrate(p)
    if key == "share_pregnancy_associated_among_women":
        return women
    if key == "share_pregnant_in_trimester_3":
        return women * p.women_pregnant_share
    if key == "fracture_probability_pregnancy_associated":
        return women * associated
    if key == "fracture_probability_not_pregnancy_associated":
        return 1.0 - women * associated
    for name in ("recurrence", "migration"):
        if key == f"{name}_onset_by_2y_given_{name}":
            return getattr(cal, f"{name}_probability")
    if key == "migration_opposite_hip_share":
        return cal.migration_probability
    return 1.0


def pool_truth(parameters: list[SimulationParameters], sizes: list[int]) -> dict[str, dict[str, Any]]:
    """The pool's true values: each site's :func:`toh.cohort._simulate_truth.derived_truth` mixed by
    its size times the expected share its denominator is of it; the share of men's ratio and the
    resolution median recomputed from the mixture."""
    from scipy import optimize

    truths = [derived_truth(p, calibrate(p)) for p in parameters]
    out: dict[str, dict[str, Any]] = {}
    for key in truths[0]:
        weights = np.array([n * _weights(p, key) for p, n in zip(parameters, sizes)], float)
        values = np.array([t[key]["value"] for t in truths], float)
        value = float(weights @ values / weights.sum()) if weights.sum() > 0 else math.nan
        out[key] = {"value": value, "method": "patient-weighted mixture of the sites' truths; each site: "
                    + truths[0][key]["method"]}
    men = out["share_men"]["value"]
    out["male_to_female_ratio"] = {"value": men / (1 - men) if men < 1 else math.inf,
                                   "method": "share_men / (1 - share_men) of the pool"}
    share = np.asarray(sizes, float) / sum(sizes)

    def mixture_minus_half(t: float) -> float:
        return float(sum(w * _resolution_cdf(np.array([t]), p)[0] for w, p in zip(share, parameters))) - 0.5

    median = optimize.brentq(mixture_minus_half, 1e-6, 1e6, xtol=1e-12, rtol=1e-15)
    out["resolution_median_days"] = {"value": median, "method": "root of the pool's mixture cdf (sites weighted "
                                     "by size, each a treatment mixture), continuous time"}
    out["resolution_median_days_whole"] = {"value": float(math.ceil(median)), "method": "the above rounded up "
                                           "to a whole day (times recorded as ceil(continuous time))"}
    return {k: out[k] for k in sorted(out)}


def write_sites(consortium: SimulatedSites, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write each site's export and ``truth.json`` under ``out_dir/<site>`` and the pool's
    ``truth.json`` in ``out_dir``; the paths written, sorted."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, registry in consortium.sites.items():
        written += write_registry(registry, out / name, fmt)
    path = out / "truth.json"
    path.write_text(json.dumps(consortium.truth, sort_keys=True, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return sorted([*written, path])
