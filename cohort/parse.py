"""Translate a table as read into canonical, typed form, recording every cell that will not go.

Renaming and recoding follow the mapping file; types follow the table's pandera model (text,
dates, whole numbers, true/false).  A cell that cannot be converted becomes empty in the typed
frame and is recorded as a failure that keeps the text exactly as the export holds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.cohort.columns import ExtraColumn
from toh.cohort.errors import ConfigError
from toh.cohort.io import RawTable
from toh.cohort.mapping import ISO_DATE, ColumnMapping
from toh.schemas import SCHEMAS
from toh.schemas.text import TEXT_DTYPE, as_text_dtype

__all__ = ["ParsedTable", "parse_table", "FAILURE_FIELDS", "ID_FIELDS", "column_kinds", "empty_table", "is_absent",
           "ABSENT"]

#: Columns of every failure record, in the order the failure CSV has them: where the failing cell
#: is and what it holds; the ids of its row as the registry knows them (empty where the table has
#: no such id); and, for a rule that compares two cells, the other one.
FAILURE_FIELDS: tuple[str, ...] = (
    "severity", "table", "file", "row", "column", "source_column", "value", "rule", "message",
    "patient_id", "episode_id", "exam_id", "event_id",
    "related_table", "related_file", "related_row", "related_column", "related_value",
)
#: The id columns of :data:`FAILURE_FIELDS`.
ID_FIELDS: tuple[str, ...] = ("patient_id", "episode_id", "exam_id", "event_id")


@dataclass(frozen=True)
class ParsedTable:
    """A table in canonical form.

    ``typed`` has canonical names and dtypes; ``text`` has canonical names and the export's own
    cell texts (before recoding), used to quote values in messages.  ``issues`` holds parse
    failures and warnings (extra columns, missing optional columns) as records without values.
    """

    name: str
    label: str
    typed: pd.DataFrame
    text: pd.DataFrame
    source_columns: dict[str, str]
    issues: pd.DataFrame


#: the days a date column can hold (nanosecond timestamps): a date outside is a date_format failure
_FIRST_DAY, _LAST_DAY = (pd.Timestamp.min.ceil("D").date().isoformat(), pd.Timestamp.max.floor("D").date().isoformat())

#: serial day numbers of a workbook read as dates (about 270 years either side of 1900)
_SERIAL_LIMIT = 100_000

_EMPTY_DTYPES = {"date": "datetime64[ns]", "int": "Int64", "bool": "boolean", "text": TEXT_DTYPE}

#: ``DataFrame.attrs`` key that marks a table the export does not have.
ABSENT = "toh_absent_table"


def empty_table(table: str, *, absent: bool = False) -> pd.DataFrame:
    """A typed table with the contract's columns and no rows.

    With ``absent`` it stands for a table the export does not have at all (marked in
    ``attrs``, see :func:`is_absent`); without, for a table with a header and no rows, a real zero.
    """
    frame = pd.DataFrame(
        {c: pd.Series(dtype=_EMPTY_DTYPES[k]) for c, (k, _) in column_kinds(table).items()},
        index=pd.Index([], dtype="int64", name="row"),
    )
    if absent:
        frame.attrs[ABSENT] = True
    return frame


def is_absent(frame: pd.DataFrame | None) -> bool:
    """True for ``None`` or a frame made by ``empty_table(..., absent=True)``."""
    return frame is None or bool(frame.attrs.get(ABSENT, False))


def column_kinds(table: str) -> dict[str, tuple[str, bool]]:
    """Canonical column -> (kind, required) of a table, kind one of text/date/int/bool."""
    kinds = {}
    for name, column in SCHEMAS[table].to_schema().columns.items():
        dtype = str(column.dtype)
        kind = (
            "date" if dtype.startswith("datetime64")
            else "int" if dtype == "Int64"
            else "bool" if dtype == "boolean"
            else "text"
        )
        kinds[name] = (kind, bool(column.required))
    return kinds


def _issue(rows: pd.Index | list, column: str, rule: str, message: str, severity: str = "error") -> pd.DataFrame:
    rows = list(rows) if len(rows) else [None]  # no rows: the whole column
    return pd.DataFrame(
        {"severity": severity, "row": pd.array(rows, dtype="Int64"), "column": column,
         "rule": rule, "message": message}
    )


def _as_text(series: pd.Series) -> pd.Series:
    """Text of any column (Parquet may type an id or code column as a number)."""
    if series.dtype == TEXT_DTYPE or series.dtype == object:
        return series
    text = series.astype(str).astype(object)
    return text.where(series.notna(), None)


def _by_value(series: pd.Series, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply ``convert`` to each distinct value of ``series`` once and spread the results back.

    ``convert`` receives the distinct values as an object Series and must treat each one on
    its own (every converter here does: a cell's result never depends on another cell), so the
    result is what ``convert(series)`` would give, at the cost of the distinct values only.
    """
    codes, distinct = pd.factorize(series)
    converted = convert(pd.Series(np.asarray(distinct, dtype=object)))
    return pd.Series(converted.array.take(codes, allow_fill=True), index=series.index)


def _dates_of(text: pd.Series, fmt: str, kind: str, epoch: dt.date | None) -> pd.Series:
    if fmt == "excel":
        days = pd.to_numeric(text, errors="coerce")
        days = days.where((days == np.floor(days)) & (days.abs() < _SERIAL_LIMIT))
        origin = pd.Timestamp(epoch or dt.date(1899, 12, 30))
        out = origin + pd.to_timedelta(days, unit="D")
        if kind == "excel":  # cells typed as dates arrive as ISO text
            out = out.fillna(pd.to_datetime(text, format=ISO_DATE, errors="coerce"))
        return out.astype("datetime64[ns]")
    out = pd.to_datetime(text, format=fmt, errors="coerce")
    if kind == "excel" and fmt != ISO_DATE:
        out = out.fillna(pd.to_datetime(text, format=ISO_DATE, errors="coerce"))
    return out.astype("datetime64[ns]")


def _parse_dates(series: pd.Series, fmt: str, kind: str, epoch: dt.date | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        raw = values.to_numpy()  # a Parquet date may lie beyond what nanoseconds hold (year 1, 9999)
        inside = (raw >= np.datetime64(_FIRST_DAY, "D")) & (raw <= np.datetime64(_LAST_DAY, "D"))
        return values.where(inside).astype("datetime64[ns]")
    return _by_value(_as_text(series), lambda text: _dates_of(text, fmt, kind, epoch))


#: the largest whole number read (beyond it a float no longer holds every whole number exactly)
_INT_LIMIT = 10**15


def _ints_of(text: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(text, errors="coerce")
    whole = numbers.where((numbers == np.floor(numbers)) & (numbers.abs() <= _INT_LIMIT))
    return whole.astype("Int64")


def _parse_ints(series: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(series):
        return series.astype("Int64")
    return _by_value(_as_text(series), _ints_of)


def _parse_bools(series: pd.Series, mapping: ColumnMapping) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    lookup = {v.lower(): False for v in mapping.false_values}
    lookup.update({v.lower(): True for v in mapping.true_values})
    return _by_value(_as_text(series), lambda text: text.str.lower().map(lookup).astype("boolean"))


def _recode(series: pd.Series, codes: dict[str, str]) -> pd.Series:
    def recode(text: pd.Series) -> pd.Series:
        hit = text.isin(list(codes))
        recoded = text.where(~hit, text.map(codes))
        return as_text_dtype(recoded.where(recoded.notna() & (recoded != ""), None))

    return _by_value(_as_text(series), recode)


def _rename(raw: RawTable, mapping: ColumnMapping) -> tuple[pd.DataFrame, dict[str, str], list[pd.DataFrame]]:
    spec = mapping.table(raw.name)
    issues = []
    frame = raw.frame
    renames = {}
    for canonical, source in spec.columns.items():
        if source not in frame.columns:
            issues.append(_issue([], canonical, "column_missing",
                                 f"the mapping names column {source!r}, which the file does not have"))
            continue
        if canonical in frame.columns and canonical != source:
            raise ConfigError(
                f"{raw.label}: the mapping renames {source!r} to {canonical!r}, "
                f"but the file already has a column {canonical!r}"
            )
        renames[source] = canonical
    frame = frame.rename(columns=renames) if renames else frame
    source_columns = {c: c for c in frame.columns}
    source_columns.update({canonical: source for source, canonical in renames.items()})
    return frame, source_columns, issues


def _parse_numbers(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        value = series.astype("float64")
    else:
        value = _by_value(_as_text(series), lambda text: pd.to_numeric(text.str.strip(), errors="coerce")
                          .astype("float64"))
    return value.where(np.isfinite(value))


def _declared(frame: pd.DataFrame, declared: tuple[ExtraColumn, ...], mapping: ColumnMapping,
              issues: list[pd.DataFrame]) -> dict[str, pd.Series]:
    """The declared extra columns typed (number: float, category: text, boolean: the mapping's
    true/false values); a value of the wrong type is a failure, an absent column one too."""
    out: dict[str, pd.Series] = {}
    for column in declared:
        what = f"declared in [analysis.columns] as a {column.type} column of {column.table}"
        if column.name not in frame.columns:
            issues.append(_issue([], column.name, "column_missing", f"{what}, but the file does not have it"))
            continue
        series = frame[column.name]
        text = _as_text(series)
        given = text.notna() & (text.astype(str).str.strip() != "")
        if column.type == "number":
            value = _parse_numbers(series)
            rule, message = "number", f"not a number ({what})"
        elif column.type == "boolean":
            value = _parse_bools(series, mapping)
            rule = "boolean"
            message = f"not one of {', '.join(mapping.true_values + mapping.false_values)} ({what})"
        else:
            value = as_text_dtype(text.where(given, None)).str.strip()
            rule, message = "", ""
        bad = given & value.isna()
        if rule and bad.any():
            issues.append(_issue(frame.index[bad], column.name, rule, message))
        out[column.name] = value.where(given)
    return out


def parse_table(raw: RawTable, mapping: ColumnMapping, declared: tuple[ExtraColumn, ...] = ()) -> ParsedTable:
    """Rename, recode and type one table.

    Parameters
    ----------
    raw
        The table as read by :func:`toh.cohort.io.read_table`.
    mapping
        The export's column mapping.
    declared
        The extra columns of this table declared for the analyses
        (:class:`toh.cohort.columns.ExtraColumn`): typed and checked like the contract's.

    Returns
    -------
    ParsedTable
    """
    frame, source_columns, issues = _rename(raw, mapping)
    kinds = column_kinds(raw.name)
    spec = mapping.table(raw.name)
    names = {c.name for c in declared}
    extras = [c for c in frame.columns if c not in kinds and c not in names]
    if extras:  # one record per extra column, built at once (an export may have thousands)
        issues.append(pd.DataFrame({"severity": "warning", "row": pd.array([None] * len(extras), dtype="Int64"),
                                    "column": extras, "rule": "extra_column",
                                    "message": "not a column of the contract: kept, not used"}))
    typed = {}
    for column, (kind, required) in kinds.items():
        if column not in frame.columns:
            if required:  # reported once; an empty column keeps every other rule checkable
                issues.append(_issue([], column, "column_missing", "a required column is missing"))
                typed[column] = pd.Series(None, index=frame.index, dtype=_EMPTY_DTYPES[kind])
            continue
        series = frame[column]
        if column in spec.values:
            series = _recode(series, spec.values[column])
        if series.isna().all():  # nothing to convert (an empty column has no type of its own)
            typed[column] = pd.Series(None, index=frame.index, dtype=_EMPTY_DTYPES[kind])
            continue
        if kind == "text":
            value = as_text_dtype(_as_text(series))
        elif kind == "date":
            fmt = mapping.date_format_of(raw.name, column)
            value = _parse_dates(series, fmt, raw.kind, raw.excel_epoch)
            bad = series.notna() & value.isna()
            if bad.any():
                issues.append(_issue(frame.index[bad], column, "date_format",
                                     f"not a date in the format {fmt} (from {_FIRST_DAY} to {_LAST_DAY})"))
        elif kind == "int":
            value = _parse_ints(series)
            bad = series.notna() & value.isna()
            if bad.any():
                issues.append(_issue(frame.index[bad], column, "integer", f"not a whole number (at most {_INT_LIMIT:,})"))
        else:
            value = _parse_bools(series, mapping)
            bad = series.notna() & value.isna()
            if bad.any():
                allowed = ", ".join(mapping.true_values + mapping.false_values)
                issues.append(_issue(frame.index[bad], column, "boolean", f"not one of {allowed}"))
        typed[column] = value
    typed.update(_declared(frame, declared, mapping, issues))
    typed_frame = pd.DataFrame(typed, index=frame.index)
    if extras:
        typed_frame = pd.concat([typed_frame, frame.loc[:, extras]], axis=1, copy=False)
    issue_frame = pd.concat(issues, ignore_index=True) if issues else _issue([], "", "", "").iloc[:0]
    issue_frame["row"] = issue_frame["row"].astype("Int64")
    return ParsedTable(raw.name, raw.label, typed_frame, frame, source_columns, issue_frame)
