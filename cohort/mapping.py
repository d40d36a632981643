"""Column mapping files: let a registry with its own names, codes and date formats load as is.

A mapping is a TOML file; every key is optional.  Canonical names are on the left, the
registry's own on the right of ``columns``; recodes read ``"source value" = "canonical value"``::

    [export]
    missing = ["", "NA", "unknown"]   # texts read as an empty cell (default: "" and "NA")
    date_format = "%d/%m/%Y"          # every date column (default: ISO %Y-%m-%d); "excel" = serial days
    delimiter = ";"                   # CSV field separator (default ",")
    encoding = "utf-8"                # CSV encoding (default utf-8; a byte-order mark is skipped)

    [booleans]                        # added to the default true/false (any case)
    true = ["yes", "y", "1"]
    false = ["no", "n", "0"]

    [tables.patients]
    file = "pts.csv"                  # file in the export folder (default: patients.csv / .parquet)
    sheet = "Patients"                # sheet of a workbook export (default: the table name)
    [tables.patients.columns]
    patient_id = "PatID"
    sex = "Gender"
    [tables.patients.values.sex]
    "1" = "M"
    "2" = "F"
    [tables.episodes.date_formats]
    onset_date = "%Y%m%d"             # one column's own format
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toh.cohort.tomlfile import read_toml
from toh.cohort.errors import ConfigError
from toh.schemas import SCHEMAS, TABLES

__all__ = ["ColumnMapping", "TableMapping", "load_mapping", "DEFAULT_MISSING", "ISO_DATE"]

DEFAULT_MISSING: tuple[str, ...] = ("", "NA")
ISO_DATE = "%Y-%m-%d"
_TRUE: tuple[str, ...] = ("true",)
_FALSE: tuple[str, ...] = ("false",)


@dataclass(frozen=True)
class TableMapping:
    """How one table of the export is found and translated into canonical form."""

    file: str | None = None
    sheet: str | None = None
    #: canonical column -> the export's column
    columns: dict[str, str] = field(default_factory=dict)
    #: canonical column -> {export value: canonical value}
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: canonical date column -> strptime format
    date_formats: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """A parsed mapping file (or the identity mapping of a canonical export)."""

    source: str | None = None
    missing: tuple[str, ...] = DEFAULT_MISSING
    date_format: str = ISO_DATE
    delimiter: str = ","
    encoding: str = "utf-8"
    true_values: tuple[str, ...] = _TRUE
    false_values: tuple[str, ...] = _FALSE
    tables: dict[str, TableMapping] = field(default_factory=dict)

    def table(self, name: str) -> TableMapping:
        """The mapping of table ``name`` (the identity when the file says nothing of it)."""
        return self.tables.get(name, TableMapping())

    def date_format_of(self, table: str, column: str) -> str:
        """The strptime format of one date column."""
        return self.table(table).date_formats.get(column, self.date_format)


def _date_format(value: Any, where: str, path: str) -> str:
    """A strptime format of whole dates (or ``excel``), checked before any data is read."""
    fmt = _expect(value, str, where, path)
    if fmt == "excel":
        return fmt
    try:
        dt.datetime.strptime("", fmt)
    except ValueError as exc:
        if "does not match format" not in str(exc):  # a bad directive or a stray %
            raise ConfigError(f"{path}: {where} = {fmt!r} is not a date format: {exc}") from None
    directives = set(re.findall(r"%(.)", fmt.replace("%%", "")))
    year = bool(directives & {"Y", "y", "G"})
    day = "j" in directives or (bool(directives & {"m", "b", "B"}) and "d" in directives)
    if not (year and day) and not directives & {"x", "c"}:
        raise ConfigError(f"{path}: {where} = {fmt!r} does not name a year, month and day "
                          '(e.g. "%d/%m/%Y"; "excel" for serial day numbers)')
    import pandas as pd

    try:
        pd.to_datetime(pd.Series(["2001-02-03"]), format=fmt, errors="coerce")
    except ValueError as exc:
        raise ConfigError(f"{path}: {where} = {fmt!r} is not a date format the reader knows: {exc}") from None
    return fmt


def _codes(table: str) -> dict[str, list[str]]:
    """Canonical column -> its code list (as text), for the coded columns of ``table``."""
    out = {}
    for name, column in SCHEMAS[table].to_schema().columns.items():
        for check in column.checks:
            if check.name == "isin":
                out[name] = [str(v) for v in check.statistics["allowed_values"]]
    return out


def _expect(value: Any, kind: type, where: str, path: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(f"{path}: {where} must be a {kind.__name__}, got {value!r}")
    return value


def _str_dict(value: Any, where: str, path: str) -> dict[str, str]:
    _expect(value, MappingABC, where, path)
    out = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ConfigError(f"{path}: {where}.{key} must be a string, got {item!r}")
        out[str(key)] = str(item)
    return out


def _str_list(value: Any, where: str, path: str) -> tuple[str, ...]:
    _expect(value, list, where, path)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ConfigError(f"{path}: {where} must list texts, got {item!r}")
    return tuple(str(v) for v in value)


def _table(name: str, raw: Any, path: str) -> TableMapping:
    where = f"[tables.{name}]"
    _expect(raw, MappingABC, where, path)
    unknown = set(raw) - {"file", "sheet", "columns", "values", "date_formats"}
    if unknown:
        raise ConfigError(f"{path}: {where} has unknown keys {sorted(unknown)}")
    schema = SCHEMAS[name].to_schema().columns
    known = set(schema)
    columns = _str_dict(raw.get("columns", {}), f"{where}.columns", path)
    values = {
        col: _str_dict(v, f"{where}.values.{col}", path)
        for col, v in _expect(raw.get("values", {}), MappingABC, f"{where}.values", path).items()
    }
    formats = _expect(raw.get("date_formats", {}), MappingABC, f"{where}.date_formats", path)
    for key in list(columns) + list(values) + list(formats):
        if key not in known:
            raise ConfigError(
                f"{path}: {where} names {key!r}, which is not a column of the {name} table "
                f"(canonical columns: {', '.join(sorted(known))})"
            )
    for key in formats:
        if not str(schema[key].dtype).startswith("datetime64"):
            raise ConfigError(f"{path}: {where}.date_formats names {key!r}, which is not a date column")
    formats = {key: _date_format(fmt, f"{where}.date_formats.{key}", path) for key, fmt in formats.items()}
    codes = _codes(name)
    for column, recode in values.items():
        if str(schema[column].dtype).startswith("datetime64") or str(schema[column].dtype) == "boolean":
            raise ConfigError(f"{path}: {where}.values.{column}: dates and true/false are not recoded "
                              "(use date_formats, or [booleans])")
        wrong = sorted({v for v in recode.values() if v and column in codes and v not in codes[column]})
        if wrong:
            raise ConfigError(f"{path}: {where}.values.{column} recodes to {wrong}, not among the codes of "
                              f"{column} ({', '.join(codes[column])})")
    sources = list(columns.values())
    duplicated = sorted({s for s in sources if sources.count(s) > 1})
    if duplicated:
        raise ConfigError(f"{path}: {where}.columns maps {duplicated} to more than one column")
    file = raw.get("file")
    sheet = raw.get("sheet")
    return TableMapping(
        file=None if file is None else str(_expect(file, str, f"{where}.file", path)),
        sheet=None if sheet is None else str(_expect(sheet, str, f"{where}.sheet", path)),
        columns=columns,
        values=values,
        date_formats=formats,
    )


def load_mapping(path: str | Path | None) -> ColumnMapping:
    """Read and check a mapping file.

    Parameters
    ----------
    path
        A TOML mapping file, or ``None`` for the identity mapping of a canonical export.

    Returns
    -------
    ColumnMapping

    Raises
    ------
    ConfigError
        The file is missing or unreadable, is not TOML, names a table, column or option that does
        not exist, gives a key a value of the wrong type, a date format that is not one, an
        unknown encoding, or recodes a column to a value outside its code list.  Everything is
        checked here, before any data is read; whether each ``file`` lies inside the export
        folder is checked when the export is located (:func:`toh.cohort.locate.locate_export`).
    """
    if path is None:
        return ColumnMapping()
    path = Path(path)
    raw = read_toml(path, "mapping file")
    where = str(path)
    unknown = set(raw) - {"export", "booleans", "tables"}
    if unknown:
        raise ConfigError(f"{where}: unknown sections {sorted(unknown)}")
    export = _expect(raw.get("export", {}), MappingABC, "[export]", where)
    bad = set(export) - {"missing", "date_format", "delimiter", "encoding"}
    if bad:
        raise ConfigError(f"{where}: [export] has unknown keys {sorted(bad)}")
    booleans = _expect(raw.get("booleans", {}), MappingABC, "[booleans]", where)
    if set(booleans) - {"true", "false"}:
        raise ConfigError(f"{where}: [booleans] takes only 'true' and 'false' lists")
    tables = _expect(raw.get("tables", {}), MappingABC, "[tables]", where)
    for name in tables:
        if name not in TABLES:
            raise ConfigError(f"{where}: unknown table [tables.{name}]; tables are {list(TABLES)}")
    delimiter = str(_expect(export.get("delimiter", ","), str, "[export].delimiter", where))
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise ConfigError(f"{where}: [export].delimiter must be one character other than a quote or a line end, "
                          f"got {delimiter!r}")
    encoding = str(_expect(export.get("encoding", "utf-8"), str, "[export].encoding", where))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"{where}: [export].encoding = {encoding!r} is not an encoding Python knows "
                          '(e.g. "utf-8", "cp1252", "latin-1", "utf-16")') from None
    true_values = _TRUE + _str_list(booleans.get("true", []), "[booleans].true", where)
    false_values = _FALSE + _str_list(booleans.get("false", []), "[booleans].false", where)
    both = sorted({v.lower() for v in true_values} & {v.lower() for v in false_values})
    if both:
        raise ConfigError(f"{where}: [booleans] lists {both} as both true and false")
    return ColumnMapping(
        source=where,
        missing=_str_list(export.get("missing", list(DEFAULT_MISSING)), "[export].missing", where),
        date_format=_date_format(export.get("date_format", ISO_DATE), "[export].date_format", where),
        delimiter=delimiter,
        encoding=encoding,
        true_values=true_values,
        false_values=false_values,
        tables={name: _table(name, spec, where) for name, spec in tables.items()},
    )
