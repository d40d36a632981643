"""``toh bundle`` and ``toh pool`` end to end: pooled = ``toh analyze`` of the concatenated export,
nothing identifying in a bundle, and every bad bundle refused with exit 2."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from toh.reports.sites.bundle import FORMAT_VERSION, MEMBERS
from click.testing import CliRunner

from pooling_helpers import differences, write_sites
from toh.cohort.simulate import simulate_registry, write_registry
from toh.reports.sites.bundle import canonical_json, content_hash
from toh.reports.cli import cli

DATE = ["--validation-date", "2026-06-30"]
BOOT = ["--bootstrap", "30", "--seed", "9"]
FREE_TEXT = ("Klinik am Sonnenberg, Station 3", "crutches; see letter of Dr Huber 12 May")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 240-patient registry with free text in it (a site column, a treatment that is no code,
    an extra notes column), written whole and as three site exports, each bundled."""
    root = tmp_path_factory.mktemp("sites")
    registry = simulate_registry(240, 21)
    registry.patients["site"] = FREE_TEXT[0]
    registry.episodes.loc[registry.episodes.index[::17], "treatment"] = FREE_TEXT[1]
    registry.episodes["notes"] = "patient reports pain at night"
    write_registry(registry, root / "whole")
    labels = np.random.default_rng(4).integers(0, 3, len(registry.patients))
    out = {"whole": root / "whole", "registry": registry}
    for name, folder in write_sites(registry, labels, root).items():
        bundle = root / f"{name}.tohb"
        code, text = _run("bundle", folder, "--site", name, "--out", bundle, *DATE, "--failures",
                          root / f"{name}-failures.csv")
        assert code == 0, text
        out[name] = bundle
    return out


def _bundles(sites: dict) -> list[Path]:
    return [sites[name] for name in ("site0", "site1", "site2")]


def test_pool_equals_analyze_of_the_concatenated_export(sites: dict, tmp_path: Path) -> None:
    code, text = _run("pool", *_bundles(sites), "--out", tmp_path / "pool", *BOOT)
    assert code == 0, text
    code, text = _run("analyze", sites["whole"], "--out", tmp_path / "whole", *BOOT, *DATE,
                      "--failures", tmp_path / "f.csv")
    assert code == 0, text
    pooled = json.loads((tmp_path / "pool" / "results.json").read_text())
    reference = json.loads((tmp_path / "whole" / "results.json").read_text())["results"]
    worst, odd = differences(pooled["results"], reference)
    assert not odd and worst <= 1e-9, (worst, odd[:5])
    assert pooled["kind"] == "pool" and [b["site"] for b in pooled["bundles"]] == ["site0", "site1", "site2"]
    from importlib.metadata import version
    assert pooled["software"]["statsmodels"] == version("statsmodels")  # it computed the meta-analyses
    assert sum(pooled["results"][f"sites.site{k}.patients"] for k in range(3)) == 240
    assert (tmp_path / "pool" / "tables" / "resolution_medians.csv").is_file()
    results = pooled["results"]
    for key in ("meta.resolution.cox.male.estimate", "meta.resolution.cox.male.reml.estimate",
                "meta.resolution.cox.treatment_bisphosphonate.k", "meta.recurrence.rate.reml.tau2",
                "sites.logrank.sex.p", "sites.logrank.treatment.df", "sites.gray.recurrence.sex.chisq",
                "sites.gray.migration.treatment.p", "sites.site0.resolution.cox.male.estimate"):
        assert key in results, key
    assert results["meta.resolution.cox.treatment_bisphosphonate.k"] == 3
    for table in ("sites_logrank", "sites_gray", "meta_analysis", "meta_sites"):
        assert (tmp_path / "pool" / "tables" / f"{table}.csv").is_file(), table
    assert json.loads((tmp_path / "pool" / ".toh-output.json").read_text())["kind"] == "pool"


def test_a_bundle_holds_no_identifier_date_or_free_text(sites: dict) -> None:
    registry = sites["registry"]
    forbidden = set(FREE_TEXT) | {"patient reports pain at night"}
    for table, column in (("patients", "patient_id"), ("episodes", "episode_id"), ("imaging", "exam_id"),
                          ("events", "event_id")):
        forbidden |= set(getattr(registry, table)[column].astype(str))
    for bundle in _bundles(sites):
        with zipfile.ZipFile(bundle) as archive:
            assert set(archive.namelist()) == set(MEMBERS) | {"manifest.json"}  # baseline.json too: free text withheld
            for name in archive.namelist():
                text = archive.read(name).decode("utf-8")
                assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}", text), name
                found = [value for value in forbidden if value in text]
                assert not found, (bundle.name, name, found[:3])
                json.loads(text)  # plain JSON, readable without toh


def test_bundle_is_deterministic_and_explained(sites: dict, tmp_path: Path) -> None:
    folder = sites["whole"].parent / "site1"
    again = tmp_path / "again.tohb"
    assert _run("bundle", folder, "--site", "site1", "--out", again, *DATE, "--failures", tmp_path / "f.csv")[0] == 0
    assert again.read_bytes() == sites["site1"].read_bytes()
    code, text = _run("bundle", folder, "--site", "site1", "--explain", *DATE, "--failures", tmp_path / "f.csv")
    assert code == 0
    for member in ("manifest.json", "resolution_km.json", "recurrence_cif.json", "migration_cif.json",
                   "radiographic_intervals.json", "complications.json", "proportions.json", "migration_sites.json",
                   "recurrence_cif_strata.json", "migration_cif_strata.json", "cox_coefficients.json",
                   "cox_covariance.json"):
        assert re.search(rf"^{re.escape(member)}\s+[\d,]+\s+(\d+( !)?|-)\s+\w", text, re.M), member
    assert "small-cell rule (setting)" in text and "time unit (setting)" in text and "day: times from onset" in text
    assert "no identifier" in text and "1 withheld here" in text and "fitted values, not counts" in text
    assert [p.name for p in tmp_path.glob("*.tohb")] == ["again.tohb"]  # --explain alone writes nothing


def test_a_site_name_is_a_plain_code(sites: dict, tmp_path: Path) -> None:
    for bad in ("north.east", "../x", "site a", "-x", "Gray", "logrank"):
        code, text = _run("bundle", sites["whole"].parent / "site1", "--site", bad, "--out", tmp_path / "x.tohb",
                          *DATE, "--failures", tmp_path / "f.csv")
        assert code == 2 and ("is not a site name" in text or "is reserved" in text), bad
    assert not (tmp_path / "x.tohb").exists()


def test_a_small_site_is_refused(sites: dict, tmp_path: Path) -> None:
    out = tmp_path / "small.tohb"
    code, text = _run("bundle", sites["whole"].parent / "site1", "--site", "x", "--out", out, "--min-patients",
                      "1000", *DATE, "--failures", tmp_path / "f.csv")
    assert code == 2 and "fewer than the minimum of 1000" in text and not out.exists()


def test_a_file_that_is_not_a_bundle_is_not_overwritten(sites: dict, tmp_path: Path) -> None:
    mine = tmp_path / "thesis.tohb"
    mine.write_text("my thesis")
    code, text = _run("bundle", sites["whole"].parent / "site1", "--site", "x", "--out", mine, *DATE,
                      "--failures", tmp_path / "f.csv")
    assert code == 2 and "not a toh bundle" in text and mine.read_text() == "my thesis"


def _rewrite(source: Path, target: Path, change) -> Path:
    """Copy a bundle member by member through ``change(name, bytes) -> bytes | None`` (None drops
    it), written as toh writes a bundle (so only the change itself can be refused)."""
    from toh.reports.sites.bundle import zip_bytes

    with zipfile.ZipFile(source) as old:
        members = {name: change(name, old.read(name)) for name in old.namelist()}
    target.write_bytes(zip_bytes({name: data for name, data in members.items() if data is not None}))
    return target


def _refused(bundles: list[Path], tmp_path: Path, message: str) -> None:
    code, text = _run("pool", *bundles, "--out", tmp_path / "pool", "--bootstrap", "0")
    assert code == 2, text
    assert message in text and "Traceback" not in text
    assert not (tmp_path / "pool").exists()


def test_a_changed_byte_is_refused(sites: dict, tmp_path: Path) -> None:
    raw = bytearray(sites["site0"].read_bytes())
    raw[len(raw) // 3] ^= 0x01
    flipped = tmp_path / "flipped.tohb"
    flipped.write_bytes(bytes(raw))
    _refused([flipped, sites["site1"]], tmp_path, "flipped.tohb")

    def one_count(name: str, data: bytes) -> bytes:
        return data.replace(b'"n_event": [\n  ', b'"n_event": [\n  1', 1) if name == "resolution_km.json" else data

    edited = _rewrite(sites["site0"], tmp_path / "edited.tohb", one_count)
    _refused([edited, sites["site1"]], tmp_path, "SHA-256 of resolution_km.json does not match")

    def rename(name: str, data: bytes) -> bytes:
        return data.replace(b'"site": "site0"', b'"site": "site9"') if name == "manifest.json" else data

    renamed = _rewrite(sites["site0"], tmp_path / "renamed.tohb", rename)
    _refused([renamed, sites["site1"]], tmp_path, "does not match its content hash")


def test_corrupt_bundles_are_refused(sites: dict, tmp_path: Path) -> None:
    text = tmp_path / "notes.tohb"
    text.write_text("not a zip")
    _refused([text], tmp_path, "not a readable zip archive")
    missing = _rewrite(sites["site0"], tmp_path / "missing.tohb",
                       lambda name, data: None if name == "proportions.json" else data)
    _refused([missing], tmp_path, "member proportions.json is missing")
    _refused([tmp_path / "nowhere.tohb"], tmp_path, "does not exist")


def _remanifest(source: Path, target: Path, edit) -> Path:
    """A bundle whose manifest ``edit`` changes, hashes recomputed (as another toh would write it)."""
    def change(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        edit(manifest)
        manifest["content_hash"] = content_hash(json.loads(canonical_json(manifest)))
        return json.dumps(manifest).encode()
    return _rewrite(source, target, change)


def test_incompatible_bundles_are_refused(sites: dict, tmp_path: Path) -> None:
    newer = _remanifest(sites["site0"], tmp_path / "newer.tohb", lambda m: m.update(format_version=FORMAT_VERSION + 1))
    _refused([newer], tmp_path, f"format version {FORMAT_VERSION + 1}")
    older = _remanifest(sites["site0"], tmp_path / "older.tohb", lambda m: m.update(format_version=FORMAT_VERSION - 1))
    _refused([older], tmp_path, f"format version {FORMAT_VERSION - 1}")
    rule = _remanifest(sites["site0"], tmp_path / "rule.tohb", lambda m: m.pop("disclosure"))
    _refused([rule], tmp_path, "its manifest has no disclosure settings (min_cell, min_patients)")
    negative = _remanifest(sites["site0"], tmp_path / "negative.tohb", lambda m: m["disclosure"].update(min_cell=-1))
    _refused([negative], tmp_path, "disclosure.min_cell of its manifest is not a whole number of at least 0")
    _refused([sites["site0"], sites["site0"]], tmp_path, "site site0 comes twice")
    copy = _remanifest(sites["site0"], tmp_path / "copy.tohb", lambda m: None)
    _refused([sites["site0"], copy], tmp_path, "comes twice")
    window = _remanifest(sites["site0"], tmp_path / "window.tohb",
                         lambda m: m.update(site="other") or m["definitions"].update(bilateral_window_days=14))
    _refused([sites["site1"], window], tmp_path, "different definitions (definitions: bilateral_window_days)")
    weekly = _remanifest(sites["site0"], tmp_path / "weekly.tohb", lambda m: m.update(site="w", time_unit="week"))
    _refused([sites["site1"], weekly], tmp_path, "different time unit")
    months = _remanifest(sites["site0"], tmp_path / "months.tohb",
                         lambda m: m.update(site="m") or m["options"]["recurrence"].update(months=[6.0]))
    _refused([sites["site1"], months], tmp_path, "different analysis options (options: recurrence.months)")


def test_definitions_of_a_real_bundle_differ(sites: dict, tmp_path: Path) -> None:
    """A bundle made through the API with other definitions (not an edited manifest) is refused."""
    import datetime as dt

    from toh.analyses.pipeline import derive_export
    from toh.cohort.definitions import Definitions
    from toh.cohort.derive import derive_cohort
    from toh.reports.sites.bundle import write_bundle
    from toh.reports.sites.pool import site_bundle

    report, _ = derive_export(sites["whole"].parent / "site2", validation_date=dt.date(2026, 6, 30))
    derived = derive_cohort(report.tables, Definitions(confidence=0.9))
    other = write_bundle(site_bundle(report, derived, "site2b"), tmp_path / "other.tohb")
    assert hashlib.sha256(other.read_bytes()).hexdigest() != hashlib.sha256(sites["site2"].read_bytes()).hexdigest()
    _refused([sites["site0"], other], tmp_path, "definitions: confidence")


def test_week_bundles_pool_to_the_coarsened_concatenated_cohort(sites: dict, tmp_path: Path) -> None:
    import datetime as dt

    from toh.analyses.pipeline import derive_export
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort
    from toh.cohort.coarsen import coarsen_cohort

    bundles = []
    for name in ("site0", "site1", "site2"):
        bundles.append(tmp_path / f"{name}.tohb")
        code, text = _run("bundle", sites["whole"].parent / name, "--site", name, "--out", bundles[-1],
                          "--time-unit", "week", *DATE, "--failures", tmp_path / "f.csv")
        assert code == 0, text
    _refused([bundles[0], sites["site1"]], tmp_path, "different time unit")
    assert _run("pool", *bundles, "--out", tmp_path / "pool", *BOOT)[0] == 0
    pooled = json.loads((tmp_path / "pool" / "results.json").read_text())
    assert pooled["time_unit"] == "week"
    whole = derive_export(sites["whole"], validation_date=dt.date(2026, 6, 30))[1]
    options = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=30, seed=9))
    reference = analyse_cohort(coarsen_cohort(whole, "week"), options).headline()
    worst, odd = differences(pooled["results"], reference)
    assert not odd and worst <= 1e-9, (worst, odd[:5])


def test_docs_name_every_member_and_manifest_key(sites: dict) -> None:
    import toh.docs
    from importlib.resources import files

    from toh.reports.sites.bundle import MEMBERS

    text = (files(toh.docs) / "bundle.md").read_text(encoding="utf-8")
    with zipfile.ZipFile(sites["site0"]) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        columns = {c for name in MEMBERS for c in json.loads(archive.read(name))["columns"]}
    for name in [*MEMBERS, *manifest, *columns]:
        assert f"`{name}`" in text, name


def test_a_well_hashed_bundle_with_bad_counts_is_refused(sites: dict, tmp_path: Path) -> None:
    """A bundle whose hashes are right but whose counts are not counts (another tool wrote it)."""
    def negative(name: str, data: bytes) -> bytes:
        if name != "migration_sites.json":
            return data
        document = json.loads(data)
        document["columns"]["n"][0] = -1
        return json.dumps(document).encode()

    bad = _rewrite(sites["site0"], tmp_path / "bad0.tohb", negative)
    with zipfile.ZipFile(bad) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    good = _remanifest(bad, tmp_path / "bad.tohb", lambda m: m["members"].update(
        {"migration_sites.json": hashlib.sha256(members["migration_sites.json"]).hexdigest()}))
    _refused([good], tmp_path, "migration_sites.n holds a missing, negative or infinite value")


def test_a_byte_changed_in_the_zip_headers_is_refused(sites: dict, tmp_path: Path) -> None:
    """A byte outside every member (a member's date in its zip header: no hash covers it and
    zip readers ignore it) is still a changed bundle: the file must be what toh writes."""
    raw = bytearray(sites["site0"].read_bytes())
    assert raw[:4] == b"PK\x03\x04"
    raw[10] ^= 0x01  # the first local header's modification time
    touched = tmp_path / "touched.tohb"
    touched.write_bytes(bytes(raw))
    with zipfile.ZipFile(touched) as archive:  # every member still reads back unchanged
        assert archive.testzip() is None
    _refused([touched, sites["site1"]], tmp_path, "its bytes are not those toh writes")
