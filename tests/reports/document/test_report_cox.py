"""The Cox model as a reviewer reads it: labels, reference rows, units, n and events, the
proportional-hazards flag in the table and the sentence, the stratified model; declared extra
columns from the configuration to the report, their small levels pooled into "other"."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from report_builders import demo_export, report_config
from toh.reports.cli.build import build_report
from toh.reports.config import load_report_config


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_cox_table_has_labels_reference_rows_units_and_the_ph_test(demo_report: tuple[Path, list[str]]) -> None:
    out, _ = demo_report
    rows = _rows(out / "tables" / "resolution_cox.csv")
    assert rows[0] == ["covariate", "hazard ratio (95% CI)", "p", "proportional hazards, p"]
    counts = {r[0]: r[1] for r in rows if r[0].endswith(", n")}
    rows = [r for r in rows if not r[0].endswith(", n")]
    labels = [r[0] for r in rows[1:]]
    assert labels[:4] == ["Men (vs women)", "Age at onset, per 10 years", "Pregnancy-associated (vs not)",
                          "Treatment: conservative (reference)"]
    assert all(label.startswith("Treatment: ") and label.endswith("(vs conservative)") for label in labels[4:])
    reference = rows[4]
    assert reference[1:3] == ["1 (reference)", ""]
    assert reference[3].endswith("(rejected)")  # the demo's treatment breaks proportional hazards
    assert not any(cell == "0.000" for row in rows for cell in row)  # p below 0.001 reads "<0.001"
    results = json.loads((out / "data" / "results.json").read_text())["results"]
    text = (out / "report.md").read_text()
    assert counts["Index episodes in the model, n"] == f"{results['resolution.cox.n']:,}"
    assert counts["Resolutions in the model, n"] == f"{results['resolution.cox.events']:,}"
    assert "proportional hazards were rejected for treatment (cox.zph p " in text
    stratified = _rows(out / "tables" / "resolution_cox_stratified.csv")
    assert [r[0] for r in stratified[1:4]] == labels[:3]  # treatment is now the stratum
    assert "stratified by treatment" in text


@pytest.mark.slow  # a whole report build
def test_declared_columns_from_the_configuration_reach_the_report(tmp_path: Path) -> None:
    import shutil

    export = tmp_path / "export"
    shutil.copytree(demo_export(), export, ignore=shutil.ignore_patterns("*.json", "__*"))
    patients = pd.read_csv(export / "patients.csv", dtype=str, keep_default_na=False)
    patients["bmi"] = [f"{20 + (i * 7) % 15}.5" for i in range(len(patients))]
    patients["smoking"] = [("never", "former", "current")[i % 3] for i in range(len(patients))]
    patients.loc[:2, "smoking"] = "pipe"  # 3 patients: pooled into "other", never printed
    patients.to_csv(export / "patients.csv", index=False)
    config_file = tmp_path / "report.toml"
    config_file.write_text('[report]\nexport = "export"\nout = "out"\nformats = ["md"]\n'
                           '[analysis]\nbootstrap_draws = 0\nvalidation_date = 2026-01-01\n'
                           'strata = ["sex", "smoking"]\n'
                           'covariates = ["male", "age", "pregnancy_associated", "bmi"]\ncox_strata = ["smoking"]\n'
                           '[analysis.columns]\nbmi = { table = "patients", type = "number", per = 5, label = "BMI" }\n'
                           'smoking = { table = "patients", type = "category" }\n')
    config = load_report_config(config_file)
    build_report(config, log=lambda _: None, interactive=False)
    out = tmp_path / "out"
    text = (out / "report.md").read_text()
    assert "BMI, per 5" in text and "stratified by smoking" in text
    assert (out / "figures" / "km_resolution_smoking.png").exists()
    shown = "".join(p.read_text() for p in (out / "tables").glob("*.csv")) + text
    assert "pipe" not in shown.lower().replace("pipeline", "")
    assert "| smoking | other |" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["cox_strata"] == ["smoking"]


@pytest.fixture(scope="module")
def seven(tmp_path_factory: pytest.TempPathFactory):
    """The report document of the registry of 7 of the new-user check (fewer than 5 women)."""
    from report_builders import report_document
    from toh.cohort.simulate import simulate_registry, write_registry

    folder = tmp_path_factory.mktemp("seven") / "reg"
    write_registry(simulate_registry(7, 3), folder)
    return report_document(folder)


def _table(doc, name: str):
    return next(t for s in doc.sections for t in s.tables if t.name == name)


def test_a_hazard_ratio_of_a_small_group_is_not_shown(seven) -> None:
    """Among the model's complete cases fewer than 5 are women: the hazard ratio of men against
    women, its p and its proportional-hazards test are a statistic of that small group and are
    not shown; age, which compares no groups, is."""
    from toh.reports.document._writer import Num

    table = _table(seven, "resolution_cox")
    rows = {row[0][0]: row for row in table.rows}
    men = rows["Men (vs women)"]
    assert all(isinstance(c[0], Num) and c[0].suppressed and c[0].text == "not shown" for c in men[1:4]), men
    age = rows["Age at onset, per 10 years"]
    assert not age[1][0].suppressed and age[1][0].text[0].isdigit()
    assert "fewer than 5 patients of the model is not shown" in table.note


def test_a_test_comparing_a_small_group_is_not_shown(seven) -> None:
    """The log-rank and Gray's tests by sex compare fewer than 5 women: chi-square and p are not
    shown, the sentence does not say whether migration differed by sex, and the notes say why."""
    from toh.reports.document._writer import Num

    logrank = {row[0][0]: row for row in _table(seven, "resolution_logrank").rows}
    assert [c[0].text for c in (logrank["sex"][3], logrank["sex"][5])] == ["not shown", "not shown"]
    assert "fewer than 5 patients is not shown" in _table(seven, "resolution_logrank").note
    gray = [row for row in _table(seven, "gray_tests").rows if row[1][0] == "sex" and row[0][0] == "migration"]
    assert len(gray) == 1 and all(isinstance(c[0], Num) and c[0].suppressed for c in (gray[0][5], gray[0][7]))
    section = next(s for s in seven.sections if s.id == "recurrence")
    text = "".join(f.text if isinstance(f, Num) else str(f) for p in section.paragraphs for f in p)
    assert "Migration to the other hip" in text and "Gray's test" not in text
