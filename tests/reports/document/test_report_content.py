"""What the report says: every section, numbers equal to results.json, suppression, no identifiers,
hostile text shown as text, CSV cells that never start a formula."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from report_builders import HOSTILE_COLUMN, HOSTILE_FORMULA, HOSTILE_IMG, REPORT_DAY, demo_export
from report_html import assert_shown_as_in_results, parse_report
from toh.reports.document._writer import TOTAL, Num, ReportDocument

SECTIONS = ["data", "attrition", "cohort", "demographics", "radiographic", "resolution", "recurrence",
            "complications", "imaging", "claims", "methods", "manifest"]
_SECTION_TITLES = {"data": "Data and validation", "attrition": "Attrition", "cohort": "Cohort description",
                   "demographics": "Sex ratio and age at onset", "radiographic": "Time to radiographic change",
                   "resolution": "Time to resolution", "recurrence": "Recurrence and migration",
                   "complications": "Insufficiency fracture and avascular necrosis", "imaging": "Imaging findings",
                   "claims": "Claims check", "methods": "Methods", "manifest": "Reproducibility manifest"}
FIGURES = ["age_by_sex", "radiographic_change", "km_resolution_all", "km_resolution_sex", "km_resolution_pregnancy",
           "km_resolution_treatment", "cif_recurrence_migration", "complications", "imaging_findings",
           "claims_forest"]


def test_every_number_in_the_report_is_the_one_in_results_json(demo_report: tuple[Path, list[str]]) -> None:
    out, _ = demo_report
    results = json.loads((out / "data" / "results.json").read_text())["results"]
    spans = parse_report(out / "report.html").numbers
    shown = [s for s in spans if "data-suppressed" not in s]
    assert len({s["data-key"] for s in shown}) >= 60  # the sentences quote at least 60 headline numbers
    assert_shown_as_in_results(shown, results)
    md = (out / "report.md").read_text()
    for span in shown:
        assert span["text"] in md  # the Markdown shows the same texts


def test_the_pdf_says_what_the_html_says(demo_report: tuple[Path, list[str]]) -> None:
    from pypdf import PdfReader

    out, _ = demo_report
    page = parse_report(out / "report.html")
    reader = PdfReader(out / "report.pdf")
    title = reader.pages[0].extract_text().splitlines()[0]

    def body(lines: list[str]) -> list[str]:  # without the running header (title) and footer (page number)
        lines = lines[1:] if lines and lines[0] == title else lines
        return lines[:-1] if lines and re.fullmatch(r"\d+ / \d+", lines[-1]) else lines

    text = " ".join(" ".join(" ".join(body(p.extract_text().splitlines())).split()) for p in reader.pages)
    assert [o.title for o in reader.outline] == [_SECTION_TITLES[s] for s in SECTIONS]
    assert len(page.paragraphs) >= 19  # one or more per section, seven in the methods
    for paragraph in page.paragraphs:  # every sentence, with its numbers, word for word
        assert " ".join(paragraph.split()) in text, paragraph


def test_the_report_has_every_section_figure_and_format(demo_report: tuple[Path, list[str]]) -> None:
    out, log = demo_report
    page = parse_report(out / "report.html")
    assert page.sections == SECTIONS
    assert [i["data-figure"] for i in page.images] == FIGURES
    assert all(i["src"].startswith("data:image/svg+xml;base64,") for i in page.images)  # embedded, no link
    assert {"table1", "attrition", "validation_files", "claims", "resolution_medians", "radiographic_at",
            "cumulative_incidence", "complications", "imaging_findings", "manifest_inputs"} <= set(page.tables)
    md = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"(figures/{name}.png)" in md and (out / "figures" / f"{name}.png").is_file()
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    for name in ("table1", "claims", "attrition"):
        assert {p.suffix for p in (out / "tables").glob(f"{name}.*")} == {".csv", ".tex", ".html"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "toh-report" and manifest["config"]["bootstrap_draws"] == 20
    assert set(manifest["provenance"]["inputs_sha256"]) == {"patients.csv", "episodes.csv", "imaging.csv",
                                                             "events.csv"}
    assert "report.html" in manifest["outputs_sha256"]
    steps = [line.split("toh report: ")[1].split()[0] for line in log if re.search(r" \d+\.\d\d s", line)]
    assert steps == ["inputs", "validate", "derive", "analyse", "figures", "html", "pdf", "markdown", "tables"]


def test_methods_state_the_options_used(demo_report: tuple[Path, list[str]]) -> None:
    text = (demo_report[0] / "report.md").read_text()
    assert "20 bootstrap resamples" in text and "seed 20240229" in text
    assert "Efron" in text and "log(-log)" in text and "Clopper-Pearson" in text
    assert f"validated on {REPORT_DAY.isoformat()}" in text


def _numbers(doc: ReportDocument) -> list[Num]:
    cells = [f for s in doc.sections for p in s.paragraphs for f in p]
    cells += [f for s in doc.sections for t in s.tables for row in t.rows for c in row for f in c]
    return [f for f in cells if isinstance(f, Num)]


@pytest.mark.parametrize("min_cell", [5, pytest.param(100, marks=pytest.mark.slow), pytest.param(10_000, marks=pytest.mark.slow)])
def test_no_small_count_is_shown(min_cell: int) -> None:
    from toh.analyses.baseline import analyse_baseline
    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort
    from toh.cohort.derive import derive_cohort
    from toh.cohort.validate import validate_export
    from toh.reports.document import build_document
    from toh.reports.manifest import provenance

    report = validate_export(demo_export(), validation_date=REPORT_DAY)
    derived = derive_cohort(report.tables)
    analysis = analyse_cohort(derived, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0)))
    doc = build_document("t", report, derived, analysis, analyse_baseline(derived),
                         provenance(demo_export(), report.files, None, {}), {}, min_cell)
    numbers = _numbers(doc)
    counts = [n for n in numbers if n.kind == "count" and n.cell != TOTAL]  # the registry's size is always said
    assert counts and all(not (0 < n.value < min_cell) for n in counts if not n.suppressed)
    # a small count shows "<min_cell" (or "not shown" where the audit masks its label); a larger one
    # hidden by the audit (secondary) "not shown"
    masked = doc.protection.masked
    assert all(n.text == (f"<{min_cell}" if 0 < n.value < min_cell and n.cell not in masked else "not shown")
               for n in counts if n.suppressed)
    hidden = [n for n in numbers if n.suppressed]
    assert len(hidden) > (0 if min_cell == 5 else 50)
    # Table 1: no "n (%)" cell below min_cell
    table1 = next(t for s in doc.sections for t in s.tables if t.name == "table1")
    for row in table1.rows:
        for cell in row[2:]:
            match = re.fullmatch(r"(\d+) \([\d.]+\)", cell[0] if isinstance(cell[0], str) else "")
            assert match is None or not (0 < int(match.group(1)) < min_cell)
    if min_cell == 10_000:  # every share rests on a hidden count, so no estimate of a share is shown
        claims = next(t for s in doc.sections for t in s.tables if t.name == "claims")
        shares = {"sex_ratio", "men_40_55", "women_pregnancy", "third_trimester", "one_hip", "fracture_rare", "no_avn"}
        for row, key in zip(claims.rows, analysis.claims.claims["key"]):
            if key in shares:
                assert all(f.suppressed for f in row[4] if isinstance(f, Num)), key


def test_figures_of_the_report_hide_small_counts(demo_report: tuple[Path, list[str]]) -> None:
    figures = demo_report[0] / "figures"
    claims = (figures / "claims_forest.svg").read_text()  # matplotlib keeps each text as an SVG comment
    # no_avn: 2 of 400 in the demo; third_trimester: 43 of 49 pregnant women, hidden by the audit
    # because trimesters 1 (<5) and 2 (5) would otherwise give trimester 1 back as 49 - 43 - 5
    assert claims.count("<!-- not shown: a count below 5 -->") == 2
    assert "not estimable" not in claims
    assert "<!-- not shown: a count below 5 -->" in (figures / "complications.svg").read_text()
    assert "<!-- &lt;5 -->" in (figures / "km_resolution_all.svg").read_text()  # numbers at risk


def test_no_identifier_or_birth_date_in_any_output(demo_report: tuple[Path, list[str]]) -> None:
    out, _ = demo_report
    export = demo_export()
    ids = set()
    for table, column in (("patients", "patient_id"), ("episodes", "episode_id"), ("imaging", "exam_id"),
                          ("events", "event_id")):
        ids |= set(pd.read_csv(export / f"{table}.csv", dtype=str)[column])
    births = set(pd.read_csv(export / "patients.csv", dtype=str)["birth_date"].dropna())
    checked = 0
    for path in out.rglob("*"):
        if path.suffix not in {".html", ".md", ".csv", ".json", ".tex", ".svg"}:
            continue
        text = path.read_text(encoding="utf-8")
        tokens = set(re.findall(r"[A-Z]\d{7}", text))
        assert not tokens & ids, path
        dates = set(re.findall(r"\d{4}-\d{2}-\d{2}", text))
        assert not (dates - {REPORT_DAY.isoformat()}) & births, path
        checked += 1
    assert checked > 50


def test_hostile_text_is_shown_as_text_never_run(hostile_report: Path) -> None:
    html = (hostile_report / "report.html").read_text()
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;toh&#34;)&lt;/script&gt;" in html  # the extra column's name, escaped
    assert "Report &lt;img src=x onerror=alert(1)&gt;" in html  # the title from the configuration
    md = (hostile_report / "report.md").read_text()
    assert "<script" not in md and "&lt;script&gt;" in md and "<img" not in md
    tex = (hostile_report / "tables" / "validation_summary.tex").read_text()
    assert HOSTILE_COLUMN not in tex and r"\textless{}script\textgreater{}" in tex


def _cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_no_csv_cell_starts_a_formula(hostile_report: Path) -> None:
    paths = sorted(hostile_report.rglob("*.csv"))
    assert len(paths) > 40
    seen_hostile = False
    for path in paths:
        for cell in _cells(path):
            seen_hostile |= HOSTILE_FORMULA in cell
            if cell[:1] in {"=", "+", "-", "@"}:
                float(cell)  # only a number may start with a sign (a spreadsheet reads it as a number)
    assert seen_hostile  # the formula column is reported, defused
    assert HOSTILE_IMG not in (hostile_report / "report.html").read_text()


def test_no_na_cells_estimates_without_an_interval_say_so() -> None:
    """Where R gives NA limits (a Kaplan-Meier curve at 0) the cell shows the estimate and "no
    interval"; where there is no estimate at all, "not estimable"; never "NA to NA"."""
    from toh.reports.document._writer import NO_INTERVAL, Writer, plain_text

    w = Writer({"e": 0.0, "l": None, "u": None, "x": None}, 5)
    assert plain_text(w.cell_ci(0.0, float("nan"), float("nan"), 1, 100.0)) == f"0.0 ({NO_INTERVAL})"
    assert plain_text(w.cell_ci(float("nan"), float("nan"), float("nan"), 1)) == "not estimable"
    assert plain_text(w.ci("e", "l", "u", 1, 100.0, "%")) == f"0.0% (95% CI {NO_INTERVAL})"
    assert plain_text(w.ci("x", "l", "u", 1)) == "not estimable"
    assert plain_text(w.cell_ci(0.5, 0.2, float("nan"), 2)) == "0.50 (0.20 to NA)"  # an open bound stays NA


def test_the_demo_report_has_no_na_to_na(demo_report: tuple[Path, list[str]]) -> None:
    out, _ = demo_report
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "NA to NA" not in markdown and "(NA" not in markdown
    assert "no interval" in markdown  # the demo has curves that reach 0 (R's NA limits)


def test_the_manifest_never_prints_python_words(demo_report: tuple[Path, list[str]]) -> None:
    """No setting of the manifest reads "None", "nan" or nothing: an unset one (a config without a
    validation date) reads "not set", an empty list (no declared column) "none"."""
    from toh.reports.document._sections_methods import _setting

    out, _ = demo_report
    settings = pd.read_csv(out / "tables" / "manifest_settings.csv", dtype=str, keep_default_na=False)
    assert not settings["value"].isin(["None", "nan", "NaN", ""]).any(), settings.to_string()
    assert settings.set_index("setting").loc["config.columns", "value"] == "none"
    assert (_setting(None), _setting([]), _setting(["sex", "treatment"]), _setting(5)) == (
        "not set", "none", "sex, treatment", "5")
