"""Imaging findings on the hand-built base export (counts worked out by hand) and the full
pipeline's API on the R reference cohort (the verdict rules are in test_claims.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toh.analyses.imaging import FINDINGS_BY_MODALITY, analyse_imaging
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from budget import examples
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


def _first_exams_by_pandas(index_ids: list[str], exams: pd.DataFrame) -> tuple[dict, dict]:
    """The reference: each index episode's first examination of a modality found by pandas'
    sort and drop_duplicates (what the analysis did before it sorted in Arrow)."""
    on_index = exams[exams["episode_id"].astype(object).isin(set(index_ids))]
    on_index = on_index.sort_values(["episode_id", "day", "exam_id"])
    counts, status = {}, {}
    for modality, findings in FINDINGS_BY_MODALITY.items():
        mine = on_index[on_index["modality"] == modality]
        firsts = mine.drop_duplicates("episode_id")
        for finding in findings:
            values = firsts[finding]
            counts[(modality, finding)] = (len(firsts), int(values.notna().sum()), int(values.fillna(False).sum()))
        counts[modality] = (len(mine), int(mine["episode_id"].nunique()))
    films = on_index[on_index["modality"] == "XR"].drop_duplicates("episode_id")
    status = films["film_status"].astype(object).value_counts().to_dict()
    return counts, status


@settings(max_examples=examples(100), deadline=None)
@given(st.data())
def test_each_episode_is_read_on_its_first_exam_whatever_the_rows_order(data: st.DataObject) -> None:
    """Shuffled rows, tied days (the exam_id decides), episodes outside the cohort: the counts are
    those of the first examination of each index episode and modality, found by pandas."""
    from toh.cohort.derive import DerivedCohort
    from toh.cohort.attrition import ledger
    from toh.cohort.definitions import Definitions

    text = pd.StringDtype("pyarrow", na_value=float("nan"))
    n = data.draw(st.integers(0, 30))
    optional = st.one_of(st.none(), st.booleans())
    exams = pd.DataFrame({
        "exam_id": pd.Series([f"X{i}" for i in data.draw(st.permutations(range(n)))], dtype=text),
        "episode_id": pd.Series(data.draw(st.lists(st.sampled_from(["E1", "E2", "E3", "E9"]), min_size=n, max_size=n)),
                                dtype=text),
        "modality": pd.Series(data.draw(st.lists(st.sampled_from(["XR", "MRI", "NM", "CT"]), min_size=n, max_size=n)),
                              dtype=text),
        "day": data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
        "edema_extent": pd.Series(data.draw(st.lists(st.sampled_from(["neck", None]), min_size=n, max_size=n)),
                                  dtype=text),
        "film_status": pd.Categorical(data.draw(st.lists(st.sampled_from(["normal", "abnormal", "indeterminate"]),
                                                         min_size=n, max_size=n)),
                                      categories=["abnormal", "normal", "indeterminate"]),
    }).astype({"day": float})
    for finding in {f for findings in FINDINGS_BY_MODALITY.values() for f in findings}:
        exams[finding] = pd.array(data.draw(st.lists(optional, min_size=n, max_size=n)), dtype="boolean")
    index_ids = ["E1", "E2", "E3"]
    index = pd.DataFrame({"index_episode_id": pd.Series(index_ids, dtype=text)})
    cohort = DerivedCohort(episodes=pd.DataFrame(), index=index, imaging=exams, events=pd.DataFrame(),
                           attrition=ledger([]), definitions=Definitions())
    result = analyse_imaging(cohort)
    counts, status = _first_exams_by_pandas(index_ids, exams)
    for row in result.findings.itertuples():
        assert (row.episodes, row.recorded, row.positive) == counts[(row.modality, row.finding)]
    for row in result.modalities.itertuples():
        assert (row.exams, row.episodes) == counts[row.modality]
    assert {k: v for k, v in result.first_film.set_index("status")["n"].items() if v} == status
