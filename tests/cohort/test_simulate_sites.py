"""``toh simulate --sites K``: a seeded consortium of site exports that differ in size, sex mix,
treatment mix and follow-up, with each site's truth and the pool's."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from toh.cohort._simulate_truth import calibrate, derived_truth
from toh.cohort.simulate import SimulationParameters
from toh.cohort.simulate_sites import SiteHeterogeneity, pool_truth, simulate_sites, site_names, write_sites
from toh.reports.cli import cli

SAME = SiteHeterogeneity(size_log_sd=0, share_men_logit_sd=0, treatment_dispersion=0, late_start_years_max=0,
                         loss_logit_sd=0)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    write_sites(simulate_sites(3, 40, 7), tmp_path / "a")
    write_sites(simulate_sites(3, 40, 7), tmp_path / "b")
    write_sites(simulate_sites(3, 40, 8), tmp_path / "c")
    a = _files(tmp_path / "a")
    assert a == _files(tmp_path / "b")
    assert a != _files(tmp_path / "c")
    assert sorted(a) == sorted(f"{s}/{t}" for s in ("site-1", "site-2", "site-3")
                               for t in ("episodes.csv", "events.csv", "imaging.csv", "patients.csv", "truth.json")) \
        + ["truth.json"]


def test_sites_differ_in_size_sex_treatment_and_follow_up() -> None:
    consortium = simulate_sites(6, 50, 3)
    sites = list(consortium.sites.values())
    sizes = [r.n_patients for r in sites]
    assert sum(sizes) == 300 and min(sizes) >= 10 and len(set(sizes)) > 1
    for field in ("share_men", "treatment_shares", "study_start", "loss_share"):
        assert len({getattr(r.parameters, field) for r in sites}) == 6, field
    for name, registry in consortium.sites.items():
        assert set(registry.patients["site"]) == {name}
        assert math.isclose(sum(registry.parameters.treatment_shares), 1.0, abs_tol=1e-12)
        assert registry.parameters.study_start >= dt.date(2012, 1, 1)
        assert registry.truth == json.loads(json.dumps(registry.truth))  # the single-registry truth, per site
    summary = consortium.truth["site_summary"]
    assert [summary[n]["n_patients"] for n in consortium.sites] == sizes


def test_without_heterogeneity_every_site_is_the_default_registry() -> None:
    consortium = simulate_sites(4, 25, 1, heterogeneity=SAME)
    defaults = SimulationParameters()
    for registry in consortium.sites.values():
        assert registry.n_patients == 25
        assert registry.parameters.share_men == defaults.share_men
        assert registry.parameters.treatment_shares == defaults.treatment_shares
        assert registry.parameters.study_start == defaults.study_start
    single = derived_truth(defaults, calibrate(defaults))
    for key, entry in consortium.truth["derived"].items():
        assert entry["value"] == pytest.approx(single[key]["value"], rel=1e-9, abs=1e-12), key


def test_pool_truth_is_the_patient_weighted_mixture() -> None:
    a = SimulationParameters(share_men=0.9, treatment_conservative_share=1.0, treatment_bisphosphonate_share=0.0,
                             treatment_other_share=0.0)
    b = SimulationParameters(share_men=0.5, treatment_conservative_share=0.0, treatment_bisphosphonate_share=1.0,
                             treatment_other_share=0.0)
    truth = pool_truth([a, b], [300, 100])
    assert truth["share_men"]["value"] == pytest.approx(0.8)
    assert truth["male_to_female_ratio"]["value"] == pytest.approx(4.0)
    # among women: 30 at site a, 50 at site b, the same pregnancy shares
    assert truth["share_pregnancy_associated_among_women"]["value"] == pytest.approx(0.70)
    # the median solves 0.75 F_a(t) + 0.25 F_b(t) = 1/2 with log-normal F (median 200, 150 days)
    from scipy.stats import norm

    t = truth["resolution_median_days"]["value"]
    mixed = 0.75 * norm.cdf(math.log(t / 200) / 0.35) + 0.25 * norm.cdf(math.log(t / 150) / 0.35)
    assert mixed == pytest.approx(0.5, abs=1e-12)
    assert 150 < t < 200


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="need 30"):
        simulate_sites(3, 5, 1)
    with pytest.raises(ValueError, match="seed"):
        simulate_sites(3, 50, -1)
    with pytest.raises(ValueError, match="distinct"):
        site_names(2, ("a", "a"))
    with pytest.raises(ValueError, match="not letters"):
        site_names(1, ("a.b",))
    with pytest.raises(ValueError, match="size_log_sd"):
        SiteHeterogeneity(size_log_sd=-1)
    assert site_names(2) == ("site-1", "site-2")


def test_simulate_sites_command(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "consortium"
    result = runner.invoke(cli, ["simulate", str(out), "--sites", "2", "-n", "30", "--site-names", "north,south"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "north (" in result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["sites"] == 2 and truth["n_patients"] == 60
    assert set(truth["site_summary"]) == {"north", "south"}
    for name in ("north", "south"):
        assert (out / name / "patients.csv").exists() and (out / name / "truth.json").exists()
    for args in (["--sites", "3", "-n", "2"], ["--site-names", "a"], ["--sites", "2", "--site-names", "a"],
                 ["--seed", "-1"]):
        bad = runner.invoke(cli, ["simulate", str(tmp_path / "bad"), *args], catch_exceptions=False)
        assert bad.exit_code == 2, (args, bad.output)
        assert "Traceback" not in bad.output


def test_the_site_exports_validate_and_bundle(tmp_path: Path) -> None:
    from toh.analyses.pipeline import derive_export

    write_sites(simulate_sites(2, 30, 4), tmp_path)
    for name in ("site-1", "site-2"):
        report, derived = derive_export(tmp_path / name, validation_date=dt.date(2026, 6, 30))
        assert len(report.errors) == 0
        assert len(derived.index) == json.loads((tmp_path / "truth.json").read_text())["site_summary"][name][
            "n_patients"]
    assert np.isfinite(json.loads((tmp_path / "truth.json").read_text())["derived"]["resolution_median_days"]["value"])


@pytest.mark.slow  # 12,000 patients simulated, derived per site and pooled
def test_the_pool_recovers_the_pools_truth(tmp_path: Path) -> None:
    """The pooled estimates of a simulated consortium land near the pool's truth (a few standard
    errors), where the sites' truths differ: the truth is the mixture the concatenated rows estimate."""
    from toh.analyses.aggregates import pooled_analysis, site_aggregates
    from toh.analyses.pipeline import derive_export
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions
    from toh.cohort.definitions import Definitions

    consortium = simulate_sites(6, 2000, 5)
    write_sites(consortium, tmp_path)
    options = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0, workers=1))
    sites = {name: site_aggregates(derive_export(tmp_path / name, validation_date=dt.date(2026, 6, 30))[1], options)
             for name in consortium.sites}
    head = pooled_analysis(sites, Definitions(), options).headline()
    truth = {k: v["value"] for k, v in consortium.truth["derived"].items()}
    n = 12000
    men = truth["share_men"]
    assert abs(head["demographics.share_men.estimate"] - men) < 4 * math.sqrt(men * (1 - men) / n)
    site_men = [r.parameters.share_men for r in consortium.sites.values()]
    assert max(site_men) - min(site_men) > 0.05  # the sites do differ
    for key, mine in (("resolution_survival_6_months", "resolution.unresolved_6m"),
                      ("resolution_survival_12_months", "resolution.unresolved_12m")):
        se = (head[f"{mine}.upper"] - head[f"{mine}.lower"]) / (2 * 1.96)
        estimate = head[f"{mine}.estimate"]
        assert abs(estimate - truth[key]) < 4 * se + 0.005, (key, estimate, truth[key], se)
    fracture = truth["fracture_probability"]
    assert abs(head["complications.fracture.all.estimate"] - fracture) < 4 * math.sqrt(fracture * (1 - fracture) / n)
