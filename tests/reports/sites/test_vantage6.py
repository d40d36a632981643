"""The vantage6 algorithm through vantage6's MockAlgorithmClient: three simulated sites, the node's
result = the bytes of ``toh bundle``, the central result = ``toh pool`` key by key, and every
refusal a clear message without a row or a value of the data."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from pooling_helpers import DATE_PATTERN, identifiers
from vantage6.algorithm.tools import mock_client as vantage6  # the test extra installs the vantage6 extra

from toh.cohort.errors import ConfigError
from toh.cohort.simulate import simulate_registry, write_registry
from toh.reports.cli import cli
from toh.reports.sites.federated import PoolSettings, SiteSettings, pool_node_results
from toh.reports.sites.vantage6_algorithm import node_database

MODULE = "toh.reports.sites.vantage6_algorithm"
DAY = "2026-06-30"
SITES = {"north": (60, 11), "south": (90, 12), "east": (140, 13)}  # name: (patients, seed)
ORGS = {1: "north", 2: "south", 3: "east"}
DRAWS, SEED = 30, 9


def _run(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three site exports, each bundled with ``toh bundle``, and ``toh pool`` of the three."""
    root = tmp_path_factory.mktemp("network")
    out: dict[str, Any] = {"root": root, "folders": {}, "registries": {}, "bundles": {}}
    for site, (n, seed) in SITES.items():
        registry = simulate_registry(n, seed)
        write_registry(registry, root / site)
        out["folders"][site], out["registries"][site] = root / site, registry
        bundle = root / "bundles" / f"{site}.tohb"
        _run("bundle", root / site, "--site", site, "--out", bundle, "--validation-date", DAY,
             "--failures", root / f"{site}-failures.csv")
        out["bundles"][site] = bundle
    _run("pool", *out["bundles"].values(), "--out", root / "pool", "--bootstrap", DRAWS, "--seed", SEED)
    out["pool"] = json.loads((root / "pool" / "results.json").read_text(encoding="utf-8"))
    out["tables"] = {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "pool" / "tables").iterdir())}
    return out


def _client(folders: list[Path], organisations: list[int] | None = None) -> Any:
    return vantage6.MockAlgorithmClient(datasets=[[{"database": node_database(f)}] for f in folders],
                                        module=MODULE, organization_ids=organisations or list(ORGS))


def _central(client: Any, **kwargs: Any) -> dict[str, Any]:
    arguments = {"sites": {str(k): v for k, v in ORGS.items()}, "draws": DRAWS, "seed": SEED,
                 "validation_date": DAY, **kwargs}
    task = client.task.create(input_={"method": "central_pool", "kwargs": arguments}, organizations=[1])
    (result,) = client.wait_for_results(task["id"])
    return result


def _partial(client: Any, organisation: int, **kwargs: Any) -> dict[str, Any]:
    task = client.task.create(input_={"method": "partial_bundle", "kwargs": {"validation_date": DAY, **kwargs}},
                              organizations=[organisation])
    (result,) = client.wait_for_results(task["id"])
    return result


@pytest.fixture(scope="module")
def central(network: dict[str, Any]) -> dict[str, Any]:
    return _central(_client([network["folders"][s] for s in ORGS.values()]))


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_the_central_result_is_toh_pool_key_by_key(network: dict[str, Any], central: dict[str, Any]) -> None:
    expected, got = network["pool"], dict(central)
    tables = got.pop("tables")
    members = got.pop("bundle_members")
    for site, bundle in network["bundles"].items():  # the nodes' bundles, byte for byte those of toh bundle
        with zipfile.ZipFile(bundle) as archive:
            assert {k: v.encode("utf-8") for k, v in members[site].items()} == \
                {name: archive.read(name) for name in archive.namelist()}, site
    assert sorted(got) == sorted(expected)
    for key in expected:
        if key != "results":
            assert got[key] == expected[key], key
    assert sorted(got["results"]) == sorted(expected["results"])
    differ = [k for k, v in expected["results"].items() if got["results"][k] != v or type(got["results"][k]) is not type(v)]
    assert not differ, differ[:5]  # exact: every number, to the bit
    assert tables == network["tables"]
    assert [b["site"] for b in got["bundles"]] == list(ORGS.values())
    assert got["results"]["sites.east.patients"] == 140 and len(expected["results"]) > 100


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_a_node_returns_the_bytes_of_toh_bundle(network: dict[str, Any]) -> None:
    client = _client([network["folders"][s] for s in ORGS.values()])
    result = _partial(client, 2, site="south")
    assert result["format"] == "toh-bundle-members" and result["site"] == "south"
    with zipfile.ZipFile(network["bundles"]["south"]) as archive:
        written = {name: archive.read(name) for name in archive.namelist()}
    assert {k: v.encode("utf-8") for k, v in result["members"].items()} == written


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_a_node_result_holds_no_identifier_or_date(network: dict[str, Any]) -> None:
    client = _client([network["folders"][s] for s in ORGS.values()])
    for organisation, site in ORGS.items():
        text = json.dumps(_partial(client, organisation, site=site))
        assert not re.search(DATE_PATTERN, text), site
        found = [v for v in identifiers(network["registries"][site]) if v in text]
        assert not found, (site, found[:3])


def _invalid_site(network: dict[str, Any]) -> Path:
    """The north export with a sex that is no code and a birth year after the validation date."""
    folder = network["root"] / "invalid"
    if not folder.exists():
        write_registry(simulate_registry(*SITES["north"]), folder)
        patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
        patients.loc[[3, 5], "sex"] = "Xyzzy"
        patients.loc[7, "birth_year"] = "2999"
        patients.to_csv(folder / "patients.csv", index=False)
    return folder


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_an_invalid_export_gives_counts_per_rule_and_no_value(network: dict[str, Any]) -> None:
    folders = [network["folders"]["north"], _invalid_site(network), network["folders"]["east"]]
    client = _client(folders)
    node = _partial(client, 2, site="south")
    assert "error" in node and "members" not in node
    assert "is invalid (4 validation error(s))" in node["error"] and "toh validate" in node["error"]
    assert node["failures"] == [
        {"table": "patients", "column": "birth_year", "rule": "birth_year_matches_birth_date", "n": 1},
        {"table": "patients", "column": "birth_year", "rule": "range", "n": 1},
        {"table": "patients", "column": "sex", "rule": "code_list", "n": 2}]
    result = _central(client)
    assert result["error"] == "1 of 3 node(s) shared no bundle, so nothing was pooled"
    assert list(result["nodes"]) == ["organisation 2 (south)"] and "is invalid" in result["nodes"]["organisation 2 (south)"]
    for text in (json.dumps(node), json.dumps(result)):
        assert "Xyzzy" not in text and "2999" not in text and "P00000" not in text and "Traceback" not in text


def test_a_node_without_its_export_or_with_another_database_type_says_so(tmp_path: Path) -> None:
    (tmp_path / "patients.csv").write_text("patient_id,sex\n")
    client = vantage6.MockAlgorithmClient(
        datasets=[[{"database": node_database(tmp_path / "nowhere")}],
                  [{"database": node_database(tmp_path / "patients.csv", type="csv")}]],
        module=MODULE, organization_ids=[1, 2])
    assert "export not found" in _partial(client, 1, site="north")["error"]
    assert "of type 'csv'; a toh export is a folder (type: folder)" in _partial(client, 2, site="south")["error"]


@pytest.mark.slow  # four nodes validate and derive an export
def test_a_node_reads_the_mapping_file_beside_its_export(tmp_path: Path) -> None:
    """An export with its own names: ``toh-mapping.toml`` in the folder, or the file the database's
    ``env: {mapping: ...}`` names; the result is the bundle ``toh bundle --mapping`` writes."""
    import shutil

    foreign = Path(__file__).resolve().parents[2] / "data" / "foreign"
    beside, named = tmp_path / "beside", tmp_path / "named"
    shutil.copytree(foreign / "csv", beside)
    shutil.copy(foreign / "mapping.toml", beside / "toh-mapping.toml")
    shutil.copytree(foreign / "csv", named)
    shutil.copy(foreign / "mapping.toml", named / "site-names.toml")
    _run("bundle", foreign / "csv", "--mapping", foreign / "mapping.toml", "--site", "x", "--min-patients", 1,
         "--out", tmp_path / "x.tohb", "--validation-date", DAY, "--failures", tmp_path / "f.csv")
    with zipfile.ZipFile(tmp_path / "x.tohb") as archive:
        written = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    client = vantage6.MockAlgorithmClient(
        datasets=[[{"database": node_database(beside)}], [{"database": node_database(named, "site-names.toml")}],
                  [{"database": node_database(named, "../../mapping.toml")}], [{"database": node_database(named)}]],
        module=MODULE, organization_ids=[1, 2, 3, 4])
    for organisation in (1, 2):
        assert _partial(client, organisation, site="x", min_patients=1).get("members") == written, organisation
    assert "is not inside the export's folder" in _partial(client, 3, site="x", min_patients=1)["error"]
    assert "toh validate" in _partial(client, 4, site="x", min_patients=1)["error"]  # no mapping: invalid


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_a_small_site_shares_nothing_and_not_its_size(network: dict[str, Any]) -> None:
    client = _client([network["folders"][s] for s in ORGS.values()])
    node = _partial(client, 1, site="north", min_patients=61)
    assert node["error"].startswith("the site has fewer patients than the minimum of 61") and "60" not in node["error"]


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_a_node_administrator_sets_a_floor_and_a_coarsest_time(network: dict[str, Any]) -> None:
    """The node's database entry (env: min_patients, time_unit) wins over the task's arguments."""
    folders = [network["folders"][s] for s in ORGS.values()]
    client = vantage6.MockAlgorithmClient(
        datasets=[[{"database": node_database(folders[0], min_patients=100)}],
                  [{"database": node_database(folders[1], time_unit="week")}],
                  [{"database": node_database(folders[2])}]], module=MODULE, organization_ids=list(ORGS))
    assert "fewer patients than the minimum of 100" in _partial(client, 1, site="north", min_patients=5)["error"]
    refused = _partial(client, 2, site="south")
    assert refused["error"] == ("this node shares counts per week or coarser only; the task asked per day: run the "
                                "pool with time_unit 'week'")
    weekly = _partial(client, 2, site="south", time_unit="month")
    assert json.loads(weekly["members"]["manifest.json"])["time_unit"] == "month"
    result = _central(client, time_unit="week", draws=0)
    assert list(result["nodes"]) == ["organisation 1 (north)"], result


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_a_node_that_returns_nothing_is_named(network: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A node whose policies refuse the image (or whose run failed) has no result to give."""
    client = _client([network["folders"][s] for s in ORGS.values()])
    real = type(client).wait_for_results

    def none_from_south(self: Any, task_id: int, interval: float = 1) -> list:
        runs = real(self, task_id, interval)
        return [] if runs and isinstance(runs[0], dict) and runs[0].get("site") == "south" else runs

    monkeypatch.setattr(type(client), "wait_for_results", none_from_south)
    result = _central(client, draws=0)
    assert result["error"] == "1 of 3 node(s) shared no bundle, so nothing was pooled"
    assert result["nodes"]["organisation 2 (south)"].startswith("no result: the node refused the task")


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_settings_are_checked_before_any_task(network: dict[str, Any]) -> None:
    client = _client([network["folders"][s] for s in ORGS.values()])
    for kwargs, message in (
            ({"time_unit": "year"}, "time_unit must be one of day, week, month"),
            ({"min_patients": 0}, "min_patients must be a whole number of at least 1"),
            ({"min_cell": -2}, "min_cell must be a whole number of at least 0"),
            ({"draws": -1}, "draws must be a whole number of at least 0"),
            ({"seed": "x"}, "seed must be a whole number"),
            ({"validation_date": "30/06/2026"}, "validation_date must be a date written YYYY-MM-DD"),
            ({"sites": {"1": "north.east"}}, "is not a site name"),
            ({"sites": {"x": "north"}}, "'x' is not an organisation id"),
            ({"organizations": [1, 7]}, "organizations: 7 is not an organisation of this collaboration"),
            ({"organizations": [1], "sites": {"1": "north", "2": "south"}}, "sites: organisation 2 is not among")):
        result = _central(client, **kwargs)
        assert message in result["error"], (kwargs, result)
    client.organization.get = lambda i: {"id": i, "name": f"Hospital {i}"}  # as the server names them
    result = _central(client, sites={"1": "north"})
    assert "organisation 2 is called 'Hospital 2', which is not a site name: give its site name in the argument " \
           "sites" in result["error"]
    assert len(client.tasks) == 11  # the central tasks only: no node was asked
    assert "is not a site name" in _partial(client, 1, site="../north")["error"]
    assert "partial_bundle: got an unexpected keyword argument 'colour'" in _partial(client, 1, site="x",
                                                                                    colour=1)["error"]
    assert "partial_bundle: missing a required argument: 'site'" in _partial(client, 1)["error"]
    assert "time_unit must be" in _partial(client, 1, site="north", time_unit="hour")["error"]


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_organisation_names_are_the_default_site_names(network: dict[str, Any]) -> None:
    """Two organisations (named mock-1, mock-2 by the mock server), named by the server."""
    client = _client([network["folders"]["north"], network["folders"]["south"]], [1, 2])
    client.organization.get = lambda i: {"id": i, "name": {1: "north", 2: "south"}[i]}  # the server's names
    result = _central(client, sites=None, draws=0)
    assert [b["site"] for b in result["bundles"]] == ["north", "south"], result.get("error")


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_one_site_twice_and_a_changed_byte_are_refused_as_toh_pool_refuses_them(network: dict[str, Any]) -> None:
    client = _client([network["folders"][s] for s in ORGS.values()])
    twice = _central(client, sites={"1": "north", "2": "north", "3": "east"})
    assert "site north comes twice (organisation 1 (north)'s north.tohb and organisation 2 (north)'s north.tohb)" \
        in twice["error"]
    node = _partial(client, 1, site="north")
    edited = json.loads(json.dumps(node))
    edited["members"]["resolution_km.json"] = edited["members"]["resolution_km.json"].replace('"n_event": [\n  ',
                                                                                            '"n_event": [\n  1', 1)
    with pytest.raises(Exception, match="SHA-256 of resolution_km.json does not match"):
        pool_node_results({"organisation 1": edited, "organisation 3": _partial(client, 3, site="east")}, 0)
    weekly = _partial(client, 3, site="east", time_unit="week")
    with pytest.raises(Exception, match="different time unit"):
        pool_node_results({"organisation 1": node, "organisation 3": weekly}, 0)
    with pytest.raises(Exception, match="returned no toh bundle"):
        pool_node_results({"organisation 1": node, "organisation 3": {"answer": 42}}, 0)


def test_results_that_are_no_bundles_are_refused() -> None:
    good = {"format": "toh-bundle-members", "format_version": 1, "site": "north", "members": {"manifest.json": "{}"}}
    for result, message in (
            ({"answer": 42}, "organisation 1 returned no toh bundle"),
            (None, "organisation 1 returned no toh bundle"),
            ({**good, "format_version": 2}, "returned format version 2"),
            ({**good, "error": "the node's export is invalid"}, "organisation 1: the node's export is invalid"),
            ({**good, "site": "../x"}, "returned a corrupt result (no site name or no members)"),
            ({**good, "members": {"../manifest.json": "{}"}}, "returned a corrupt result (a member name is a path)"),
            ({**good, "members": {"manifest.json": "{}"}}, "its manifest.json is corrupt")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            pool_node_results({"organisation 1": result}, 0)
    with pytest.raises(ConfigError, match="no node returned a result"):
        pool_node_results({}, 0)


def test_node_limits_validate() -> None:
    from toh.reports.sites.vantage6_algorithm import NodeLimits

    assert NodeLimits("20").min_patients == 20
    assert NodeLimits(20).apply(SiteSettings("north", min_patients=30)).min_patients == 30
    assert NodeLimits(20).apply(SiteSettings("north", min_patients=5)).min_patients == 20
    assert NodeLimits(min_cell="10").apply(SiteSettings("north", min_cell=5)).min_cell == 10
    assert NodeLimits(min_cell=3).apply(SiteSettings("north", min_cell=8)).min_cell == 8
    assert SiteSettings("north").min_cell == 5 and PoolSettings().node_arguments("x")["min_cell"] == 5
    for bad, message in ((("0", None), "the node's min_patients ('0')"), (("x", None), "is not a whole number"),
                         ((None, "year"), "the node's time_unit ('year') is not one of day, week, month"),
                         ((None, None, "-1"), "the node's min_cell ('-1') is not a whole number of at least 0")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            NodeLimits(*bad)


def test_settings_classes_validate() -> None:
    assert PoolSettings(sites={1: "north"}, organizations=[3, "4"]).organizations == (3, 4)
    assert PoolSettings(sites={1: "north"}).sites == {"1": "north"}
    assert SiteSettings("north", validation_date=DAY).day.isoformat() == DAY
    with pytest.raises(Exception, match="organizations is empty"):
        PoolSettings(organizations=[])


def _encoded(value: str) -> str:
    """An environment value as a vantage6 node passes it (base32, '=' replaced)."""
    from vantage6.common.globals import ENV_VAR_EQUALS_REPLACEMENT

    return base64.b32encode(value.encode("utf-8")).decode("ascii").replace("=", ENV_VAR_EQUALS_REPLACEMENT)


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_the_image_entry_point_reads_the_node_database_from_the_environment(network: dict[str, Any],
                                                                             tmp_path: Path) -> None:
    """vantage6's wrapper as the Dockerfile runs it, with the files and variables a node sets
    for a ``type: folder`` database labelled ``toh``."""
    task = tmp_path / "task"
    task.mkdir()
    (task / "input").write_text(json.dumps({"method": "partial_bundle", "kwargs": {"site": "south",
                                                                                   "validation_date": DAY}}))
    node_set = {"INPUT_FILE": str(task / "input"), "OUTPUT_FILE": str(task / "output"),
                "TOKEN_FILE": str(task / "token"), "TEMPORARY_FOLDER": str(tmp_path),
                "USER_REQUESTED_DATABASE_LABELS": "toh", "TOH_DATABASE_URI": str(network["folders"]["south"]),
                "TOH_DATABASE_TYPE": "folder", "TOH_DB_PARAM_MIN_PATIENTS": "10", "DB_LABELS": "toh"}
    env = {**os.environ, **{k: _encoded(v) for k, v in node_set.items()}, "PKG_NAME": MODULE}
    run = subprocess.run([sys.executable, "-c", _entry_point()], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((task / "output").read_bytes())
    with zipfile.ZipFile(network["bundles"]["south"]) as archive:
        assert {k: v.encode() for k, v in result["members"].items()} == {n: archive.read(n) for n in archive.namelist()}


def _dockerfile() -> str:
    return (Path(__file__).resolve().parents[3] / "docker" / "vantage6" / "Dockerfile").read_text(encoding="utf-8")


def _entry_point() -> str:
    """The Python the Dockerfile's CMD runs."""
    found = re.search(r'^CMD \["python", "-c", "(.*)"\]$', _dockerfile(), re.M)
    assert found, "the Dockerfile has no exec-form CMD running python -c"
    return found.group(1)


def test_the_dockerfile_installs_the_extra_and_runs_the_wrapper() -> None:
    text = _dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(rf"^ENV PKG_NAME={re.escape(MODULE)}$", text, re.M)
    assert '/src/toh-cohort[vantage6]' in text and "wrap_algorithm(" in _entry_point()
    root = Path(__file__).resolve().parents[3]
    ignored = (root / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".git", "tests"} <= set(ignored)


def test_the_algorithm_store_description_matches_the_functions() -> None:
    """docker/vantage6/algorithm_store.json lists each function's task arguments with their defaults."""
    import inspect

    from toh.reports.sites import vantage6_algorithm

    root = Path(__file__).resolve().parents[3]
    store = json.loads((root / "docker" / "vantage6" / "algorithm_store.json").read_text(encoding="utf-8"))
    given = {"central_pool": {"client"}, "partial_bundle": {"export", "mapping", "limits"}}  # not task arguments
    assert sorted(f["name"] for f in store["functions"]) == sorted(given)
    for function in store["functions"]:
        parameters = inspect.signature(inspect.unwrap(getattr(vantage6_algorithm, function["name"]))).parameters
        wanted = {n: p.default for n, p in parameters.items() if n not in given[function["name"]]}
        assert [a["name"] for a in function["arguments"]] == list(wanted), function["name"]
        for argument in function["arguments"]:
            default = wanted[argument["name"]]
            if default is inspect.Parameter.empty:
                assert not argument.get("has_default_value"), argument["name"]
            else:
                text = argument["default_value"]
                assert (text == default if isinstance(default, str) else json.loads(text) == default), argument["name"]


def test_import_toh_and_toh_help_import_no_vantage6() -> None:
    probe = ("import sys\nimport toh, toh.reports.sites.federated\nfrom toh.reports.cli import main\nsys.argv = ['toh', "
             "'--help']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('vantage6', 'jwt', 'sqlalchemy')))\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "[]"


README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.mark.slow  # three sites, bundled and pooled twice
def test_the_readme_example_runs_and_equals_toh_pool(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's MockAlgorithmClient example as written, then what it says it equals: ``toh bundle
    --time-unit week`` at each site and ``toh pool --bootstrap 200``."""
    blocks = [b for b in re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.M | re.S)
              if "MockAlgorithmClient(" in b]
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(blocks[0], "README.md vantage6 example", "exec"), namespace)  # noqa: S102 - the point of the test
    pooled = dict(namespace["pooled"])
    assert "error" not in pooled, pooled
    tables = pooled.pop("tables")
    assert sorted(pooled.pop("bundle_members")) == ["east", "north", "south"]
    for name, folder in (("north", "network/north"), ("south", "network/south"), ("east", "network/east")):
        _run("bundle", folder, "--site", name, "--time-unit", "week", "--out", f"{name}.tohb",
             "--failures", "failures.csv")
        assert (tmp_path / "bundles" / f"{name}.tohb").read_bytes() == (tmp_path / f"{name}.tohb").read_bytes()
    _run("pool", "north.tohb", "south.tohb", "east.tohb", "--out", "pool", "--bootstrap", "200")
    assert pooled == json.loads((tmp_path / "pool" / "results.json").read_text(encoding="utf-8"))
    assert tables == {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "pool" / "tables").iterdir()}
    assert pooled["time_unit"] == "week" and pooled["results"]["sites.east.patients"] == 140


@pytest.mark.slow  # the three sites bundled, pooled and run through the mock network once per module
def test_the_pooled_report_is_built_from_the_central_result(network: dict[str, Any], central: dict[str, Any],
                                                             tmp_path: Path) -> None:
    """The central result carries the nodes' bundles: written back as .tohb files, ``toh pool
    --report`` with the task's draws and seed gives the central result's numbers and the report."""
    from toh.reports.sites.federated import write_node_bundles

    paths = write_node_bundles(central, tmp_path / "bundles")
    assert [p.name for p in paths] == [f"{s}.tohb" for s in ORGS.values()]
    assert all(p.read_bytes() == network["bundles"][p.stem].read_bytes() for p in paths)
    _run("pool", *paths, "--out", tmp_path / "pool", "--report", "--format", "html,md", "--bootstrap", DRAWS,
         "--seed", SEED)
    written = json.loads((tmp_path / "pool" / "results.json").read_text(encoding="utf-8"))
    assert written["results"] == central["results"] and written["options"] == central["options"]
    report = (tmp_path / "pool" / "report.md").read_text(encoding="utf-8")
    assert "3 sites" in report and all(s in report for s in ORGS.values())
    assert (tmp_path / "pool" / "report.html").is_file()
    with pytest.raises(ConfigError, match="the central result carries no bundles: 1 of 3 node"):
        write_node_bundles({"error": "1 of 3 node(s) shared no bundle, so nothing was pooled", "nodes": {}}, tmp_path)


@pytest.mark.slow  # one node bundles its export
def test_a_node_writes_its_small_cell_rule_in_its_bundle(network: dict[str, Any]) -> None:
    folders = [network["folders"][s] for s in ORGS.values()]
    client = vantage6.MockAlgorithmClient(
        datasets=[[{"database": node_database(folders[0], min_cell=11)}], [{"database": node_database(folders[1])}],
                  [{"database": node_database(folders[2])}]], module=MODULE, organization_ids=list(ORGS))
    strict = json.loads(_partial(client, 1, site="north", min_cell=7)["members"]["manifest.json"])
    assert strict["disclosure"] == {"min_cell": 11, "min_patients": 10}
    asked = json.loads(_partial(client, 2, site="south", min_cell=7)["members"]["manifest.json"])
    assert asked["disclosure"]["min_cell"] == 7


@pytest.mark.slow  # one export bundled by toh bundle --config and by two nodes
def test_a_node_reads_its_configuration_beside_its_export(tmp_path: Path) -> None:
    """``toh-config.toml`` in the export folder (or the file ``env: config`` names) is the node's
    ``toh bundle --config``: its [analysis] shapes the bundle (a declared covariate), its
    [privacy] min_cell and [bundle] min_patients / time_unit are floors; the node's result is the
    bundle ``toh bundle --config`` writes."""
    import numpy as np

    registry = simulate_registry(80, 4)
    registry.patients["bmi"] = np.round(np.random.default_rng(2).normal(25, 4, len(registry.patients)), 1)
    folder = tmp_path / "site"
    write_registry(registry, folder)
    (folder / "toh-config.toml").write_text(
        '[analysis]\ncovariates = ["male", "age", "bmi"]\n[analysis.columns]\n'
        'bmi = { table = "patients", type = "number", per = 5 }\n[privacy]\nmin_cell = 9\n'
        '[bundle]\ntime_unit = "week"\n', encoding="utf-8")
    (folder / "broken.toml").write_text("[bundle]\ntime_unit = 'year'\n", encoding="utf-8")
    _run("bundle", folder, "--site", "x", "--config", folder / "toh-config.toml", "--out", tmp_path / "x.tohb",
         "--validation-date", DAY, "--failures", tmp_path / "f.csv")
    with zipfile.ZipFile(tmp_path / "x.tohb") as archive:
        written = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
    client = vantage6.MockAlgorithmClient(
        datasets=[[{"database": node_database(folder)}], [{"database": node_database(folder, config="broken.toml")}],
                  [{"database": node_database(folder, config="../elsewhere.toml")}]],
        module=MODULE, organization_ids=[1, 2, 3])
    node = _partial(client, 1, site="x", time_unit="week", min_cell=3)
    assert node.get("members") == written, node.get("error")
    manifest = json.loads(node["members"]["manifest.json"])
    assert manifest["disclosure"]["min_cell"] == 9 and "bmi" in manifest["options"]["resolution"]["cox_covariates"]
    assert "coarser only; the task asked per day" in _partial(client, 1, site="x")["error"]
    broken = _partial(client, 2, site="x")["error"]
    assert broken.startswith("the node's configuration cannot be used: ") and "time_unit must be one of" in broken
    assert "config '../elsewhere.toml' is not inside the export's folder" in _partial(client, 3, site="x")["error"]
