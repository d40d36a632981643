"""Property-based tests: on any valid cohort, derivation neither loses nor duplicates a row."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort.derive import derive_cohort

START = dt.date(2015, 1, 1)
JOINTS = ["hip", "hip", "hip", "knee", "ankle", "foot", "other"]


@st.composite
def cohorts(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Valid typed tables: 1-6 patients, 0-5 episodes each, films and events inside follow-up."""
    patients, episodes, imaging, events = [], [], [], []
    for p in range(draw(st.integers(1, 6))):
        pid = f"P{p}"
        death = draw(st.one_of(st.none(), st.integers(0, 2000)))  # days after the latest onset
        first_episode = len(episodes)
        for e in range(draw(st.integers(0, 5))):
            eid = f"{pid}E{e}"
            onset = draw(st.integers(0, 1500))
            length = draw(st.integers(0, 800))
            resolved = draw(st.one_of(st.none(), st.integers(0, length)))
            joint = draw(st.sampled_from(JOINTS))
            side = draw(st.sampled_from(["L", "R"] if joint == "hip" else ["L", "R", None]))
            day0 = pd.Timestamp(START) + pd.Timedelta(days=onset)
            episodes.append({
                "episode_id": eid, "patient_id": pid, "joint": joint, "side": side, "onset_date": day0,
                "resolution_date": pd.NaT if resolved is None else day0 + pd.Timedelta(days=resolved),
                "last_followup_date": day0 + pd.Timedelta(days=length),
            })
            for f in range(draw(st.integers(0, 4))):
                finding = st.sampled_from([True, False, None])
                imaging.append({"exam_id": f"{eid}X{f}", "episode_id": eid,
                                "exam_date": day0 + pd.Timedelta(days=draw(st.integers(0, length))),
                                "modality": draw(st.sampled_from(["XR", "XR", "MRI", "NM"])),
                                "osteopenia": draw(finding), "subchondral_cortical_loss": draw(finding)})
            for v in range(draw(st.integers(0, 2))):
                events.append({"event_id": f"{eid}V{v}", "episode_id": eid,
                               "event_date": day0 + pd.Timedelta(days=draw(st.integers(0, length))),
                               "event_type": draw(st.sampled_from(["insufficiency_fracture", "subcapital_fracture",
                                                                   "avascular_necrosis", "surgery", "other"]))})
        onsets = [e["onset_date"] for e in episodes[first_episode:]] or [pd.Timestamp(START)]
        patients.append({"patient_id": pid, "sex": draw(st.sampled_from(["M", "F"])),
                         "birth_date": pd.Timestamp("1970-01-01"),
                         "death_date": pd.NaT if death is None else max(onsets) + pd.Timedelta(days=death)})

    def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=columns)
        for column in columns:
            if column.endswith("_date"):
                out[column] = out[column].astype("datetime64[ns]")
        out.index = pd.RangeIndex(2, len(out) + 2, name="row")
        return out

    img = frame(imaging, ["exam_id", "episode_id", "exam_date", "modality", "osteopenia", "subchondral_cortical_loss"])
    for col in ("osteopenia", "subchondral_cortical_loss"):
        img[col] = img[col].astype("boolean")
    return {
        "patients": frame(patients, ["patient_id", "sex", "birth_date", "death_date"]),
        "episodes": frame(episodes, ["episode_id", "patient_id", "joint", "side", "onset_date",
                                     "resolution_date", "last_followup_date"]),
        "imaging": img,
        "events": frame(events, ["event_id", "episode_id", "event_date", "event_type"]),
    }


KEYS = {"patients": "patient_id", "episodes": "episode_id", "imaging": "exam_id", "events": "event_id"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_every_row_reaches_the_cohort_or_the_ledger_exactly_once(tables: dict[str, pd.DataFrame]) -> None:
    derived = derive_cohort(tables)
    left = derived.attrition[derived.attrition["stage"] == "cohort"]
    reached = {
        "patients": derived.index["patient_id"],
        "episodes": derived.episodes["episode_id"],
        "imaging": derived.imaging["exam_id"],
        "events": derived.events["event_id"],
    }
    for table, key in KEYS.items():
        out = left.loc[left["table"] == table, "record_id"]
        combined = pd.concat([reached[table].astype(str), out], ignore_index=True)
        assert not combined.duplicated().any(), table
        assert set(combined) == set(tables[table][key]), table


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
def test_relations_are_consistent(tables: dict[str, pd.DataFrame]) -> None:
    derived = derive_cohort(tables)
    ep = derived.episodes
    # exactly one index episode per cohort patient, and it is the earliest hip episode
    assert ep.groupby("patient_id")["is_index"].sum().eq(1).all()
    hips = ep[ep["joint"] == "hip"].sort_values(["patient_id", "onset_date", "episode_id"])
    first = hips.drop_duplicates("patient_id")["episode_id"]
    assert set(first) == set(ep.loc[ep["is_index"], "episode_id"])
    # bilateral episodes are opposite hips within the window; prior ones start before the index
    bil = ep[ep["relation"] == "bilateral"]
    assert (bil["joint"] == "hip").all() and (bil["days_from_index"] <= 30).all()
    assert (ep.loc[ep["relation"] == "prior", "days_from_index"] <= 0).all()
    # radiographic intervals are ordered; event times are never negative
    films = ep[ep["xr_films"] > 0]
    assert (films["xr_lower_day"] <= films["xr_upper_day"]).all()
    for column in ("resolution_days", "fracture_days", "avn_days", "followup_days"):
        assert (ep[column] >= 0).all(), column
    index = derived.index
    assert set(index["recurrence_status"]) <= {0, 1, 2} and (index["migration_days"] >= 0).all()
    assert len(index) == ep["patient_id"].nunique()
