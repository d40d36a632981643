"""Reading a built report's HTML in tests: every number the report marks (span data-key, with
its value, scale, digits and kind), its sections, tables, images and paragraphs."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

__all__ = ["Spans", "parse_report", "expected_text"]


class Spans(HTMLParser):
    """Collects the marked numbers (span data-key), the sections, tables and images of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[dict[str, str]] = []
        self.sections: list[str] = []
        self.tables: list[str] = []
        self.images: list[dict[str, str]] = []
        self.paragraphs: list[str] = []
        self._open: dict[str, str] | None = None
        self._paragraph: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "span" and "data-key" in a:
            self._open = dict(a, text="")
        elif tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "table":
            self.tables.append(a.get("data-table", ""))
        elif tag == "img":
            self.images.append(a)
        elif tag == "p" and self.sections and not a.get("class"):
            self._paragraph = ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data
        if self._paragraph is not None:
            self._paragraph += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.numbers.append(self._open)
            self._open = None
        elif tag == "p" and self._paragraph is not None:
            self.paragraphs.append(self._paragraph)
            self._paragraph = None

    @property
    def figures(self) -> list[str]:
        """The figure names of the page's images."""
        return [i.get("data-figure", "") for i in self.images]


def parse_report(path: Path) -> Spans:
    """The marked numbers, sections, tables, images and paragraphs of a report page."""
    parser = Spans()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def expected_text(value: float, scale: float, digits: int, kind: str) -> str:
    """The text the report's Writer shows for a number of ``kind``."""
    if kind in ("count", "record"):
        return f"{int(round(value)):,}"
    if kind == "p" and value < 0.001:
        return "<0.001"
    return f"{value * scale:.{digits}f}"


def assert_shown_as_in_results(shown: list[dict[str, str]], results: dict[str, object]) -> None:
    """Every shown number of a report is the very double results.json holds under its key, and
    its text is the one the Writer makes of it (:func:`expected_text`)."""
    for span in shown:
        key = span["data-key"]
        assert key in results, f"{key} is not in results.json"
        value = float(span["data-value"])
        assert value == results[key], key
        expected = expected_text(value, float(span["data-scale"]), int(span["data-digits"]), span["data-kind"])
        assert span["text"] == expected, (key, span["text"], expected)
