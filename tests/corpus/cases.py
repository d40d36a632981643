"""A corpus of broken exports, each built in code from the valid base export (tests/builders.py),
with the exit code `toh validate` must give and fragments its message must hold.

Every case is a function of an empty folder that writes its export there (and a mapping file when
it needs one) and returns the arguments after ``toh validate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from builders import BASE_EXPORT, set_cell, write_export

__all__ = ["Case", "CASES"]


@dataclass(frozen=True)
class Case:
    """One broken export: how to build it, the exit code, and what the output must say."""

    name: str
    build: Callable[[Path], list[str]]
    code: int
    says: tuple[str, ...]
    slow: bool = False


def _export(folder: Path, tables: dict[str, str] | None = None, **raw: bytes) -> Path:
    """The base export (or ``tables``) in ``folder/export``, with files replaced by raw bytes."""
    export = write_export(folder / "export", tables or BASE_EXPORT)
    for name, data in raw.items():
        (export / f"{name}.csv").write_bytes(data)
    return export


def _mapping(folder: Path, text: str) -> str:
    path = folder / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _patients(transform: Callable[[str], str] = lambda t: t) -> bytes:
    return transform(BASE_EXPORT["patients"]).encode("utf-8")


def _lines(text: str, ending: str) -> str:
    return ending.join(text.splitlines()) + ending


def _args(export: Path, *more: str) -> list[str]:
    return [str(export), *more]


def _huge_header(folder: Path) -> list[str]:
    lines = BASE_EXPORT["patients"].splitlines()
    extra = ",".join(f"x{i}" for i in range(50_000))
    text = f"{lines[0]},{extra}\n" + "".join(line + "," * 50_000 + "\n" for line in lines[1:])
    return _args(_export(folder, patients=text.encode()))


def _huge_cell(folder: Path) -> list[str]:
    text = BASE_EXPORT["patients"].replace(",A\n", ",A" + "y" * (50 << 20) + "\n", 1)
    return _args(_export(folder, patients=text.encode()))


def _workbook(folder: Path, sheets: dict[str, str]) -> Path:
    import csv
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for sheet, table in sheets.items():
        page = book.create_sheet(sheet)
        for row in csv.reader(io.StringIO(BASE_EXPORT[table])):
            page.append(row)
    path = folder / "book.xlsx"
    book.save(path)
    return path


def _damaged_sheet(folder: Path) -> list[str]:
    """A workbook whose sheet list reads but whose episodes sheet is cut off in its rows."""
    import zipfile

    whole = _workbook(folder, {"patients": "patients", "episodes": "episodes"})
    damaged = folder / "damaged.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: len(data) * 2 // 3] if item.filename.endswith("sheet2.xml") else data)
    return _args(damaged)


def _workbook_named_csv(folder: Path) -> list[str]:
    export = _export(folder)
    _workbook(folder, {"patients": "patients"}).replace(export / "patients.csv")
    return _args(export)


def _outside(folder: Path) -> list[str]:
    (folder / "secret.csv").write_text("TOPSECRET-91c2,x\n")
    export = _export(folder)
    return _args(export, "--mapping", _mapping(folder, '[tables.patients]\nfile = "../secret.csv"\n'))


def _symlink_out(folder: Path) -> list[str]:
    (folder / "secret.csv").write_text("TOPSECRET-91c2,x\n")
    export = _export(folder)
    (export / "pts.csv").symlink_to(folder / "secret.csv")
    return _args(export, "--mapping", _mapping(folder, '[tables.patients]\nfile = "pts.csv"\n'))


def _default_name_symlink_out(folder: Path) -> list[str]:
    (folder / "secret.csv").write_text("TOPSECRET-91c2,x\n")
    export = _export(folder)
    (export / "patients.csv").unlink()
    (export / "patients.csv").symlink_to(folder / "secret.csv")
    return _args(export)


CP1252 = BASE_EXPORT["patients"].replace(",A\n", ",Zürich\n", 1)
NO_ID = ("patient_id", "episode_id")

CASES: list[Case] = [
    # bytes that are not text in the export's encoding
    Case("corrupted_bytes", lambda d: _args(_export(d, patients=_patients().replace(b"P2,F", b"P2,\xff\xfe"))),
         1, ("patients.csv: line 3 is not valid utf-8 text (byte 0xff)", "under [export] in the mapping file")),
    Case("cp1252_text", lambda d: _args(_export(d, patients=CP1252.encode("cp1252"))),
         1, ("patients.csv: line 2 is not valid utf-8 text (byte 0xfc)",
             'set encoding = "cp1252" under [export] in the mapping file')),
    Case("cp1252_text_mapped", lambda d: _args(_export(d, patients=CP1252.encode("cp1252")),
                                               "--mapping", _mapping(d, '[export]\nencoding = "cp1252"\n')),
         0, ("VALID: 0 error(s)",)),
    Case("nul_bytes", lambda d: _args(_export(d, episodes=BASE_EXPORT["episodes"].replace("E2,P1", "E2,P\x001").encode())),
         1, ("episodes.csv: line 3 holds a NUL character (\\x00)", "damaged")),
    Case("utf16_with_bom", lambda d: _args(_export(d, patients=BASE_EXPORT["patients"].encode("utf-16"))),
         0, ("VALID: 0 error(s)",)),
    Case("utf16_without_bom", lambda d: _args(_export(d, patients=BASE_EXPORT["patients"].encode("utf-16-le"))),
         1, ("patients.csv: line 1 holds a NUL character", "UTF-16 without a byte-order mark",
             'set encoding = "utf-16-le"')),
    # records cut off
    Case("truncated_mid_record", lambda d: _args(_export(d, patients=_patients()[:-13])),  # ends "P3,M,19"
         1, ("patients.csv: the record on line 4 has 3 field(s) where the header has 6", "cut off")),
    Case("truncated_in_quotes", lambda d: _args(_export(d, patients=_patients()[:-2] + b'"A')),  # ends ,,,"A
         1, ("patients.csv: the quoted value that starts on line 4 is never closed", "cut off")),
    Case("empty_file", lambda d: _args(_export(d, events=b"")),
         1, ("events.csv: line 1 should be the header",)),
    # line endings
    Case("cr_only_line_endings", lambda d: _args(_export(d, patients=_lines(BASE_EXPORT["patients"], "\r").encode(),
                                                      imaging=_lines(BASE_EXPORT["imaging"], "\r").encode())),
         0, ("VALID: 0 error(s)",)),
    Case("mixed_line_endings", lambda d: _args(_export(d, patients=(
        "patient_id,sex,birth_date,birth_year,death_date,site\r\nP1,M,1970-01-01,,,A\nP2,F,,1990,2021-06-01,B\r"
        "P3,Q,1960-01-01,,,A\r\n").encode())),
         1, ("INVALID: 1 error(s)", "code_list")),
    # sizes
    Case("huge_header", _huge_header, 0, ("VALID: 0 error(s), 50,000 warning(s)", "extra_column"), slow=True),
    Case("huge_cell", _huge_cell, 0, ("VALID: 0 error(s)",), slow=True),
    # column names
    Case("empty_column_name", lambda d: _args(_export(d, patients=_patients(lambda t: t.replace("sex,", ",", 1)))),
         1, ("patients.csv: the header (line 1) needs one distinct name per column: column 2 has no name",)),
    Case("blank_column_name", lambda d: _args(_export(d, patients=_patients(lambda t: t.replace("sex,", "  ,", 1)))),
         1, ("column 2 has a blank name",)),
    Case("duplicate_column_name", lambda d: _args(_export(d, patients=_patients(lambda t: t.replace("site", "sex", 1)))),
         1, ("patients.csv: the header (line 1) needs one distinct name per column: columns 2, 6 are all named 'sex'",)),
    # missing and misnamed tables
    Case("missing_files", lambda d: _args(_export(d, {"imaging": BASE_EXPORT["imaging"]})),
         1, ("patients: no patients.csv or patients.parquet in the export folder; files found: imaging.csv",
             "episodes: no episodes.csv", "INVALID: 2 error(s)")),
    Case("misnamed_file", lambda d: _args(_rename(_export(d), "patients.csv", "patient.csv")),
         1, ("did you mean 'patient.csv' for 'patients.csv'? (rename it, or set file = \"patient.csv\" under "
             "[tables.patients] in the mapping file)", "INVALID: 1 error(s)")),
    Case("workbook_missing_sheet", lambda d: _args(_workbook(d, {"patients": "patients", "Episode": "episodes"})),
         1, ("episodes: no sheet 'episodes' in book.xlsx; sheets found: Episode, patients; did you mean 'Episode'",)),
    Case("broken_workbook", lambda d: _args(_bytes(d / "book.xlsx", b"PK\x03\x04 not really a zip")),
         1, ("book.xlsx: not a readable workbook",)),
    Case("workbook_named_csv", _workbook_named_csv, 1,
         ("patients.csv: a zip archive, not text: a workbook (.xlsx) saved under a CSV name?",)),
    Case("damaged_sheet", _damaged_sheet, 1, ("damaged.xlsx[episodes]: the sheet cannot be read",)),
    # values no date or number can hold
    Case("impossible_date", lambda d: _args(_export(d, set_cell(BASE_EXPORT, "episodes", 0, "onset_date", "2023-02-30"))),
         1, ("INVALID", "date_format", "2023-02-30")),
    Case("out_of_range_dates", lambda d: _args(_export(d, set_cell(set_cell(
        BASE_EXPORT, "patients", 0, "birth_date", "0001-01-01"), "patients", 2, "birth_date", "9999-12-31"))),
         1, ("INVALID", "date_format", "0001-01-01")),
    Case("overflowing_integer", lambda d: _args(_export(d, set_cell(
        BASE_EXPORT, "episodes", 5, "trimester", "99999999999999999999"))),
         1, ("INVALID: 1 error(s)", "integer", "99999999999999999999")),
    # hostile mappings
    Case("mapping_path_escape", _outside, 2, ('[tables.patients].file = "../secret.csv" points outside the export folder',)),
    Case("mapping_symlink_escape", _symlink_out, 2, ('[tables.patients].file = "pts.csv" points outside',)),
    Case("default_name_symlink_escape", _default_name_symlink_out, 2,
         ("patients.csv is a link to a file outside the export folder",)),
    Case("mapping_bad_directive", lambda d: _args(_export(d), "--mapping", _mapping(d, '[export]\ndate_format = "%d/%q/%Y"\n')),
         2, ("[export].date_format = '%d/%q/%Y' is not a date format: 'q' is a bad directive",)),
    Case("mapping_unknown_key", lambda d: _args(_export(d), "--mapping", _mapping(d, '[export]\nseparator = ";"\n')),
         2, ("[export] has unknown keys ['separator']",)),
    Case("mapping_wrong_types", lambda d: _args(_export(d), "--mapping", _mapping(d, '[export]\nmissing = "NA"\n')),
         2, ("[export].missing must be a list, got 'NA'",)),
    Case("mapping_not_toml", lambda d: _args(_export(d), "--mapping", _bytes(d / "m.toml", b"\x89PNG\r\n\x1a\n")),
         2, ("not a valid TOML file",)),
]


def _rename(export: Path, old: str, new: str) -> Path:
    (export / old).rename(export / new)
    return export


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
