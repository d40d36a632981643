"""Random-effects meta-analysis of the sites' estimates: DerSimonian-Laird against metafor's
``rma(method = "DL")`` (reference/make_meta_reference.R, ref_meta.csv), and the sites' own
estimates read from their counts."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toh.analyses.meta import ESTIMANDS, log_rate, logit_proportion, meta_analyse, random_effects

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
    assert set(result.combined["estimand"]) == set(ESTIMANDS)
    share = result.sites[result.sites["estimand"] == "demographics.share_men"]
    men = registry.patients.assign(site=labels)
    for row in share.itertuples():
        mine = men[men["site"] == int(row.site.removeprefix("site"))]
        assert (row.count, row.base) == ((mine["sex"] == "M").sum(), len(mine))
    fit = random_effects(share["effect"].to_numpy(), share["variance"].to_numpy())
    combined = result.combined.set_index("estimand").loc["demographics.share_men"]
    assert combined["estimate"] == pytest.approx(1 / (1 + math.exp(-fit["estimate"])), rel=1e-12)
    head = result.headline()
    assert head["meta.demographics.share_men.k"] == 3
    one = meta_analyse({"site0": sites["site0"]}, 365.25)
    assert set(one.not_estimable) == {f"meta.{e}" for e in ESTIMANDS}
