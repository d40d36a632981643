"""Read the tables of a registry export as they are on disk (found by :mod:`toh.cohort.locate`):
CSV or Parquet files, or the sheets of one workbook.

Each table is returned as read, with its cells as text (CSV, Excel) or as typed by the writer
(Parquet), whitespace stripped and missing-value texts turned into empty cells.  The index of
every frame is the *source row*: the line of a CSV file where the record starts (header = 1;
quoted newlines and blank lines are accounted for), the row of a worksheet, or the 1-based
record number of a Parquet file.  That is the row a user is told about when a value is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toh.cohort.csvtext import check_header, decode, first_line, short_record, unclosed_quote_line
from toh.cohort.errors import UnreadableDataError
from toh.cohort.locate import ExportFiles
from toh.cohort.mapping import ColumnMapping
from toh.schemas.text import TEXT_DTYPE

__all__ = ["RawTable", "read_table"]

#: Arrow reads CSV in blocks of 16 MB (parsed in parallel, in few chunks: takes and look-ups on a
#: column in hundreds of chunks cost ten times more); a record longer than a block is read again
#: with one block for the whole file, up to Arrow's limit.
_BLOCK = 1 << 24
_MAX_BLOCK = (1 << 31) - 1
#: Arrow's words for a record (or the header) longer than a block
_TOO_LONG = re.compile(r"straddl|larger than block size")


@dataclass(frozen=True)
class RawTable:
    """One table as read: source-row index, the export's own column names."""

    name: str
    path: Path
    kind: str  # "csv", "parquet" or "excel"
    frame: pd.DataFrame
    #: day zero of a workbook's serial dates (1899-12-30, or 1904-01-01 for the 1904 system)
    excel_epoch: dt.date | None = None

    @property
    def label(self) -> str:
        """How the table's file is named in messages (``book.xlsx[Patients]`` for a sheet)."""
        return f"{self.path.name}[{self.sheet}]" if self.kind == "excel" else self.path.name

    @property
    def sheet(self) -> str:
        return str(self.frame.attrs.get("sheet", ""))


#: first or last bytes of a cell that may be whitespace: ASCII spaces and separators, and any
#: byte of a multi-byte UTF-8 character (whose trimming is left to Arrow)
_MAYBE_SPACE = np.zeros(256, dtype=bool)
_MAYBE_SPACE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_MAYBE_SPACE[0x80:] = True


def _cell_bounds(column: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Start and end offsets of each cell of a string array, and its bytes (None: no bytes at all)."""
    _, offsets, data = column.buffers()
    if data is None or data.size == 0 or len(column) == 0:
        return None
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[column.offset: column.offset + len(column) + 1]
    return bounds[:-1], bounds[1:], np.frombuffer(data, dtype=np.uint8)


def _may_need_trim(column: pa.Array) -> bool:
    """False when no cell starts or ends with a byte that could be whitespace (a cheap test).

    Empty cells are not skipped: the bytes read for them belong to a neighbouring cell, which
    at worst makes the test say "maybe".
    """
    found = _cell_bounds(column)
    if found is None:
        return False
    start, stop, data = found
    last = len(data) - 1
    return bool(_MAYBE_SPACE[data[np.minimum(start, last)]].any()
                or _MAYBE_SPACE[data[np.maximum(stop - 1, 0)]].any())


def _may_be_blank(column: pa.Array, lengths: np.ndarray) -> bool:
    """False when no cell (nor a null) has one of the byte ``lengths`` of the missing-value texts."""
    if column.null_count:
        return True
    found = _cell_bounds(column)
    if found is None:
        return len(column) > 0  # every cell is empty
    start, stop, _ = found
    hit = np.zeros(int(lengths.max()) + 2, dtype=bool)
    hit[lengths] = True
    return bool(hit[np.minimum(stop - start, len(hit) - 1)].any())


def _clean(table: pa.Table, missing: tuple[str, ...]) -> pa.Table:
    """Strip whitespace of text columns and turn missing-value texts into nulls.

    A column none of whose cells can hold whitespace at either end, or a missing-value text,
    is passed through untouched: testing that on the cells' bytes costs far less than trimming
    and matching every cell (and copying the column).
    """
    arrays = []
    blanks = sorted(set(missing) | {""})
    lengths = np.unique([len(b.encode("utf-8")) for b in blanks])
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if all(_cell_bounds(chunk) is None for chunk in column.chunks):  # every cell empty: no work
                arrays.append(pa.nulls(len(column), column.type))
                continue
            if any(_may_need_trim(chunk) for chunk in column.chunks):
                column = pc.utf8_trim_whitespace(column)
            if any(_may_be_blank(chunk, lengths) for chunk in column.chunks):
                blank = pc.is_in(column, value_set=pa.array(blanks, type=column.type))
                if pc.any(blank).as_py():
                    column = pc.if_else(blank, None, column)
        arrays.append(column)
    return pa.table(arrays, names=table.column_names)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """A cleaned table as pandas: text stays in Arrow memory, whole numbers and booleans nullable."""
    types = {pa.string(): TEXT_DTYPE, pa.large_string(): TEXT_DTYPE, pa.bool_(): pd.BooleanDtype(),
             pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}
    return table.to_pandas(date_as_object=False, types_mapper=types.get)


def _csv_lines(data: bytes, text: str | None, n_rows: int, delimiter: str) -> np.ndarray:
    """Source line of each record: fast when every record is one line, else from the reader."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if lines == n_rows + 1:
        return np.arange(2, n_rows + 2, dtype="int64")
    reader = csv.reader(io.StringIO(text or "", newline=""), delimiter=delimiter)  # \r, \n, \r\n end a line
    starts, previous = [], 0
    for record in reader:
        if record and any(cell.strip() for cell in record):
            starts.append(previous + 1)
        previous = reader.line_num
    return np.asarray(starts[1:], dtype="int64")


def _arrow_csv(utf8: bytes, header: list[str], delimiter: str) -> pa.Table:
    """Parse UTF-8 CSV bytes (text columns only); a record longer than a block gets one block.

    Arrow's own handling of Ctrl-C is off during the read (``pyarrow.enable_signal_handlers``,
    on again after): it swaps the process's SIGINT and SIGTERM handlers for its own and back,
    and a signal that lands meanwhile could be lost (its stop request comes from a thread of
    Arrow's, after the read has finished) or raised a second time after the command had handled
    it (the process then died by SIGINT instead of exiting 130).  The read takes a second at
    most; the process's handler acts as soon as it returns.
    """
    import pyarrow.csv as pacsv

    pa.enable_signal_handlers(False)
    try:
        return _arrow_csv_blocks(pacsv, utf8, header, delimiter)
    finally:
        pa.enable_signal_handlers(True)  # Arrow's default


def _arrow_csv_blocks(pacsv: Any, utf8: bytes, header: list[str], delimiter: str) -> pa.Table:
    block = _BLOCK
    while True:
        try:
            return pacsv.read_csv(
                pa.BufferReader(utf8),
                read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=block),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.large_string() for h in header},  # pandas keeps text as large
                    strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if not _TOO_LONG.search(str(exc)) or block >= min(len(utf8) + 1, _MAX_BLOCK):
                raise
            block = min(len(utf8) + 1, _MAX_BLOCK)


def _read_csv(path: Path, mapping: ColumnMapping) -> pd.DataFrame:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableDataError(f"{path.name}: cannot be read: {exc.strerror}") from None
    text, utf8 = decode(data, mapping.encoding, path.name)
    line = first_line(text)
    if not line.strip():
        raise UnreadableDataError(f"{path.name}: line 1 should be the header (the column names) but is empty")
    header = next(csv.reader([line], delimiter=mapping.delimiter), [])
    check_header(header, path.name)
    header = [h.strip() for h in header]
    try:
        table = _arrow_csv(utf8, header, mapping.delimiter)
    except pa.ArrowInvalid as exc:
        _explain_csv_failure(path.name, text, mapping.delimiter, len(header), exc)
    if text.count('"') % 2:  # Arrow reads a file cut off inside a quoted value without a word
        start = unclosed_quote_line(text, mapping.delimiter)
        if start is not None:
            raise UnreadableDataError(f"{path.name}: the quoted value that starts on line {start} is never closed "
                                      "(the file may be cut off)")
    frame = _to_pandas(_clean(table, mapping.missing))
    frame.index = pd.Index(_csv_lines(utf8, text, len(frame), mapping.delimiter), name="row")
    return frame


def _explain_csv_failure(label: str, text: str, delimiter: str, width: int, exc: Exception) -> None:
    """Raise the error a user can act on for a CSV file Arrow could not parse (the slow path)."""
    start = unclosed_quote_line(text, delimiter)
    if start is not None:
        raise UnreadableDataError(f"{label}: the quoted value that starts on line {start} is never closed "
                                  "(the file may be cut off)")
    bad = short_record(text, delimiter, width)
    if bad is not None:
        raise UnreadableDataError(
            f"{label}: the record on line {bad[0]} has {bad[1]} field(s) where the header has {width} "
            f"(a record cut off, or a {delimiter!r} inside a value that is not quoted?)"
        )
    if _TOO_LONG.search(str(exc)):
        raise UnreadableDataError(f"{label}: a record is longer than the reader's limit of 2 GB") from None
    raise UnreadableDataError(f"{label}: not a readable CSV file: {exc}") from None


def _read_parquet(path: Path, mapping: ColumnMapping) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError):  # Arrow's text may quote the file
        raise UnreadableDataError(f"{path.name}: not a readable Parquet file: damaged or in another format") from None
    check_header(table.column_names, path.name)
    frame = _to_pandas(_clean(table, mapping.missing))
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return frame


def _excel_cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_sheet(path: Path, sheet: str, mapping: ColumnMapping) -> tuple[pd.DataFrame, dt.date]:
    try:
        return _sheet_frame(path, sheet, mapping)
    except UnreadableDataError:
        raise
    except Exception:  # openpyxl raises many types for a damaged workbook; their text may quote it
        raise UnreadableDataError(f"{path.name}[{sheet}]: the sheet cannot be read: the workbook is damaged") from None


def _sheet_frame(path: Path, sheet: str, mapping: ColumnMapping) -> tuple[pd.DataFrame, dt.date]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        epoch = book.epoch.date() if isinstance(book.epoch, dt.datetime) else book.epoch
        rows = book[sheet].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        while header and header[-1].strip() == "":
            header.pop()
        check_header(header, f"{path.name}[{sheet}]")
        header = [h.strip() for h in header]
        records, numbers = [], []
        for number, row in enumerate(rows, start=2):
            cells = [_excel_cell(v) for v in row[: len(header)]]
            if any(c is not None and str(c).strip() for c in cells):
                records.append(cells + [None] * (len(header) - len(cells)))
                numbers.append(number)
    finally:
        book.close()
    table = pa.table({h: pa.array([r[i] for r in records], type=pa.string()) for i, h in enumerate(header)})
    frame = _to_pandas(_clean(table, mapping.missing))
    frame.index = pd.Index(np.asarray(numbers, dtype="int64"), name="row")
    frame.attrs["sheet"] = sheet
    return frame, epoch


def read_table(files: ExportFiles, table: str, mapping: ColumnMapping) -> RawTable | None:
    """Read one table of a located export; ``None`` when the export has no such table.

    Raises
    ------
    UnreadableDataError
        The file cannot be decoded or parsed at all (not text in its encoding, a record cut off,
        a header without distinct names, not a CSV / Parquet / workbook).
    """
    if table not in files.locations:
        return None
    if files.kind == "excel":
        sheet = files.locations[table]
        frame, epoch = _read_sheet(files.root, sheet, mapping)
        return RawTable(table, files.root, "excel", frame, epoch)
    path = files.root / files.locations[table]
    if path.suffix.lower() in (".parquet", ".pq"):
        return RawTable(table, path, "parquet", _read_parquet(path, mapping))
    return RawTable(table, path, "csv", _read_csv(path, mapping))
