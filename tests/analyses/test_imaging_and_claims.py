"""Imaging findings on the hand-built base export (counts worked out by hand) and the full
pipeline's API on the R reference cohort (the verdict rules are in test_claims.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toh.analyses.imaging import analyse_imaging
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from builders import BASE_EXPORT, VALIDATION_DATE, cohort_from_index, write_export
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export

HERE = Path(__file__).parent


def test_imaging_findings_by_hand(tmp_path: Path) -> None:
    report = load_valid_export(write_export(tmp_path / "x", BASE_EXPORT), validation_date=VALIDATION_DATE)
    result = analyse_imaging(derive_cohort(report.tables))
    f = result.findings.set_index(["modality", "finding"])
    # Index episodes E1 and E6; the unit is the episode, read on its first film of each modality.
    # XR films of E1: X1 (day 14; osteopenia false, subchondral false, joint space true), X2, X3
    # (osteopenia true, a later film: not counted); of E6: X5 (false, false, joint space empty).
    # X6 belongs to E7 (no cohort).  Osteopenia: 2 episodes, recorded on both first films, true on none.
    assert tuple(f.loc[("XR", "osteopenia"), ["episodes", "recorded", "positive"]]) == (2, 2, 0)
    assert tuple(f.loc[("XR", "subchondral_cortical_loss"), ["recorded", "positive"]]) == (2, 0)
    assert tuple(f.loc[("XR", "joint_space_preserved"), ["recorded", "positive"]]) == (1, 1)
    assert tuple(f.loc[("MRI", "t2_high"), ["episodes", "recorded", "positive"]]) == (1, 1, 1)
    assert f.loc[("XR", "osteopenia"), "estimate"] == 0.0
    edema = result.edema_extent.set_index("extent")["n"]
    assert edema["neck"] == 1 and edema.sum() == 1
    # First plain film of E1 (X1, day 14) and of E6 (X5, day 14) are both normal.
    assert result.first_film.set_index("status")["n"].to_dict() == {"normal": 2, "abnormal": 0, "indeterminate": 0}


def test_pipeline_on_the_reference_cohort() -> None:
    index = pd.read_csv(HERE / "data" / "ref_index.csv")
    cohort = cohort_from_index(index)
    imaging_free = cohort.__class__(episodes=cohort.episodes, index=cohort.index,
                                    imaging=pd.DataFrame(columns=["episode_id", "modality", "day", "film_status",
                                                                  "exam_id"]),
                                    events=cohort.events, attrition=cohort.attrition, definitions=cohort.definitions)
    analysis = analyse_cohort(imaging_free, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=20)))
    head = analysis.headline()
    assert list(head) == sorted(head)
    # headline numbers are the tables' numbers (R-checked in the other tests)
    assert head["resolution.median.estimate_days"] == 190
    assert head["demographics.share_men.x"] == 1152
    claims = analysis.claims.claims.set_index("key")
    assert claims.loc["sex_ratio", "verdict"] == "consistent"  # 3 is inside (2.94, 3.73)
    assert set(claims["verdict"]) <= {"consistent", "not consistent", "inconclusive", "not assessable"}
    # the reference index records no trimester: the claim cannot be assessed, with the reason
    assert claims.loc["third_trimester", "verdict"] == "not assessable"
    assert head["demographics.pregnant_in_trimester_3.estimate"] is None
    assert "denominator" in head["demographics.pregnant_in_trimester_3.not_estimable"]
    assert "claims" in repr(analysis)
