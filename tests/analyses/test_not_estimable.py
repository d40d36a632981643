"""Partial exports: an absent table makes the estimates that need it "not estimable" (null plus a
reason), never zero; an empty table (header, no rows) is a real zero.

Built from the bundled demo export (400 patients) with one table removed or emptied; the analyses
run with 10 bootstrap draws (the intervals are not what is tested here).
"""

from __future__ import annotations

import datetime as dt
import shutil
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest

from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.result import blank_not_estimable
from toh.analyses.run import AnalysisOptions, CohortAnalysis, analyse_cohort
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export

DAY = dt.date(2026, 1, 1)


def _analyse(folder: Path) -> CohortAnalysis:
    report = load_valid_export(folder, validation_date=DAY)
    derived = derive_cohort(report.tables)
    assert derived.absent == report.absent
    return analyse_cohort(derived, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=10)))


def _export(tmp_path: Path, drop: str = "", empty: str = "", keep_modality: str = "") -> Path:
    folder = tmp_path / "export"
    shutil.copytree(Path(str(files("toh.cohort.demo"))), folder, ignore=shutil.ignore_patterns("*.json", "__*"))
    if drop:
        (folder / f"{drop}.csv").unlink()
    if empty:
        header = (folder / f"{empty}.csv").read_text(encoding="utf-8").splitlines()[0]
        (folder / f"{empty}.csv").write_text(header + "\n", encoding="utf-8")
    if keep_modality:
        exams = pd.read_csv(folder / "imaging.csv", dtype=str, keep_default_na=False)
        exams[exams["modality"] == keep_modality].to_csv(folder / "imaging.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def full() -> CohortAnalysis:
    return _analyse(Path(str(files("toh.cohort.demo"))))


def test_the_demo_is_estimable_where_the_partial_exports_are_not(full: CohortAnalysis) -> None:
    head = full.headline()
    assert head["complications.avn.all.n"] == 400 and head["radiographic.changed_8w.estimate"] is not None
    assert not any(k.startswith(("radiographic.", "complications.")) and k.endswith("not_estimable") for k in head)


def test_no_events_table_is_not_zero_events(tmp_path: Path, full: CohortAnalysis) -> None:
    analysis = _analyse(_export(tmp_path, drop="events"))
    head = analysis.headline()
    for outcome in ("fracture", "avn"):
        assert head[f"complications.{outcome}.not_estimable"] == "the export has no events table"
        for group in ("all", "pregnancy", "not_pregnancy"):
            for field in ("events", "n", "estimate", "rate_per_100py"):
                assert head[f"complications.{outcome}.{group}.{field}"] is None
        assert head[f"complications.{outcome}.risk_ratio_pregnancy.estimate"] is None
        # one reason per outcome: none of the follow-on "no event in the reference group"
        assert f"complications.{outcome}.risk_ratio_pregnancy.not_estimable" not in head
    claims = analysis.claims.claims.set_index("key")
    for key in ("fracture_rare", "fracture_pregnancy", "no_avn"):
        assert claims.loc[key, "verdict"] == "not assessable"
        assert claims.loc[key, "reason"] == "the export has no events table"
        assert head[f"claims.{key}.estimate"] is None
    # what does not need events is unchanged
    assert head["resolution.median.estimate_days"] == full.headline()["resolution.median.estimate_days"]
    assert claims.loc["sex_ratio", "verdict"] == full.claims.claims.set_index("key").loc["sex_ratio", "verdict"]
    assert set(analysis.tables()["not_estimable"]["key"]) == set(analysis.not_estimable)


def test_an_empty_events_table_is_a_real_zero(tmp_path: Path) -> None:
    analysis = _analyse(_export(tmp_path, empty="events"))
    head = analysis.headline()
    assert head["complications.avn.all.events"] == 0 and head["complications.avn.all.n"] == 400
    assert head["complications.avn.all.estimate"] == 0.0
    assert "complications.avn.not_estimable" not in head
    assert analysis.claims.claims.set_index("key").loc["no_avn", "verdict"] == "consistent"


@pytest.mark.parametrize("how", ["absent", "mri_only"])
def test_no_plain_films_make_radiographic_change_not_estimable(tmp_path: Path, how: str) -> None:
    folder = _export(tmp_path, drop="imaging") if how == "absent" else _export(tmp_path, keep_modality="MRI")
    head = _analyse(folder).headline()
    reason = head["radiographic.not_estimable"]
    assert reason == ("the export has no imaging table" if how == "absent"
                      else "no index episode has a plain film (XR) that is normal or abnormal")
    for weeks in (4, 8, 12):
        assert head[f"radiographic.changed_{weeks}w.estimate"] is None
    assert head["radiographic.weibull.median_days"] is None
    assert head["claims.films_by_8_weeks.verdict"] == "not assessable"
    if how == "absent":
        assert head["imaging.not_estimable"] == "the export has no imaging table"
        assert head["imaging.first_film.normal"] is None
    else:
        assert head["imaging.XR.not_estimable"] == "no XR examination of an index episode"
        assert head["imaging.MRI.t2_high.estimate"] is not None


def test_a_comparison_with_one_group_is_not_estimable(tmp_path: Path) -> None:
    folder = _export(tmp_path)
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    men = set(patients.loc[patients["sex"] == "M", "patient_id"])
    episodes = pd.read_csv(folder / "episodes.csv", dtype=str, keep_default_na=False)
    keep = episodes[episodes["patient_id"].isin(men)]
    for name, frame in (("patients", patients[patients["patient_id"].isin(men)]), ("episodes", keep)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    for name in ("imaging", "events"):
        rows = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        rows[rows["episode_id"].isin(set(keep["episode_id"]))].to_csv(folder / f"{name}.csv", index=False)
    head = _analyse(folder).headline()
    assert head["resolution.logrank.sex.p"] is None
    assert head["resolution.logrank.sex.not_estimable"].startswith("one group only of sex")
    assert head["demographics.sex_ratio.not_estimable"].startswith("no women")
    assert head["claims.sex_ratio.verdict"] == "not assessable"
    assert head["recurrence.gray.sex.not_estimable"].startswith("one group only")


def test_blanking_takes_whole_key_segments() -> None:
    head = {"a.b.n": 3, "a.b.x": 0, "a.bc.n": 5, "a.b": 1}
    out = blank_not_estimable(head, {"a.b": "why"})
    assert out == {"a.b.n": None, "a.b.x": None, "a.bc.n": 5, "a.b": None, "a.b.not_estimable": "why"}
    assert head["a.b.x"] == 0  # the input is not changed


def test_an_absent_table_stays_absent_in_the_derived_tables(tmp_path: Path) -> None:
    from toh.cohort.export import write_derived

    report = load_valid_export(_export(tmp_path, drop="imaging"), validation_date=DAY)
    derived = derive_cohort(report.tables)
    summary = derived.attrition_summary(report.rows).set_index(["table", "stage"])
    assert summary.loc[("imaging", "absent"), "description"] == "not in the export: nothing read"
    assert ("imaging", "read") not in summary.index
    assert summary.loc[("episodes", "radiographic"), "reason"] == "no_imaging_table"
    names = sorted(p.name for p in write_derived(derived, report.rows, tmp_path / "derived", "csv"))
    assert "imaging.csv" not in names and "events.csv" in names
