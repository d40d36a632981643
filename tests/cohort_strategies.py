"""A hypothesis strategy of valid typed cohort tables, shared by the derivation's property tests."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import strategies as st

__all__ = ["cohorts", "START"]

START = pd.Timestamp(dt.date(2015, 1, 1))
JOINTS = ["hip", "hip", "hip", "knee", "ankle", "foot", "other"]
EVENTS = ["insufficiency_fracture", "subcapital_fracture", "avascular_necrosis", "surgery", "death", "other"]


@st.composite
def cohorts(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Valid typed tables (every cross-table rule holds), rows in any order, with ties in onset,
    pregnancy, sites and deaths."""
    patients, episodes, imaging, events = [], [], [], []
    ids = draw(st.permutations(range(8)))
    for p in ids[: draw(st.integers(0, 8))]:
        pid = f"P{p}"
        sex = draw(st.sampled_from(["M", "F"]))
        death = draw(st.one_of(st.none(), st.integers(0, 2500)))
        onsets = []
        for e in draw(st.permutations(range(5)))[: draw(st.integers(0, 5))]:
            eid = f"{pid}E{e}"
            onset = draw(st.sampled_from([0, 10, 40, 400]) | st.integers(0, 1500))
            onsets.append(onset)
            length = draw(st.integers(0, 800))
            resolved = draw(st.one_of(st.none(), st.integers(0, length)))
            joint = draw(st.sampled_from(JOINTS))
            side = draw(st.sampled_from(["L", "R"] if joint == "hip" else ["L", "R", None]))
            pregnancy = draw(st.sampled_from([None, "none", "pregnant", "postpartum"])) if sex == "F" else None
            day0 = START + pd.Timedelta(days=onset)
            episodes.append({
                "episode_id": eid, "patient_id": pid, "joint": joint, "side": side, "onset_date": day0,
                "pregnancy": pregnancy,
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
                               "event_type": draw(st.sampled_from(EVENTS))})
        latest = START + pd.Timedelta(days=max(onsets, default=0))
        for event in events:  # a death before one of the patient's onsets is invalid (validation rejects it)
            if event["episode_id"].startswith(f"{pid}E") and event["event_type"] == "death" \
                    and event["event_date"] < latest:
                event["event_type"] = "other"
        patients.append({"patient_id": pid, "sex": sex, "birth_date": pd.Timestamp("1970-01-01"),
                         "death_date": pd.NaT if death is None else latest + pd.Timedelta(days=death),
                         "site": draw(st.sampled_from(["A", "B", None]))})

    def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=columns)
        for column in columns:
            if column.endswith("_date"):
                out[column] = out[column].astype("datetime64[ns]")
        out.index = pd.RangeIndex(2, len(out) + 2, name="row")
        return out

    img = frame(imaging, ["exam_id", "episode_id", "exam_date", "modality", "osteopenia",
                          "subchondral_cortical_loss"])
    for col in ("osteopenia", "subchondral_cortical_loss"):
        img[col] = img[col].astype("boolean")
    return {
        "patients": frame(patients, ["patient_id", "sex", "birth_date", "death_date", "site"]),
        "episodes": frame(episodes, ["episode_id", "patient_id", "joint", "side", "onset_date", "pregnancy",
                                     "resolution_date", "last_followup_date"]),
        "imaging": img,
        "events": frame(events, ["event_id", "episode_id", "event_date", "event_type"]),
    }
