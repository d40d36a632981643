"""Read, map, type and validate a whole registry export; collect every failure at once."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toh.cohort import safe_csv
from toh.cohort.columns import ExtraColumn, check_columns
from toh.cohort.errors import ConfigError, InvalidDataError
from toh.cohort.io import read_table
from toh.cohort.locate import REQUIRED_TABLES, locate_export
from toh.cohort.mapping import ColumnMapping, load_mapping
from toh.cohort.outputs import output_file
from toh.cohort.parse import FAILURE_FIELDS, ID_FIELDS, ParsedTable, empty_table, is_absent, parse_table
from toh.schemas import SCHEMAS, TABLES, check_cross_table
from toh.schemas.context import validating_on
from toh.schemas.text import duplicated
from toh.schemas.episodes import RULE_COLUMNS as _EPISODE_RULES
from toh.schemas.patients import RULE_COLUMNS as _PATIENT_RULES

__all__ = ["ValidationReport", "validate_export", "load_valid_export"]

_RULE_COLUMNS = {"patients": _PATIENT_RULES, "episodes": _EPISODE_RULES}
_PANDERA_RULES = (
    (re.compile(r"^isin\((.*)\)$"), "code_list", "not one of {0}"),
    (re.compile(r"^not_nullable$"), "required_value", "a value is required"),
    (re.compile(r"^field_uniqueness$"), "unique", "repeats a value that must be unique"),
    (re.compile(r"^greater_than_or_equal_to\((.*)\)$"), "range", "below the minimum {0}"),
    (re.compile(r"^less_than_or_equal_to\((.*)\)$"), "range", "above the maximum {0}"),
    (re.compile(r"^dtype\((.*)\)$"), "type", "wrong type: expected {0}"),
)


def _check_docs(table: str) -> dict[str, str]:
    """Custom check name -> its docstring (the rule's description)."""
    schema = SCHEMAS[table].to_schema()
    docs = {c.name: c.description or c.name for c in schema.checks}
    for column in schema.columns.values():
        docs.update({c.name: c.description or c.name for c in column.checks})
    return docs


def _pandera_failures(parsed: ParsedTable) -> pd.DataFrame:
    """Validate one typed table with its pandera model (lazily) and return failure records.

    The model's ``unique`` columns are checked here, by sorting, rather than by pandera (whose
    hash of every id is the slowest step on large tables); each repeated value is reported on
    every row that holds it, as pandera reports it.
    """
    import pandera.pandas as pa

    schema = SCHEMAS[parsed.name].to_schema()
    # Only the contract's columns: extra columns are kept, not checked (an export may have thousands);
    # the frame is taken as it is when it has no others (a column selection copies every column).
    contract = [c for c in schema.columns if c in parsed.typed.columns]
    typed = parsed.typed if len(contract) == parsed.typed.shape[1] else parsed.typed[contract]
    unique = [c for c, column in schema.columns.items() if column.unique and c in typed.columns]
    if unique:
        schema = schema.update_columns({c: {"unique": False} for c in unique})
    repeated = [(int(row), column, "unique", "repeats a value that must be unique", "", None, "")
                for column in unique for row in typed.index[duplicated(typed[column])]]
    try:
        schema.validate(typed, lazy=True, inplace=True)  # coerce is off: nothing is changed
        return _records(repeated)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    docs = _check_docs(parsed.name)
    rules = _RULE_COLUMNS.get(parsed.name, {})
    records = []
    frame_checks = cases[cases["schema_context"] == "DataFrameSchema"]
    for check, group in frame_checks.groupby("check", sort=True):
        if check == "column_in_dataframe":
            continue
        read = rules.get(check, (None,))
        column = read[0] or str(group["column"].iloc[0])
        other = read[1] if len(read) > 1 else ""  # the cell of the same row the rule compares with
        for row in sorted(set(group["index"].dropna().astype("int64"))):
            records.append((row, column, check, docs.get(check, check), parsed.name if other else "",
                            row if other else None, other))
    for case in cases[cases["schema_context"] == "Column"].itertuples(index=False):
        check = str(case.check)
        rule, message = check, docs.get(check, check)
        for pattern, name, template in _PANDERA_RULES:
            match = pattern.match(check)
            if match:
                args = [re.sub(r"[\[\]']", "", g) for g in match.groups()]
                rule, message = name, template.format(*args)
                break
        row = None if pd.isna(case.index) else int(case.index)
        records.append((row, str(case.column), rule, message, "", None, ""))
    return _records(records + repeated)


def _records(records: list[tuple]) -> pd.DataFrame:
    out = pd.DataFrame(records, columns=["row", "column", "rule", "message", "related_table", "related_row",
                                         "related_column"])
    out["row"] = out["row"].astype("Int64")
    out["related_row"] = out["related_row"].astype("Int64")
    return out


@dataclass(frozen=True)
class ValidationReport:
    """Everything validation found, and the typed tables it checked.

    Attributes
    ----------
    export
        The export folder or workbook.
    tables
        Canonical typed tables (index: source row).  A table the export does not have is an
        empty frame marked absent (:func:`toh.cohort.parse.is_absent`), which is not the same as
        a table with a header and no rows: estimates that need it are "not estimable".
    failures
        One row per failing cell or column, columns :data:`toh.cohort.parse.FAILURE_FIELDS`;
        ``severity`` is ``error`` or ``warning``.
    rows
        Rows read per table.
    files
        File (or ``book.xlsx[sheet]``) per table.
    columns
        The extra columns declared for the analyses, typed in ``tables``.
    """

    export: Path
    mapping: ColumnMapping
    validation_date: dt.date
    tables: dict[str, pd.DataFrame]
    failures: pd.DataFrame
    rows: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)
    columns: tuple[ExtraColumn, ...] = ()

    @property
    def errors(self) -> pd.DataFrame:
        """Failures that make the export invalid."""
        return self.failures[self.failures["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        """Findings that do not make the export invalid (extra columns, absent optional tables)."""
        return self.failures[self.failures["severity"] == "warning"]

    @property
    def absent(self) -> frozenset[str]:
        """The tables the export does not have (an empty table is present, with no rows)."""
        return frozenset(t for t, frame in self.tables.items() if is_absent(frame))

    @property
    def is_valid(self) -> bool:
        """True when no error was found."""
        return self.errors.empty

    def table_problems(self) -> list[str]:
        """Why each required table is absent, one line per table: what the export holds instead
        and the closest name (the failure summary shows only the rule)."""
        absent = self.errors[self.errors["rule"] == "table_present"]
        return [f"{table}: {message}" for table, message in zip(absent["table"], absent["message"])]

    @property
    def summary(self) -> pd.DataFrame:
        """Failures counted by severity, table, column and rule, with one example value."""
        if self.failures.empty:
            return pd.DataFrame(columns=["severity", "table", "column", "rule", "n", "example"])
        grouped = self.failures.groupby(["severity", "table", "column", "rule"], sort=True)
        return grouped.agg(n=("rule", "size"), example=("value", "first")).reset_index()

    def __repr__(self) -> str:
        rows = ", ".join(f"{t} {n:,}" for t, n in self.rows.items())
        state = "valid" if self.is_valid else "invalid"
        absent = f"; absent: {', '.join(sorted(self.absent))}" if self.absent else ""
        return (f"<ValidationReport {self.export.name}: {state}, {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s); rows read: {rows}{absent}; validated on "
                f"{self.validation_date.isoformat()}>")

    def write_failures(self, path: str | Path) -> Path:
        """Write every failure to a CSV (cells that a spreadsheet would run as formulas are quoted).

        The file is replaced atomically, never inside the export, and an existing file only when
        it is a failure CSV toh wrote (see :func:`toh.cohort.outputs.output_file`).
        """
        with output_file(path, inputs=(self.export,), own_header=",".join(self.failures.columns[:3])) as temporary:
            safe_csv.write_csv(self.failures, temporary)
        return Path(path)


def _cells(parsed: dict[str, ParsedTable], table: str, rows: pd.Series, column: str) -> pd.Series:
    """The export's own text of ``column`` at source ``rows`` of ``table`` (None where absent)."""
    values = pd.Series([None] * len(rows), index=rows.index, dtype=object)
    if table not in parsed or column not in parsed[table].text.columns:
        return values
    looked = parsed[table].text[column].reindex(rows.dropna().astype("int64").to_numpy()).astype(object)
    values[rows.notna().to_numpy()] = looked.where(looked.notna(), None).to_numpy(dtype=object)
    return values


def _fill(parsed: dict[str, ParsedTable], out: pd.DataFrame, table: str, row: str, column: str) -> pd.Series:
    """The text of every failure's cell (``table``, ``row``, ``column`` name the fields that
    locate it), looked up once per table and column."""
    values = pd.Series([None] * len(out), index=out.index, dtype=object)
    located = out[(out[table] != "") & out[row].notna() & (out[column] != "")]
    for (name, col), group in located.groupby([table, column], sort=False):
        values[group.index] = _cells(parsed, name, group[row], col)
    return values


def _ids(parsed: dict[str, ParsedTable], out: pd.DataFrame) -> pd.DataFrame:
    """The id columns of each failure's row; an exam's or event's patient through its episode."""
    ids = pd.DataFrame({c: pd.Series([None] * len(out), index=out.index, dtype=object) for c in ID_FIELDS})
    for table, group in out[out["row"].notna()].groupby("table", sort=False):
        for column in ID_FIELDS:
            ids.loc[group.index, column] = _cells(parsed, table, group["row"], column)
        if table in ("imaging", "events") and "episodes" in parsed:
            episodes = parsed["episodes"].text
            if {"episode_id", "patient_id"} <= set(episodes.columns):
                patient = episodes.drop_duplicates("episode_id").set_index("episode_id")["patient_id"]
                found = ids.loc[group.index, "episode_id"].map(patient).astype(object)
                ids.loc[group.index, "patient_id"] = found.where(found.notna(), None)
    return ids


def _finish(parsed: dict[str, ParsedTable], parts: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    frames = []
    for table, part in parts:
        if part.empty:
            continue
        part = part.copy()
        part["table"] = table
        part["file"] = parsed[table].label if table in parsed else f"{table} (absent)"
        if "severity" not in part.columns:
            part["severity"] = "error"
        for column in ("related_table", "related_column"):
            part[column] = part[column].fillna("").astype(object) if column in part.columns else ""
        related = part["related_row"] if "related_row" in part.columns else pd.Series(None, index=part.index)
        part["related_row"] = related.astype("Int64")
        part["row"] = part["row"].astype("Int64")
        source = parsed[table].source_columns if table in parsed else {}
        part["source_column"] = part["column"].map(source).fillna(part["column"]).astype(object)
        frames.append(part)
    if not frames:
        return pd.DataFrame(columns=list(FAILURE_FIELDS))
    out = pd.concat(frames, ignore_index=True)
    labels = {t: parsed[t].label for t in parsed}
    out["related_file"] = out["related_table"].map(labels).fillna("").astype(object)
    out["value"] = _fill(parsed, out, "table", "row", "column")
    out["related_value"] = _fill(parsed, out, "related_table", "related_row", "related_column")
    out[list(ID_FIELDS)] = _ids(parsed, out)
    order = {t: i for i, t in enumerate(TABLES)}
    out = out.assign(_t=out["table"].map(order)).sort_values(
        ["severity", "_t", "row", "column", "rule"], kind="stable", na_position="first"
    )
    return out[list(FAILURE_FIELDS)].reset_index(drop=True)


def validate_export(
    export: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    validation_date: dt.date | None = None,
    columns: tuple[ExtraColumn, ...] = (),
) -> ValidationReport:
    """Read an export and check every rule of the contract; never raises on bad data.

    Parameters
    ----------
    export
        A folder of CSV/Parquet files (``patients``, ``episodes``, ``imaging``, ``events``) or
        an Excel workbook with a sheet per table.
    mapping
        A mapping file (or parsed mapping) for an export with its own names and codes.
    validation_date
        The day the "no date in the future" rules compare with (default: today).
    columns
        Extra columns declared for the analyses (:mod:`toh.cohort.columns`): each is typed, a
        value of the wrong type is a failure (rule ``number`` or ``boolean``) and an absent one
        a ``column_missing`` error.

    Returns
    -------
    ValidationReport

    Raises
    ------
    cohort.errors.ConfigError
        The export or mapping cannot be found or read at all, or a declaration is unusable.
    """
    try:
        columns = check_columns(columns)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(mapping, ColumnMapping):
        mapping = load_mapping(mapping)
    day = validation_date or dt.date.today()
    files = locate_export(export, mapping)
    parsed: dict[str, ParsedTable] = {}
    parts: list[tuple[str, pd.DataFrame]] = []
    for table in TABLES:
        raw = read_table(files, table, mapping)
        if raw is None:
            severity = "error" if table in REQUIRED_TABLES else "warning"
            message = files.absent(table, mapping) + ("" if severity == "error" else
                                                       ": the estimates that need it are not estimable")
            parts.append((table, pd.DataFrame({"severity": [severity], "row": pd.array([None], dtype="Int64"),
                                               "column": [""], "rule": ["table_present"], "message": [message]})))
            continue
        parsed[table] = parse_table(raw, mapping, tuple(c for c in columns if c.table == table))
    with validating_on(day):
        for table, item in parsed.items():
            flagged = item.issues
            found = _pandera_failures(item)
            bad_cells = set(zip(flagged["row"].dropna(), flagged["column"]))
            missing_columns = set(flagged.loc[flagged["rule"] == "column_missing", "column"])
            keep = [
                (r, c) not in bad_cells and c not in missing_columns
                for r, c in zip(found["row"].fillna(-1), found["column"])
            ]
            parts.append((table, flagged))
            parts.append((table, found[keep]))
    typed = {t: (parsed[t].typed if t in parsed else empty_table(t, absent=True)) for t in TABLES}
    # References are checked only against a parent that is there: an absent table or key column
    # is one failure of its own, not one per row that refers to it.
    checkable = {t: typed[t] for t in parsed if not _key_missing(parsed[t])}
    checkable.update({t: typed[t] for t in TABLES if t not in parsed and t not in REQUIRED_TABLES})
    parts += [(t, g.drop(columns="table")) for t, g in check_cross_table(checkable).groupby("table", sort=False)]
    return ValidationReport(
        export=Path(export),
        mapping=mapping,
        validation_date=day,
        tables=typed,
        failures=_finish(parsed, parts),
        rows={t: len(parsed[t].typed) if t in parsed else 0 for t in TABLES},
        files={t: parsed[t].label for t in parsed},
        columns=columns,
    )


def _key_missing(parsed: ParsedTable) -> bool:
    """Whether the table lacks its own id column (the column others refer to)."""
    key = {"patients": "patient_id", "episodes": "episode_id"}.get(parsed.name)
    issues = parsed.issues
    return key is not None and bool(((issues["rule"] == "column_missing") & (issues["column"] == key)).any())



def load_valid_export(
    export: str | Path,
    mapping: str | Path | ColumnMapping | None = None,
    *,
    validation_date: dt.date | None = None,
    columns: tuple[ExtraColumn, ...] = (),
) -> ValidationReport:
    """:func:`validate_export`, raising :class:`InvalidDataError` when the export is invalid."""
    report = validate_export(export, mapping, validation_date=validation_date, columns=columns)
    if not report.is_valid:
        raise InvalidDataError(f"{export}: {len(report.errors)} validation error(s)", report)
    return report
