"""``toh pool --report``: three simulated hospitals, three ``toh bundle`` commands, one pooled
report whose every marked number is the one in results.json, with the sites section, forest plots,
no small count and nothing identifying; a bad bundle still writes nothing."""

from __future__ import annotations

import html
import json
import re
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from report_html import assert_shown_as_in_results, parse_report
from toh.reports.cli import cli

SITES = ("north", "south", "east")
DATE = ["--validation-date", "2026-06-30"]
SECTIONS = ["data", "sites", "attrition", "cohort", "demographics", "radiographic", "resolution", "recurrence",
            "complications", "imaging", "claims", "methods", "manifest"]


def _run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def consortium(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Three simulated hospitals (toh simulate --sites 3), each bundled, pooled with --report."""
    root = tmp_path_factory.mktemp("consortium")
    code, text = _run("simulate", root / "sim", "--sites", "3", "--patients", "110", "--seed", "5",
                      "--site-names", ",".join(SITES))
    assert code == 0, text
    bundles = []
    for site in SITES:
        bundle = root / f"{site}.tohb"
        code, text = _run("bundle", root / "sim" / site, "--site", site, "--out", bundle, *DATE,
                          "--failures", root / f"{site}-failures.csv")
        assert code == 0, text
        bundles.append(bundle)
    code, text = _run("pool", *bundles, "--out", root / "pool", "--report", "--bootstrap", "20", "--seed", "9")
    assert code == 0, text
    return {"root": root, "out": root / "pool", "bundles": bundles, "log": text}


@pytest.mark.slow
def test_pool_report_writes_every_format(consortium: dict) -> None:
    out = consortium["out"]
    for name in ("report.html", "report.pdf", "report.md", "results.json", "tables/report/sites_patients.csv",
                 "tables/report/sites_meta_analysis.csv", "tables/resolution_medians.csv",
                 "figures/sites_forest_recurrence_rate.svg", "figures/sites_forest_recurrence_rate.png",
                 "figures/km_resolution_all.png"):
        assert (out / name).is_file(), name
    from pypdf import PdfReader

    outline = [o.title for o in PdfReader(out / "report.pdf").outline]
    assert outline[:2] == ["Data and validation", "Sites"] and len(outline) == len(SECTIONS)
    assert json.loads((out / ".toh-output.json").read_text())["kind"] == "pool"
    assert "wrote " + str(out / "report.html") in consortium["log"]


@pytest.mark.slow
def test_every_number_in_the_pooled_report_is_the_one_in_results_json(consortium: dict) -> None:
    out = consortium["out"]
    results = json.loads((out / "results.json").read_text())["results"]
    shown = [s for s in parse_report(out / "report.html").numbers if "data-suppressed" not in s]
    keys = {s["data-key"] for s in shown}
    assert len(keys) >= 60
    assert {"resolution.median.estimate_days", "radiographic.changed_8w.estimate", "recurrence.rate.estimate_per_100py",
            "meta.migration.rate.estimate", "meta.migration.rate.reml.estimate", "meta.migration.rate.i2",
            *(f"sites.{s}.patients" for s in SITES)} <= keys
    assert any(k.startswith(f"sites.{SITES[0]}.") and k.endswith(".estimate") for k in keys)
    assert_shown_as_in_results(shown, results)
    md = html.unescape((out / "report.md").read_text().replace("\\", ""))  # without Markdown's escapes
    assert all(span["text"] in md for span in shown)


@pytest.mark.slow
def test_sites_section_forest_plots_and_not_pooled_sections(consortium: dict) -> None:
    out = consortium["out"]
    page = parse_report(out / "report.html")
    assert page.sections == SECTIONS
    forests = [f for f in page.figures if f.startswith("sites_forest_")]
    assert "sites_forest_recurrence_rate" in forests and "sites_forest_resolution_cox_male" in forests
    assert {"km_resolution_all", "cif_recurrence_migration", "radiographic_change"} <= set(page.figures)
    assert all((out / "figures" / f"{f}.svg").is_file() for f in page.figures)
    svg = (out / "figures" / "sites_forest_migration_rate.svg").read_text()
    assert 'id="forest-pooled-diamond"' in svg and re.search(r"I² \d+%, τ² ", svg)
    assert all(f'id="forest-{s}-estimate"' in svg for s in SITES)
    svg = (out / "figures" / "sites_forest_recurrence_rate.svg").read_text()  # two sites below 5 recurrences
    assert 'id="forest-pooled-hidden"' in svg and 'id="forest-pooled-diamond"' not in svg
    assert 'id="forest-north-hidden"' in svg and 'id="forest-east-estimate"' in svg
    md = (out / "report.md").read_text()
    methods = md.split("## Methods")[1]
    for words in ("Pooled exactly", "sufficient statistics", "Turnbull", "bootstrap", "stratified by site",
                  "DerSimonian-Laird", "REML", "tau²", "I²"):
        assert words in methods, words
    for title in ("## Cohort description", "## Imaging findings"):
        body = md.split(title)[1].split("\n## ")[0]
        assert "Not pooled: " in body, title
    table1 = md.split("## Cohort description")[1].split("\n## ")[0]  # the sites' counts added up
    assert "Table 1." in table1 and "| Age at onset, years, median \\[IQR\\] |  | not pooled |" in table1
    claims = md.split("## Claims check")[1].split("\n## ")[0]  # checked on the pooled estimates
    assert "Not pooled" not in claims and "figures/claims_forest.png" in claims and "consistent" in claims
    assert "Not pooled: the Cox model of resolution" in md and "Not pooled: ages at onset" in md
    attrition = pd.read_csv(out / "tables" / "report" / "attrition.csv")  # the sites' manifests added up
    manifests = [json.loads(zipfile.ZipFile(b).read("manifest.json"))["attrition"]
                 for b in consortium["bundles"]]
    for table, stage in (("patients", "read"), ("patients", "in_cohort"), ("events", "read")):
        row = attrition[(attrition["table"] == table) & (attrition["stage"] == stage.replace("_", " "))]
        assert int(str(row["rows"].iloc[0]).replace(",", "")) == sum(
            r["n"] for m in manifests for r in m if (r["table"], r["stage"]) == (table, stage))
    meta = pd.read_csv(out / "tables" / "report" / "sites_meta_analysis.csv")
    assert set(meta["method"]) == {"DL", "REML"}
    assert "Log-rank tests stratified by site" in md


@pytest.mark.slow
def test_no_small_count_and_nothing_identifying(consortium: dict) -> None:
    out, root = consortium["out"], consortium["root"]
    counts = [s for s in parse_report(out / "report.html").numbers
              if s.get("data-kind") == "count" and "data-suppressed" not in s]
    assert counts and all(not 0 < float(s["data-value"]) < 5 for s in counts)
    md = (out / "report.md").read_text()
    for site in SITES:  # no identifier of a patient, episode, exam or event; no date
        for table, column in (("patients", "patient_id"), ("episodes", "episode_id"), ("imaging", "exam_id"),
                              ("events", "event_id")):
            ids = set(pd.read_csv(root / "sim" / site / f"{table}.csv", dtype=str)[column])
            found = [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", md)]
            assert not found, (site, column, found[:3])
    assert not re.search(r"\d{4}-\d{2}-\d{2}", md)
    assert "&lt;5" in md  # this small consortium has counts below 5, shown as such
    spans = parse_report(out / "report.html").numbers
    hidden_sites = {s["data-key"].split(".", 2)[2].rsplit(".", 1)[0] for s in spans if "data-suppressed" in s
                    and s["data-key"].startswith("sites.") and s["data-key"].endswith(".estimate")}
    assert "recurrence.rate" in hidden_sites  # two of the three sites have fewer than 5 recurrences
    shown = {s["data-key"] for s in spans if "data-suppressed" not in s}
    for estimand in hidden_sites:  # a combination of a hidden site's estimate would give it back
        assert not {f"meta.{estimand}.estimate", f"meta.{estimand}.i2", f"meta.{estimand}.reml.estimate"} & shown


@pytest.mark.slow
def test_document_hides_small_counts_with_a_large_min_cell(consortium: dict) -> None:
    from toh.reports.document._writer import TOTAL, Num
    from toh.reports.sites.pool import pool_bundles
    from toh.reports.document.pooled import build_pool_document

    pooled, bundles = pool_bundles(consortium["bundles"], 0, 1)
    smallest = min(b.aggregates.patients for b in bundles)
    min_cell = smallest + 1  # one site's patients are a small count now
    doc = build_pool_document(pooled, bundles, min_cell)
    nums = [f for s in doc.sections for p in s.paragraphs for f in p if isinstance(f, Num)]
    nums += [f for s in doc.sections for t in s.tables for row in t.rows for c in row for f in c if isinstance(f, Num)]
    counts = [n for n in nums if n.kind == "count" and n.cell != TOTAL]
    assert all(not (0 < n.value < min_cell) for n in counts if not n.suppressed)
    per_site = {n.key: n for n in counts if n.key and n.key.endswith(".patients")}
    # the small site, and one more so that the total cannot give it back
    assert sum(n.suppressed for n in per_site.values()) >= 2
    forests = [f for s in doc.sections for f in s.figures if f.name.startswith("sites_forest_")]
    small_site = next(b.site for b in bundles if b.aggregates.patients == smallest)
    assert all(small_site in f.not_drawn for f in forests)
    validation = next(t for s in doc.sections for t in s.tables if t.name == "pool_validation")
    row = next(r for r in validation.rows if r[0] == (small_site,))
    assert all(c[0].suppressed for c in row[1:-2])  # its rows read would give its size back


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A 90-patient registry split into three site bundles, pooled without bootstrap (no CLI)."""
    import numpy as np

    from pooling_helpers import write_sites
    from toh.cohort.derive import derive_cohort
    from toh.cohort.simulate import simulate_registry
    from toh.cohort.validate import validate_export
    from toh.reports.sites.bundle import write_bundle
    from toh.reports.sites.pool import pool_bundles, site_bundle

    root = tmp_path_factory.mktemp("small_pool")
    registry = simulate_registry(90, 3)
    labels = np.random.default_rng(1).integers(0, 3, len(registry.patients))
    paths = []
    with warnings.catch_warnings():  # the Cox fits of 30-patient sites warn (low variance, convergence)
        warnings.simplefilter("ignore")
        for name, folder in write_sites(registry, labels, root).items():
            report = validate_export(folder)
            paths.append(write_bundle(site_bundle(report, derive_cohort(report.tables), name),
                                      root / f"{name}.tohb"))
    return pool_bundles(paths, 0, 1)


@pytest.mark.slow  # about 5 s: three bundles made from exports
def test_the_pooled_document_quotes_the_pooled_headline(small_pool: tuple) -> None:
    from toh.reports.document._writer import TOTAL, Num
    from toh.reports.document.pooled import NOT_POOLED, build_pool_document

    pooled, bundles = small_pool
    doc = build_pool_document(pooled, bundles, 5)
    assert [s.id for s in doc.sections] == SECTIONS
    nums = [f for s in doc.sections for p in s.paragraphs for f in p if isinstance(f, Num)]
    nums += [f for s in doc.sections for t in s.tables for row in t.rows for c in row for f in c if isinstance(f, Num)]
    headline = pooled.headline()
    keyed = [n for n in nums if n.key and not n.suppressed and n.value is not None]
    assert len({n.key for n in keyed}) >= 50
    assert all(n.value == headline[n.key] for n in keyed)
    counts = [n for n in nums if n.kind == "count" and n.cell != TOTAL]
    assert all(not 0 < n.value < 5 for n in counts if not n.suppressed)
    said = {s.id: " ".join(str(f) for p in s.paragraphs for f in p if isinstance(f, str)) for s in doc.sections}
    assert said["imaging"].startswith(NOT_POOLED) and len(said["imaging"]) > len(NOT_POOLED) + 20
    assert NOT_POOLED + "the medians [IQR] of age at onset" in said["cohort"]  # Table 1 of summed counts
    cohort = next(s for s in doc.sections if s.id == "cohort")
    assert [t.name for t in cohort.tables] == ["table1"]
    claims = next(s for s in doc.sections if s.id == "claims")
    assert [t.name for t in claims.tables] == ["claims"] and [f.name for f in claims.figures] == ["claims_forest"]
    sites = next(s for s in doc.sections if s.id == "sites")
    assert {t.name for t in sites.tables} == {"sites_patients", "sites_meta_analysis", "sites_estimates"}
    assert "sites_forest_resolution_unresolved_6m" in {f.name for f in sites.figures}
    # a forest plot whose every row reads "not shown" (recurrence: fewer than 5 events at every
    # site and over all three) is not drawn at all
    label = "same-hip recurrence per 100 person-years"
    rows = [row for t in sites.tables if t.name in ("sites_estimates", "sites_meta_analysis") for row in t.rows
            if row[0] == (label,)]
    assert len(rows) == 5 and all(any(isinstance(f, Num) and f.suppressed for c in row for f in c) for row in rows)
    assert "sites_forest_recurrence_rate" not in {f.name for f in sites.figures}


def test_a_bad_bundle_still_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "north.tohb"
    fake.write_bytes(b"PK\x03\x04 not a zip at all")
    code, text = _run("pool", fake, "--out", tmp_path / "pool", "--report", "--bootstrap", "0")
    assert code == 2 and "Traceback" not in text, text
    assert not (tmp_path / "pool").exists()


@pytest.mark.parametrize("args, message", [(["--format", "md"], "add --report"), (["--min-cell", "3"], "add --report"),
                                           (["--report", "--format", "docx"], "formats must be among")])
def test_report_options_are_checked_first(tmp_path: Path, args: list[str], message: str) -> None:
    fake = tmp_path / "north.tohb"
    fake.write_bytes(b"whatever")
    code, text = _run("pool", fake, "--out", tmp_path / "pool", *args)
    assert code == 2 and message in text, text
    assert not (tmp_path / "pool").exists()


@pytest.mark.slow
def test_the_pooled_report_speaks_of_sites_and_the_pooled_cohort(consortium: dict) -> None:
    """No sentence, caption or header of the pooled report calls the pool a registry (the single
    report's builders say "registry"; toh.reports.document.pooled.POOLED_WORDS rewords them)."""
    md = html.unescape((consortium["out"] / "report.md").read_text().replace("\\", ""))
    page = html.unescape(re.sub(r"<[^>]+>", " ", (consortium["out"] / "report.html").read_text()))
    for text in (md, page):
        left = [m for m in re.findall(r".{0,40}\bregistr\w*.{0,20}", text, re.I | re.S)
                if "single-registry" not in m]
        assert not left, left[:3]
    for words in ("Against the pooled cohort's ", "consistent with the pooled cohort (", "beside the pooled estimate",
                  "pooled quantity", "when the bundles lack the data the estimate needs", "The pooled cohort has "):
        assert words in md, words
    assert "| AVN per 100 person-years |" in md and "Avn" not in md  # an abbreviation keeps its capitals
    # no AVN anywhere: every row of its meta-analysis reads "not estimable", and no empty forest plot is drawn
    figures = {p.stem for p in (consortium["out"] / "figures").iterdir()}
    assert "sites_forest_complications_avn_rate" not in figures and "sites_forest_complications_avn_rate" not in md
    assert "sites_forest_recurrence_rate" in figures and "sites_forest_recurrence_rate" in md
    assert "times in whole days" in md and "(1 days)" not in md
    svg = (consortium["out"] / "figures" / "claims_forest.svg").read_text(encoding="utf-8")
    assert "Pooled estimate and CI, by verdict" in svg and "Registry" not in svg


def test_the_words_the_pool_rewords_are_still_the_single_report_words() -> None:
    """Each phrase of POOLED_WORDS is still written by a builder of the single report (a phrase
    changed there would otherwise leave "registry" in the pooled report unnoticed)."""
    import inspect

    import toh.analyses.claims
    import toh.reports.document._claims_text
    import toh.reports.document._sections_data
    import toh.reports.document._sections_methods
    from toh.reports.document.pooled import POOLED_WORDS

    source = "".join(inspect.getsource(m) for m in (toh.analyses.claims, toh.reports.document._claims_text,
                                                    toh.reports.document._sections_data, toh.reports.document._sections_methods))
    source = re.sub(r'"\s*\n\s*f?"', "", source)  # adjacent string literals joined
    for single, _ in POOLED_WORDS:
        assert single in source, single


@pytest.mark.slow  # every pooled figure drawn and measured at both widths
@pytest.mark.parametrize("width", ["single", "double"])
def test_no_pooled_figure_text_runs_outside_its_canvas(consortium: dict, width: str) -> None:
    """The forest plots' titles name long estimands ("hazard ratio of resolution, treatment
    bisphosphonate" ran past a single column before they were wrapped)."""
    from figure_canvas import text_outside_the_canvas
    from toh.reports.document.pooled import pooled_view
    from toh.reports.figures._sites import pool_figure_specs
    from toh.reports.figures._style import figure_width
    from toh.reports.sites.pool import pool_bundles

    pooled, _ = pool_bundles(consortium["bundles"], 0, 1)
    inches = figure_width(width)
    specs = pool_figure_specs(pooled, pooled_view(pooled), inches)
    assert any(stem.startswith("sites_forest_resolution_cox_treatment") for stem in specs)
    from toh.reports.figures._style import figure_style, new_figure

    with figure_style():
        fig = new_figure(inches, specs["sites_forest_complications_avn_rate"][0])
        title = specs["sites_forest_complications_avn_rate"][1](fig).get_title(loc="left")
    assert title.startswith("AVN per 100"), title  # an abbreviation keeps its capitals
    assert text_outside_the_canvas(((stem, h, draw) for stem, (h, draw) in specs.items()), inches, width) == []


@pytest.mark.slow  # two bundles made from exports, and a pooled document
def test_a_pooled_hazard_ratio_of_a_small_group_is_not_shown(tmp_path: Path) -> None:
    """Two sites whose own small-cell rule is 0 ship the hazard ratio of a treatment given to six
    patients each, four of them without a birth date (so outside the Cox model: two patients
    each); the pooled report (rule 5) shows neither site's nor the pooled one, and draws
    neither, while a term comparing large groups is shown."""
    from pooling_helpers import write_sites
    from toh.cohort.derive import derive_cohort
    from toh.cohort.simulate import simulate_registry
    from toh.cohort.validate import validate_export
    from toh.reports.document._writer import Num
    from toh.reports.document.pooled import build_pool_document
    from toh.reports.sites.bundle import write_bundle
    from toh.reports.sites.pool import pool_bundles, site_bundle

    registry = simulate_registry(400, 7)
    labels = (registry.patients.index.to_numpy() % 2).astype(int)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, folder in write_sites(registry, labels, tmp_path).items():
            episodes = pd.read_csv(folder / "episodes.csv", dtype=str, keep_default_na=False)
            first = episodes.drop_duplicates("patient_id").index[:6]  # one episode of each of six patients
            episodes.loc[first, "treatment"] = "hbo"
            episodes.to_csv(folder / "episodes.csv", index=False)
            patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
            undated = patients["patient_id"].isin(episodes.loc[first[2:], "patient_id"])
            patients.loc[undated, ["birth_date", "birth_year"]] = ""
            patients.to_csv(folder / "patients.csv", index=False)
            report = validate_export(folder)
            paths.append(write_bundle(site_bundle(report, derive_cohort(report.tables), name, min_patients=1,
                                                  min_cell=0), tmp_path / f"{name}.tohb"))
        pooled, bundles = pool_bundles(paths, 0, 1)
        doc = build_pool_document(pooled, bundles, 5)
    assert "resolution.cox.treatment_hbo" in set(pooled.meta.sites["estimand"])  # the bundles carry it
    for bundle in bundles:  # six treated, as the Kaplan-Meier counts say, two in the model
        hbo = bundle.aggregates.cox.set_index("term").loc["treatment_hbo"]
        km = bundle.aggregates.survival
        assert km.loc[(km["variable"] == "treatment") & (km["stratum"] == "hbo"), ["n_event", "n_censor"]].sum().sum() >= 6
        assert hbo["n_group"] <= 2
    tables = {t.name: t for s in doc.sections for t in s.tables}

    def shown(table: str, label: str) -> list[bool]:
        return [not any(isinstance(f, Num) and f.suppressed for c in row for f in c)
                for row in tables[table].rows if row[0] == (label,)]

    hbo, men = "hazard ratio of resolution, treatment hbo", "hazard ratio of resolution, male"
    assert shown("sites_estimates", hbo) == [False, False] and shown("sites_meta_analysis", hbo) == [False, False]
    assert all(shown("sites_estimates", men)) and all(shown("sites_meta_analysis", men))
    figures = {f.name for s in doc.sections for f in s.figures}
    assert "sites_forest_resolution_cox_treatment_hbo" not in figures  # every row hidden: no figure at all
    assert "sites_forest_resolution_cox_male" in figures
