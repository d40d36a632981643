"""The text of a CSV table before it is parsed: decoding, header names, and finding the line at fault.

Everything here runs once per file (decoding, the header) or only after a file failed to parse
(finding the record at fault), so the fast path of reading stays in Arrow.  Every message names
the file and a line as an editor shows it (line 1 is the header; ``\\r\\n``, ``\\n`` and a lone
``\\r`` each end a line), never a byte offset, and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter

from toh.cohort.errors import ConfigError, UnreadableDataError

__all__ = ["decode", "check_header", "first_line", "line_at", "short_record", "unclosed_quote_line"]

#: byte-order marks, longest first, and the codec each one means
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_LINE_END = re.compile(r"\r\n?|\n")
_SHOWN_PROBLEMS = 5


def _same_codec(a: str, b: str) -> bool:
    try:
        return codecs.lookup(a).name == codecs.lookup(b).name
    except LookupError:
        return a.lower() == b.lower()


def line_at(text: str | bytes, offset: int) -> int:
    """The line (1-based) holding character (or byte) ``offset`` of ``text``."""
    head = text[:offset]
    if isinstance(head, bytes):
        return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
    return head.count("\n") + head.count("\r") - head.count("\r\n") + 1


def _encoding_hint(data: bytes, encoding: str) -> str:
    """What the user can set in the mapping file to read ``data``."""
    if data.count(b"\x00") * 4 > len(data):
        return ('the file looks like UTF-16 without a byte-order mark: set encoding = "utf-16-le" '
                "under [export] in the mapping file")
    for candidate in ("cp1252", "latin-1"):
        if _same_codec(candidate, encoding):
            continue
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return (f'save it as UTF-8, or set encoding = "{candidate}" under [export] in the mapping file '
                "if that is how it was written")
    return "save it as UTF-8, or set its encoding under [export] in the mapping file"


def decode(data: bytes, encoding: str, label: str) -> tuple[str, bytes]:
    """The text of a CSV file, and that text as UTF-8 bytes (``data`` itself when it is UTF-8).

    A byte-order mark decides the codec (UTF-8, or UTF-16 little- or big-endian) whatever the
    mapping says; otherwise ``encoding`` is used.

    Raises
    ------
    UnreadableDataError
        The bytes are not text in that codec, or the text holds a NUL character; the message
        names the line and what to set in the mapping file.
    """
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableDataError(f"{label}: a zip archive, not text: a workbook (.xlsx) saved under a CSV name? "
                                  "Export the sheet as CSV, or give the workbook itself as the export")
    for mark, codec in _BOMS:
        if data.startswith(mark):
            data, encoding = data[len(mark):], codec
            break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = line_at(data, exc.start)
        byte = data[exc.start: exc.start + 1].hex()
        raise UnreadableDataError(
            f"{label}: line {line} is not valid {encoding} text (byte 0x{byte}); "
            f"{_encoding_hint(data, encoding)}"
        ) from None
    except LookupError:  # the mapping checks its encoding; this guards a parsed mapping built in code
        raise ConfigError(f"{label}: unknown encoding {encoding!r}") from None
    nul = text.find("\x00")
    if nul >= 0:
        hint = ("the file looks like UTF-16 without a byte-order mark: set encoding = \"utf-16-le\" "
                "under [export] in the mapping file" if text.count("\x00") * 4 > len(text)
                else "the file is damaged or not a text file")
        raise UnreadableDataError(f"{label}: line {line_at(text, nul)} holds a NUL character (\\x00); {hint}")
    return text, (data if _same_codec(encoding, "utf-8") else text.encode("utf-8"))


def first_line(text: str) -> str:
    """The text up to the first line end (a lone ``\\r`` ends a line too)."""
    found = _LINE_END.search(text)
    return text if found is None else text[: found.start()]


def check_header(names: list[str], label: str) -> None:
    """Refuse a header with an empty, blank or repeated column name, naming each by position.

    Linear in the number of columns (a header of 50,000 names is checked at once).

    Raises
    ------
    UnreadableDataError
        One message listing the first few problems (column 1 is the leftmost).
    """
    stripped = [name.strip() for name in names]
    problems = []
    for position, (raw, name) in enumerate(zip(names, stripped), start=1):
        if not name:
            problems.append(f"column {position} has no name" if not raw else f"column {position} has a blank name")
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(stripped, start=1):
        if name:
            positions.setdefault(name, []).append(position)
    counts = Counter(stripped)
    for name, where in positions.items():
        if counts[name] > 1:
            shown = ", ".join(map(str, where[:_SHOWN_PROBLEMS])) + (", ..." if len(where) > _SHOWN_PROBLEMS else "")
            problems.append(f"columns {shown} are all named {name[:60]!r}")
    if problems:
        more = f"; and {len(problems) - _SHOWN_PROBLEMS} more" if len(problems) > _SHOWN_PROBLEMS else ""
        raise UnreadableDataError(
            f"{label}: the header (line 1) needs one distinct name per column: "
            + "; ".join(problems[:_SHOWN_PROBLEMS]) + more
        )


def short_record(text: str, delimiter: str, width: int) -> tuple[int, int] | None:
    """The first record whose number of fields is not ``width``: (its first line, its fields).

    Blank lines are skipped, as the reader skips them.  Runs only after a parse failed.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    previous = 0
    for record in reader:
        start, previous = previous + 1, reader.line_num
        if start == 1 or not record or record == [""]:
            continue
        if len(record) != width:
            return start, len(record)
    return None


def unclosed_quote_line(text: str, delimiter: str) -> int | None:
    """The line where a quoted value starts that the file never closes (a file cut off inside a
    quoted value), or None.  An odd number of quote characters is the cheap test."""
    if text.count('"') % 2 == 0:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous = 0
    try:
        for _ in reader:
            previous = reader.line_num
    except csv.Error as exc:
        return previous + 1 if "unexpected end of data" in str(exc) else None
    return None
