"""Where the tables of a registry export are, before anything is read.

An export is a folder of CSV/Parquet files (``patients.csv`` or a file the mapping names, which
must lie inside the folder) or one workbook with a sheet per table.  What is found is listed, so
that an absent table is one failure naming what is there instead and the closest name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from toh.cohort.errors import ConfigError, UnreadableDataError
from toh.cohort.mapping import ColumnMapping
from toh.schemas import TABLES

__all__ = ["ExportFiles", "locate_export", "export_inputs", "REQUIRED_TABLES"]

#: Tables an export must have; the others may be absent (read as empty, with a warning).
REQUIRED_TABLES: tuple[str, ...] = ("patients", "episodes")
_SUFFIXES = (".csv", ".parquet", ".pq")
_WORKBOOKS = (".xlsx", ".xlsm")
#: files (or sheets) named in the message of an absent table
_LISTED = 20


@dataclass(frozen=True)
class ExportFiles:
    """Where each table of an export is, before anything is read."""

    root: Path
    kind: str  # "folder" or "excel"
    #: table -> file (folder) or sheet name (workbook); absent tables are missing
    locations: dict[str, str]
    #: every file (folder, hidden ones left out) or sheet (workbook) there is, sorted
    found: tuple[str, ...] = ()

    def paths(self) -> list[Path]:
        """The files the export's tables are read from (the workbook, or each table's file), sorted."""
        if self.kind == "excel":
            return [self.root]
        return sorted({self.root / name for name in self.locations.values()})

    def absent(self, table: str, mapping: ColumnMapping) -> str:
        """Why ``table`` is absent: what was looked for, what there is, and the closest name."""
        spec = mapping.table(table)
        if self.kind == "excel":
            wanted, thing, key = [spec.sheet or table], "sheet", "sheet"
            looked = f"no sheet {wanted[0]!r} in {self.root.name}"
        else:
            wanted, thing, key = ([spec.file] if spec.file else [table + s for s in _SUFFIXES]), "file", "file"
            looked = (f'[tables.{table}].file = "{spec.file}" is not in the export folder' if spec.file
                      else f"no {' or '.join(wanted[:2])} in the export folder")
        listed = ", ".join(self.found[:_LISTED]) + (f" and {len(self.found) - _LISTED} more"
                                                    if len(self.found) > _LISTED else "")
        text = f"{looked}; {thing}s found: {listed}" if self.found else f"{looked}, which holds no {thing}s"
        taken = set(self.locations.values())
        spare = [name for name in self.found if name not in taken]
        for name in wanted:
            close = difflib.get_close_matches(name, spare, n=1, cutoff=0.6)
            if close:
                return (f"{text}; did you mean {close[0]!r} for {name!r}? (rename it, or set "
                        f'{key} = "{close[0]}" under [tables.{table}] in the mapping file)')
        return text


def _inside(root: Path, named: str, table: str, mapping: ColumnMapping, from_mapping: bool = True) -> None:
    """Refuse a table file (named by the mapping, or found by its default name) that resolves,
    symlinks followed, outside the export folder."""
    base = root.resolve()
    target = (root / named).resolve()
    if target.is_relative_to(base):
        return
    if from_mapping:
        raise ConfigError(f'{mapping.source or "mapping"}: [tables.{table}].file = "{named}" points outside '
                          f"the export folder {root}")
    raise ConfigError(f"{root / named} is a link to a file outside the export folder {root}; an export's "
                      "tables must be in its folder: copy the file in")


def locate_export(path: str | Path, mapping: ColumnMapping) -> ExportFiles:
    """Find the file (or sheet) of each table of the export at ``path``.

    Raises
    ------
    ConfigError
        ``path`` does not exist or is neither a folder nor a workbook; a table's ``file`` in the
        mapping points outside the export folder.
    UnreadableDataError
        ``path`` is a workbook that cannot be opened.
    """
    root = Path(path)
    if not root.exists():
        raise ConfigError(f"export not found: {root}")
    if root.is_file() and root.suffix.lower() in _WORKBOOKS:
        import openpyxl

        try:
            book = openpyxl.load_workbook(root, read_only=True)
            names = list(book.sheetnames)
            book.close()
        except Exception:  # openpyxl raises many types for a broken file; their text may quote it
            raise UnreadableDataError(f"{root.name}: not a readable workbook (.xlsx): the file is damaged "
                                      "or in another format") from None
        sheets = {t: mapping.table(t).sheet or t for t in TABLES}
        return ExportFiles(root, "excel", {t: s for t, s in sheets.items() if s in names}, tuple(sorted(names)))
    if not root.is_dir():
        raise ConfigError(
            f"{root}: an export is a folder of CSV/Parquet files or an Excel workbook (.xlsx)"
        )
    for table in TABLES:
        if mapping.table(table).file:
            _inside(root, str(mapping.table(table).file), table, mapping)
    found: dict[str, str] = {}
    for table in TABLES:
        named = mapping.table(table).file
        candidates = [named] if named else [table + s for s in _SUFFIXES]
        for name in candidates:
            if (root / name).is_file():
                _inside(root, name, table, mapping, from_mapping=bool(named))  # a link elsewhere is not the export's
                found[table] = name
                break
    present = tuple(sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and p.is_file()))
    return ExportFiles(root, "folder", found, present)


def export_inputs(path: str | Path, mapping: ColumnMapping) -> list[Path]:
    """The files an export's tables are read from, as the mapping resolves them (see
    :meth:`ExportFiles.paths`); what a fingerprint of the export hashes."""
    return locate_export(path, mapping).paths()
