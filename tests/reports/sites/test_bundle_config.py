"""``toh bundle --config``: the ``[bundle]`` keys and the command line over them, the site's
``[privacy] min_cell`` in its bundle and ``toh pool``'s small-cell rule never below it, the
``[analysis]`` options and declared columns (pooled = ``toh analyze --config`` of the
concatenated export), and ``--explain``'s settings."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pooling_helpers import differences, write_sites
from toh.cohort.errors import ConfigError
from toh.cohort.simulate import simulate_registry, write_registry
from toh.reports.cli import cli
from toh.reports.config import load_report_config
from toh.reports.sites.bundle import FORMAT_VERSION
from toh.reports.sites.pool import report_min_cell

DATE = ["--validation-date", "2026-06-30"]
ANALYSIS = """
[analysis]
strata = ["sex", "smoking"]
covariates = ["male", "age", "bmi"]
cox_strata = ["smoking"]

[analysis.columns]
bmi = { table = "patients", type = "number", per = 5, label = "BMI" }
smoking = { table = "patients", type = "category" }
"""


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def _manifest(bundle: Path) -> dict:
    with zipfile.ZipFile(bundle) as archive:
        return json.loads(archive.read("manifest.json"))


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 200-patient registry with two declared columns (bmi, smoking), whole and as two sites."""
    root = tmp_path_factory.mktemp("consortium")
    registry = simulate_registry(200, 5)
    rng = np.random.default_rng(1)
    registry.patients["bmi"] = np.round(rng.normal(25, 4, len(registry.patients)), 1)
    registry.patients["smoking"] = rng.choice(["never", "former", "current"], len(registry.patients))
    write_registry(registry, root / "whole")
    return {"root": root, "whole": root / "whole", **write_sites(registry, rng.integers(0, 2, len(registry.patients)),
                                                                 root)}


def _config(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _bundle(consortium: dict, site: str, out: Path, *options: object) -> tuple[int, str]:
    return _run("bundle", consortium[site], "--site", site, "--out", out, *options, *DATE,
                "--failures", out.parent / f"{out.stem}-failures.csv")


@pytest.mark.parametrize("text, message", [
    ("[bundle]\ntime_unit = 'year'\n", "[bundle] time_unit must be one of day, week, month, got 'year'"),
    ("[bundle]\ntime_unit = 7\n", "[bundle].time_unit must be str, got 7"),
    ("[bundle]\nmin_patients = 0\n", "[bundle] min_patients must be 1 or more, got 0"),
    ("[bundle]\nmin_patients = 'ten'\n", "[bundle].min_patients must be int, got 'ten'"),
    ("[bundle]\nmin_patients = true\n", "[bundle].min_patients must be int, got True"),
    ("[bundle]\nmin_cells = 5\n", "[bundle] has unknown keys ['min_cells']; keys are ['min_patients', 'time_unit']"),
])
def test_bundle_keys_of_the_configuration_name_file_key_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = _config(tmp_path, "site.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_report_config(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_bundle_keys_are_read() -> None:
    from toh.reports.config import ReportConfig

    assert (ReportConfig().time_unit, ReportConfig().min_patients) == ("day", 10)


def test_a_bad_bundle_configuration_exits_2_before_any_work(consortium: dict, tmp_path: Path) -> None:
    path = _config(tmp_path, "site.toml", "[bundle]\ntime_unit = 'fortnight'\n")
    code, text = _bundle(consortium, "site0", tmp_path / "x.tohb", "--config", path)
    assert code == 2 and "Traceback" not in text
    assert f"{path}: [bundle] time_unit must be one of day, week, month, got 'fortnight'" in text
    assert not (tmp_path / "x.tohb").exists() and not (tmp_path / "x-failures.csv").exists()


@pytest.mark.slow  # four bundles of a 100-patient site
def test_the_command_line_overrides_the_configuration(consortium: dict, tmp_path: Path) -> None:
    path = _config(tmp_path, "site.toml",
                   "[bundle]\ntime_unit = 'week'\nmin_patients = 1000\n[privacy]\nmin_cell = 8\n")
    code, text = _bundle(consortium, "site0", tmp_path / "refused.tohb", "--config", path)
    assert code == 2 and "fewer than the minimum of 1000" in text and not (tmp_path / "refused.tohb").exists()
    assert _bundle(consortium, "site0", tmp_path / "a.tohb", "--config", path, "--min-patients", 1)[0] == 0
    manifest = _manifest(tmp_path / "a.tohb")
    assert manifest["time_unit"] == "week" and manifest["unit_days"] == 7
    assert manifest["disclosure"] == {"min_cell": 8, "min_patients": 1} and manifest["format_version"] == FORMAT_VERSION
    assert _bundle(consortium, "site0", tmp_path / "b.tohb", "--config", path, "--min-patients", 1,
                   "--time-unit", "month")[0] == 0
    assert _manifest(tmp_path / "b.tohb")["time_unit"] == "month"
    assert _bundle(consortium, "site0", tmp_path / "c.tohb")[0] == 0
    plain = _manifest(tmp_path / "c.tohb")
    assert plain["time_unit"] == "day" and plain["disclosure"] == {"min_cell": 5, "min_patients": 10}


def test_the_pool_small_cell_rule_is_the_largest_of_5_and_the_sites() -> None:
    def bundles(*rules: int) -> list:
        return [SimpleNamespace(site=f"s{i}", min_cell=r, path=Path(f"s{i}.tohb")) for i, r in enumerate(rules)]

    assert report_min_cell(bundles(0, 3)) == 5
    assert report_min_cell(bundles(5, 11, 8)) == 11
    assert report_min_cell(bundles(5, 11), 11) == 11 and report_min_cell(bundles(0, 1), 2) == 2
    with pytest.raises(ConfigError, match=r"--min-cell 10 is smaller than the small-cell rule of site s1 \(11, in its "
                                          r"bundle s1.tohb\)"):
        report_min_cell(bundles(5, 11, 8), 10)


@pytest.mark.slow  # two bundles and a pooled report
def test_toh_pool_never_reports_below_a_site_rule(consortium: dict, tmp_path: Path) -> None:
    strict = _config(tmp_path, "strict.toml", "[bundle]\nmin_patients = 1\n[privacy]\nmin_cell = 8\n")
    loose = _config(tmp_path, "loose.toml", "[bundle]\nmin_patients = 1\n[privacy]\nmin_cell = 3\n")
    assert _bundle(consortium, "site0", tmp_path / "site0.tohb", "--config", strict)[0] == 0
    assert _bundle(consortium, "site1", tmp_path / "site1.tohb", "--config", loose)[0] == 0
    bundles = [tmp_path / "site0.tohb", tmp_path / "site1.tohb"]
    code, text = _run("pool", *bundles, "--out", tmp_path / "refused", "--report", "--min-cell", 5, "--bootstrap", 0)
    assert code == 2 and "--min-cell 5 is smaller than the small-cell rule of site site0 (8" in text
    assert not (tmp_path / "refused").exists()
    code, text = _run("pool", *bundles, "--out", tmp_path / "pool", "--report", "--format", "md", "--bootstrap", 0)
    assert code == 0, text
    report = (tmp_path / "pool" / "report.md").read_text(encoding="utf-8").replace("\\", "").replace("&lt;", "<")
    assert "Counts of people from 1 to 7 are shown as <8" in report
    assert "| min_cell | 8 |" in report
    assert "site0 8, site1 3" in report  # the methods name each site's own rule


@pytest.mark.slow  # two bundles, their pool and toh analyze of the concatenated export
def test_analysis_options_and_declared_columns_pool_exactly(consortium: dict, tmp_path: Path) -> None:
    """Strata by a declared category and a declared number in the sites' Cox models: the pool equals
    ``toh analyze --config`` of the concatenated export (the Kaplan-Meier strata by smoking too)."""
    config = _config(tmp_path, "analysis.toml", ANALYSIS + "[bundle]\nmin_patients = 1\n")
    bundles = [tmp_path / "site0.tohb", tmp_path / "site1.tohb"]
    for site, bundle in zip(("site0", "site1"), bundles):
        code, text = _bundle(consortium, site, bundle, "--config", config)
        assert code == 0, text
    options = _manifest(bundles[0])["options"]
    assert options["resolution"]["cox_covariates"] == ["male", "age", "bmi"]
    assert [c["name"] for c in options["columns"]] == ["bmi", "smoking"]
    boot = ["--bootstrap", 20, "--seed", 3]
    assert _run("pool", *bundles, "--out", tmp_path / "pool", *boot)[0] == 0
    code, text = _run("analyze", consortium["whole"], "--config", config, "--out", tmp_path / "whole", *boot, *DATE,
                      "--failures", tmp_path / "f.csv")
    assert code == 0, text
    pooled = json.loads((tmp_path / "pool" / "results.json").read_text())["results"]
    reference = json.loads((tmp_path / "whole" / "results.json").read_text())["results"]
    worst, odd = differences(pooled, reference)
    assert not odd and worst <= 1e-9, (worst, odd[:5])
    assert pooled["meta.resolution.cox.bmi_per_5.k"] == 2 and "sites.logrank.smoking.p" in pooled
    medians = [pd.read_csv(folder / "tables" / "resolution_medians.csv") for folder in (tmp_path / "pool",
                                                                                       tmp_path / "whole")]
    by_smoking = [m[m["variable"] == "smoking"].reset_index(drop=True) for m in medians]
    assert len(by_smoking[0]) == 3
    pd.testing.assert_frame_equal(by_smoking[0], by_smoking[1], check_exact=False, rtol=0, atol=1e-9)


@pytest.mark.slow  # two bundles and a refused pool
def test_bundles_with_other_covariates_are_refused(consortium: dict, tmp_path: Path) -> None:
    mine = _config(tmp_path, "mine.toml", ANALYSIS + "[bundle]\nmin_patients = 1\n")
    other = _config(tmp_path, "other.toml", ANALYSIS.replace('"male", "age", "bmi"', '"male", "age"')
                    + "[bundle]\nmin_patients = 1\n")
    assert _bundle(consortium, "site0", tmp_path / "site0.tohb", "--config", mine)[0] == 0
    assert _bundle(consortium, "site1", tmp_path / "site1.tohb", "--config", other)[0] == 0
    code, text = _run("pool", tmp_path / "site0.tohb", tmp_path / "site1.tohb", "--out", tmp_path / "pool")
    assert code == 2 and "Traceback" not in text and not (tmp_path / "pool").exists()
    assert ("were made with different analysis options (options: resolution.cox_covariates): ['male', 'age', 'bmi'] "
            "at site site0, ['male', 'age'] at site site1, set by [analysis] covariates of the sites' toh bundle "
            "--config; every site must use the same ones") in " ".join(text.split())


@pytest.mark.slow  # one site validated and derived
def test_explain_states_the_time_unit_and_the_small_cell_rule(consortium: dict, tmp_path: Path) -> None:
    path = _config(tmp_path, "site.toml", "[bundle]\ntime_unit = 'month'\nmin_patients = 3\n[privacy]\nmin_cell = 11\n")
    code, text = _run("bundle", consortium["site1"], "--site", "site1", "--config", path, "--explain", *DATE,
                      "--failures", tmp_path / "f.csv")
    assert code == 0, text
    assert "time unit (setting)" in text and "month: times from onset rounded up to whole months (30.4375 days)" in text
    assert "minimum of patients (setting)" in text and "3: a site with fewer patients writes no bundle" in text
    assert "small-cell rule (setting)" in text and "11: the pooled report shows counts of 1 to 10 as '<11'" in text
    assert " !  " in text  # a smallest count below the rule is flagged
    assert not list(tmp_path.glob("*.tohb"))


@pytest.mark.slow  # two bundles of a 100-patient site (the rule itself: tests/analyses/test_site_cox.py)
def test_a_cox_term_of_a_small_group_does_not_leave_the_site(consortium: dict, tmp_path: Path) -> None:
    """A treatment given to three patients: under the site's small-cell rule (default 5) the
    bundle holds no hazard ratio for it; with a rule of 0 it does (the Cox model is the same)."""
    import shutil

    import pandas as pd

    site = tmp_path / "site"
    shutil.copytree(consortium["site0"], site)
    episodes = pd.read_csv(site / "episodes.csv", dtype=str, keep_default_na=False)
    episodes.loc[episodes.index[:3], "treatment"] = "hbo"
    episodes.to_csv(site / "episodes.csv", index=False)
    loose = _config(tmp_path, "loose.toml", "[bundle]\nmin_patients = 1\n[privacy]\nmin_cell = 0\n")
    terms = {}
    for name, options in (("default", ()), ("loose", ("--config", loose))):
        out = tmp_path / f"{name}.tohb"
        code, text = _run("bundle", site, "--site", "s", "--out", out, *options, *DATE,
                          "--failures", tmp_path / f"{name}.csv")
        assert code == 0, text
        with zipfile.ZipFile(out) as archive:
            terms[name] = json.loads(archive.read("cox_coefficients.json"))["columns"]["term"]
    assert "treatment_hbo" in terms["loose"] and "treatment_hbo" not in terms["default"]
    assert set(terms["default"]) == set(terms["loose"]) - {"treatment_hbo"}
