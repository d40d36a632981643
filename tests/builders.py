"""A small valid canonical export, built in code, that tests break one cell at a time."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd

#: Day the tests validate on, so "no date in the future" never depends on the clock.
VALIDATION_DATE = dt.date(2025, 6, 30)

BASE_EXPORT: dict[str, str] = {
    "patients": """\
patient_id,sex,birth_date,birth_year,death_date,site
P1,M,1970-01-01,,,A
P2,F,,1990,2021-06-01,B
P3,M,1960-01-01,,,A
""",
    "episodes": """\
episode_id,patient_id,joint,side,onset_date,diagnosis_date,pregnancy,trimester,treatment,resolution_date,last_followup_date
E1,P1,hip,L,2020-01-01,2020-01-10,,,conservative,2020-07-19,2022-01-01
E2,P1,hip,R,2020-01-21,,,,conservative,2020-08-01,2022-01-01
E3,P1,hip,L,2021-01-01,,,,conservative,,2022-01-01
E4,P1,knee,R,2021-03-01,,,,,,2022-01-01
E5,P2,knee,L,2019-05-01,,none,,,2019-09-01,2021-12-01
E6,P2,hip,R,2020-03-01,,pregnant,3,bisphosphonate,,2021-12-01
E7,P3,knee,L,2019-05-01,,,,,,2021-12-01
""",
    "imaging": """\
exam_id,episode_id,exam_date,modality,osteopenia,subchondral_cortical_loss,joint_effusion,joint_space_preserved,t1_low,t2_high,edema_extent,uptake_increased
X1,E1,2020-01-15,XR,false,false,,true,,,,
X2,E1,2020-02-05,XR,false,,,true,,,,
X3,E1,2020-02-19,XR,true,,,true,,,,
X4,E1,2020-01-16,MRI,,,,,true,true,neck,
X5,E6,2020-03-15,XR,false,false,,,,,,
X6,E7,2019-06-01,XR,true,true,,,,,,
""",
    "events": """\
event_id,episode_id,event_date,event_type
V1,E6,2020-04-01,insufficiency_fracture
V2,E6,2020-05-01,subcapital_fracture
V3,E1,2020-03-01,surgery
V4,E6,2021-06-01,death
""",
}


def write_export(folder: Path, tables: dict[str, str]) -> Path:
    """Write CSV texts (table -> text) into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def set_cell(tables: dict[str, str], table: str, record: int, column: str, value: str) -> dict[str, str]:
    """A copy of ``tables`` with one cell of ``table`` replaced (record 0 = first data row)."""
    frame = pd.read_csv(io.StringIO(tables[table]), dtype=str, keep_default_na=False)
    frame.loc[record, column] = value
    out = dict(tables)
    out[table] = frame.to_csv(index=False, lineterminator="\n")
    return out




def cohort_from_index(index: "pd.DataFrame"):
    """A DerivedCohort holding only an index table (what the index-level analyses read)."""
    from toh.cohort.attrition import ledger
    from toh.cohort.definitions import Definitions
    from toh.cohort.derive import DerivedCohort

    empty = pd.DataFrame()
    return DerivedCohort(episodes=empty, index=index, imaging=empty, events=empty, attrition=ledger([]),
                         definitions=Definitions())
