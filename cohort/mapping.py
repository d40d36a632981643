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
    return tuple(str(v) for v in value)


def _table(name: str, raw: Any, path: str) -> TableMapping:
    where = f"[tables.{name}]"
    _expect(raw, MappingABC, where, path)
    unknown = set(raw) - {"file", "sheet", "columns", "values", "date_formats"}
    if unknown:
        raise ConfigError(f"{path}: {where} has unknown keys {sorted(unknown)}")
    known = set(SCHEMAS[name].to_schema().columns)
    columns = _str_dict(raw.get("columns", {}), f"{where}.columns", path)
    values = {
        col: _str_dict(v, f"{where}.values.{col}", path)
        for col, v in _expect(raw.get("values", {}), MappingABC, f"{where}.values", path).items()
    }
    formats = _str_dict(raw.get("date_formats", {}), f"{where}.date_formats", path)
    for key in list(columns) + list(values) + list(formats):
        if key not in known:
            raise ConfigError(
                f"{path}: {where} names {key!r}, which is not a column of the {name} table "
                f"(canonical columns: {', '.join(sorted(known))})"
            )
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
        The file is missing, is not TOML, or names a table, column or option that does not exist.
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
    if len(delimiter) != 1:
        raise ConfigError(f"{where}: [export].delimiter must be one character, got {delimiter!r}")
    return ColumnMapping(
        source=where,
        missing=_str_list(export.get("missing", list(DEFAULT_MISSING)), "[export].missing", where),
        date_format=str(_expect(export.get("date_format", ISO_DATE), str, "[export].date_format", where)),
        delimiter=delimiter,
        encoding=str(_expect(export.get("encoding", "utf-8"), str, "[export].encoding", where)),
        true_values=_TRUE + _str_list(booleans.get("true", []), "[booleans].true", where),
        false_values=_FALSE + _str_list(booleans.get("false", []), "[booleans].false", where),
        tables={name: _table(name, spec, where) for name, spec in tables.items()},
    )
