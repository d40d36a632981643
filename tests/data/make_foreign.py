"""Build the foreign-layout exports in tests/data/foreign from the canonical base export.

Run from the project root: ``.venv/bin/python tests/data/make_foreign.py``.  It writes

* ``csv/``: semicolon-separated files with the registry's own file names, column names and
  codes (sex 1/2, Left/Right, yes/no findings, Dutch joint names), dd/mm/yyyy dates, and an
  onset date column in yyyymmdd;
* ``registry.xlsx``: the same tables as sheets with other names; dates are typed date cells in
  the patients sheet and dd/mm/yyyy text elsewhere (both occur in real workbooks);
* ``mapping.toml`` / ``mapping_xlsx.toml``: the mapping files that load them.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent / "foreign"
sys.path.insert(0, str(Path(__file__).parents[1]))
from builders import BASE_EXPORT  # noqa: E402

COLUMNS = {
    "patients": {"patient_id": "PatNr", "sex": "Geslacht", "birth_date": "GebDatum",
                 "birth_year": "GebJaar", "death_date": "OverlDatum", "site": "Centrum"},
    "episodes": {"episode_id": "EpisodeNr", "patient_id": "PatNr", "joint": "Gewricht", "side": "Zijde",
                 "onset_date": "Begin", "diagnosis_date": "Diagnose", "pregnancy": "Zwanger",
                 "trimester": "Trimester", "treatment": "Behandeling", "resolution_date": "Herstel",
                 "last_followup_date": "LaatsteControle"},
    "imaging": {"exam_id": "OnderzoekNr", "episode_id": "EpisodeNr", "exam_date": "Datum",
                "modality": "Techniek", "osteopenia": "Osteopenie", "subchondral_cortical_loss": "CortexVerlies",
                "joint_effusion": "Effusie", "joint_space_preserved": "GewrichtsspleetIntact",
                "t1_low": "T1Laag", "t2_high": "T2Hoog", "edema_extent": "Oedeem", "uptake_increased": "Opname"},
    "events": {"event_id": "GebeurtenisNr", "episode_id": "EpisodeNr", "event_date": "Datum",
               "event_type": "Soort"},
}
VALUES = {
    "patients": {"sex": {"M": "1", "F": "2"}},
    "episodes": {"joint": {"hip": "heup", "knee": "knie"}, "side": {"L": "Left", "R": "Right"},
                 "pregnancy": {"none": "nee", "pregnant": "zwanger"}},
    "imaging": {"modality": {"XR": "RX", "MRI": "MRI"}},
    "events": {"event_type": {"insufficiency_fracture": "insuff. fractuur", "subcapital_fracture": "subcap. fractuur",
                              "surgery": "operatie", "death": "overleden"}},
}
FILES = {"patients": "patienten.csv", "episodes": "episodes.csv", "imaging": "beeldvorming.csv",
         "events": "gebeurtenissen.csv"}
SHEETS = {"patients": "Patienten", "episodes": "Episodes", "imaging": "Beeldvorming", "events": "Gebeurtenissen"}
BOOLEANS = {"true": "ja", "false": "nee", "": ""}


def foreign(table: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(BASE_EXPORT[table]), dtype=str, keep_default_na=False)
    for column in frame.columns:
        if column.endswith("_date"):
            fmt = "%Y%m%d" if column == "onset_date" else "%d/%m/%Y"
            parsed = pd.to_datetime(frame[column].replace("", None), format="%Y-%m-%d")
            frame[column] = parsed.dt.strftime(fmt).fillna("")
        elif column in ("osteopenia", "subchondral_cortical_loss", "joint_effusion", "joint_space_preserved",
                        "t1_low", "t2_high", "uptake_increased"):
            frame[column] = frame[column].map(BOOLEANS)
        codes = VALUES.get(table, {}).get(column)
        if codes:
            frame[column] = frame[column].map(lambda v, c=codes: c.get(v, v))
    return frame.rename(columns=COLUMNS[table])


def mapping_text(workbook: bool) -> str:
    lines = ['[export]', 'date_format = "%d/%m/%Y"', 'missing = ["", "NA", "onbekend"]']
    if not workbook:
        lines.append('delimiter = ";"')
    lines += ["", "[booleans]", 'true = ["ja"]', 'false = ["nee"]']
    for table, columns in COLUMNS.items():
        lines += ["", f"[tables.{table}]"]
        lines.append(f'sheet = "{SHEETS[table]}"' if workbook else f'file = "{FILES[table]}"')
        lines += [f"[tables.{table}.columns]"] + [f'{c} = "{s}"' for c, s in columns.items()]
        for column, codes in VALUES.get(table, {}).items():
            lines += [f"[tables.{table}.values.{column}]"] + [f'"{s}" = "{c}"' for c, s in codes.items()]
    lines += ["", "[tables.episodes.date_formats]", 'onset_date = "%Y%m%d"', ""]
    return "\n".join(lines)


def main() -> None:
    (HERE / "csv").mkdir(parents=True, exist_ok=True)
    for table in COLUMNS:
        foreign(table).to_csv(HERE / "csv" / FILES[table], sep=";", index=False, lineterminator="\n")
    (HERE / "mapping.toml").write_text(mapping_text(False), encoding="utf-8")
    (HERE / "mapping_xlsx.toml").write_text(mapping_text(True), encoding="utf-8")
    with pd.ExcelWriter(HERE / "registry.xlsx", engine="openpyxl") as writer:
        for table in COLUMNS:
            frame = foreign(table)
            if table == "patients":  # typed date cells, as most workbooks hold them
                for column in ("GebDatum", "OverlDatum"):
                    frame[column] = [dt.datetime.strptime(v, "%d/%m/%Y") if v else None for v in frame[column]]
            frame.replace("", None).to_excel(writer, sheet_name=SHEETS[table], index=False)


if __name__ == "__main__":
    main()
