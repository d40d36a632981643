"""Random-effects meta-analysis of the sites' estimates: DerSimonian-Laird against metafor's
``rma(method = "DL")`` (reference/make_meta_reference.R, ref_meta.csv), and the sites' own
estimates read from their counts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses.meta import CURVE_ESTIMANDS, ESTIMANDS, log_rate, logit_proportion, meta_analyse, random_effects

HERE = Path(__file__).parent / "reference"


@pytest.mark.parametrize("estimand", ["rate_spread", "rate_alike", "share"])
def test_dersimonian_laird_matches_metafor(estimand: str) -> None:
    data = pd.read_csv(HERE / "meta_input.csv")
    data = data[data["estimand"] == estimand]
    pairs = [(log_rate if scale == "log rate" else logit_proportion)(c, b)
             for scale, c, b in zip(data["scale"], data["count"], data["base"])]
    fit = random_effects(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    ref = pd.read_csv(HERE / "ref_meta.csv").set_index("estimand").loc[estimand]
    for key in ("estimate", "se", "lower", "upper", "tau2", "i2", "q", "q_p"):
        assert fit[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12), key
    assert fit["k"] == ref["k"]


def test_scales_and_sites_without_a_finite_estimate() -> None:
    assert log_rate(4, 200.0) == (math.log(0.02), 0.25)
    assert logit_proportion(3, 4) == (math.log(3.0), 1 / 3 + 1.0)
    assert all(math.isnan(v) for v in (*log_rate(0, 10.0), *logit_proportion(0, 5), *logit_proportion(5, 5)))


def test_meta_analysis_of_site_counts(tmp_path: Path) -> None:
    import datetime as dt

    from pooling_helpers import write_sites
    from toh.analyses.aggregates import site_aggregates
    from toh.analyses.pipeline import derive_export
    from toh.cohort.simulate import simulate_registry

    registry = simulate_registry(240, 8)
    labels = np.random.default_rng(2).integers(0, 3, len(registry.patients))
    sites = {name: site_aggregates(derive_export(folder, validation_date=dt.date(2026, 6, 30))[1])
             for name, folder in write_sites(registry, labels, tmp_path).items()}
    result = meta_analyse(sites, 365.25)
    cox = {f"resolution.cox.{t}" for t in ("male", "age_per_10", "pregnancy_associated", "treatment_bisphosphonate",
                                           "treatment_other")}
    assert set(result.combined["estimand"]) == set(ESTIMANDS) | set(CURVE_ESTIMANDS) | cox
    assert list(result.combined["method"][:2]) == ["DL", "REML"] and result.cox_reference == "conservative"
    share = result.sites[result.sites["estimand"] == "demographics.share_men"]
    men = registry.patients.assign(site=labels)
    for row in share.itertuples():
        mine = men[men["site"] == int(row.site.removeprefix("site"))]
        assert (row.count, row.base) == ((mine["sex"] == "M").sum(), len(mine))
    fit = random_effects(share["effect"].to_numpy(), share["variance"].to_numpy())
    combined = result.combined[result.combined["method"] == "DL"].set_index("estimand").loc["demographics.share_men"]
    assert combined["estimate"] == pytest.approx(1 / (1 + math.exp(-fit["estimate"])), rel=1e-12)
    head = result.headline()
    assert head["meta.demographics.share_men.k"] == 3
    one = meta_analyse({"site0": sites["site0"]}, 365.25)
    assert set(one.not_estimable) == {f"meta.{e}" for e in (*ESTIMANDS, *CURVE_ESTIMANDS, *cox)}


def _sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every input of ref_meta_methods.csv: (effects, variances) by estimand."""
    out = {}
    data = pd.read_csv(HERE / "meta_input.csv")
    for estimand, part in data.groupby("estimand", sort=False):
        pairs = [(log_rate if scale == "log rate" else logit_proportion)(c, b)
                 for scale, c, b in zip(part["scale"], part["count"], part["base"])]
        out[estimand] = (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    effects = pd.read_csv(HERE / "meta_effects_input.csv")
    for estimand, part in effects.groupby("estimand", sort=False):
        out[estimand] = (part["yi"].to_numpy(float), part["vi"].to_numpy(float))
    return out


@pytest.mark.parametrize("method", ["dl", "reml"])
def test_dl_and_reml_match_metafor(method: str) -> None:
    ref = pd.read_csv(HERE / "ref_meta_methods.csv")
    ref = ref[ref["method"] == method.upper()].set_index("estimand")
    sets = _sets()
    assert set(sets) == set(ref.index)
    for estimand, (effect, variance) in sets.items():
        fit = random_effects(effect, variance, method=method)
        for key in ("estimate", "se", "lower", "upper", "tau2", "i2", "q", "q_p"):
            assert fit[key] == pytest.approx(ref.loc[estimand, key], rel=1e-9, abs=1e-10), (estimand, key)
        assert fit["k"] == ref.loc[estimand, "k"]


def test_reml_maximises_the_restricted_likelihood() -> None:
    from toh.analyses.meta import reml_tau2

    effect, variance = _sets()["wide"]

    def loglik(t: float) -> float:
        w = 1.0 / (variance + t)
        mu = (w @ effect) / w.sum()
        return -0.5 * (np.log(variance + t).sum() + math.log(w.sum()) + (w * (effect - mu) ** 2).sum())

    tau2 = reml_tau2(effect, variance)
    assert loglik(tau2) >= max(loglik(tau2 * 0.999), loglik(tau2 * 1.001))
    # the Brent fallback: a flat maximum, so about sqrt(machine epsilon) relative in tau^2
    assert reml_tau2(effect, variance, max_iter=1) == pytest.approx(tau2, rel=1e-6)
    assert reml_tau2(*_sets()["cox_alike"]) == 0.0
    with pytest.raises(ValueError, match="method"):
        random_effects(effect, variance, method="pm")


def test_every_estimand_has_words() -> None:
    from toh.analyses.meta import CURVE_ESTIMANDS, ESTIMANDS, estimand_label

    for estimand in [*ESTIMANDS, *CURVE_ESTIMANDS]:
        assert estimand_label(estimand) != estimand and "_" not in estimand_label(estimand)
    assert estimand_label("resolution.cox.age_per_10") == "hazard ratio of resolution, age per 10 years"
