"""Text taken from an export, made safe to show in a rendered report.

An export's own text (an extra column's name, a code) can hold characters that change how the
text around them is shown without being visible themselves: Unicode bidirectional controls
(U+202A-U+202E, U+2066-U+2069, and the marks U+200E, U+200F, U+061C) reorder what follows, so
``"abc\\u202egpj.exe"`` reads as ``abcexe.jpg``; other control characters (C0 but tab and line
ends, DEL, C1, the Unicode line and paragraph separators) are invisible, break a table or reach a
terminal.  :func:`neutralise` replaces each with a visible escape (``\\u202e``); every renderer
(HTML, Markdown, the HTML and LaTeX tables) calls it on text before its own escaping.
"""

from __future__ import annotations

__all__ = ["neutralise", "shorten", "first_upper", "LONGEST_CELL"]

#: The most characters a table cell shows; a longer text (a free-text value typed into a code
#: column) is cut, with its length said, so that no renderer meets a cell taller than a page.
LONGEST_CELL = 120

_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROL = (*(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)
_TABLE = {code: f"\\u{code:04x}" for code in (*_BIDI, *_CONTROL)}


def neutralise(text: str) -> str:
    """``text`` with every bidirectional control and invisible control character replaced by a
    visible escape such as ``\\u202e`` (tab, line feed and carriage return are kept: each renderer
    decides what a line end becomes)."""
    return text.translate(_TABLE)


def shorten(text: str, limit: int = LONGEST_CELL) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was (``"abc... (12,000
    characters)"``); shorter text unchanged."""
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()}... ({len(text):,} characters)"


def first_upper(text: str) -> str:
    """``text`` with its first letter upper case and the rest as it is ("AVN per 100
    person-years", where ``str.capitalize`` would write "Avn per 100 person-years")."""
    return text[:1].upper() + text[1:]
