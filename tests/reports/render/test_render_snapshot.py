"""The renderers on a tiny hand-made document, compared with stored snapshots.

Run with ``TOH_UPDATE_SNAPSHOTS=1`` to rewrite the snapshots after an intended change, then
review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toh.reports.document._writer import Num, ReportDocument, ReportFigure, ReportTable, Section
from toh.reports.render.html import render_html
from toh.reports.render.markdown import render_markdown

SNAPSHOTS = Path(__file__).parent / "snapshots"
_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10" viewBox="0 0 20 10">'
        '<rect width="20" height="10" fill="#0072B2"/></svg>')


def _document() -> ReportDocument:
    hostile = '<script>alert("x")</script> & | *bold* [link](http://x)'
    sentence = ("Median ", Num("6.1", key="resolution.median.estimate_days", value=186.0, scale=12 / 365.25, digits=1), " months; ",
                Num("<5", key="complications.avn.all.events", value=2.0, suppressed=True, kind="count"), " AVN; p = ",
                Num("<0.001", key="resolution.logrank.treatment.p", value=9.2e-11, digits=3, kind="p"), ".")
    table = ReportTable("t", "A table", ("name", "estimate (95% CI)"),
                        (((hostile,), ("0.77 (0.75 to 0.79)",)), (("n",), (Num("<5", suppressed=True),))), note="a note")
    figure = ReportFigure("fig", "A caption", "An alt text")
    return ReportDocument("Title <b>", "subtitle", (Section("one", "One", (sentence, (hostile,)), (figure,), (table,)),), 5)


def _check(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("TOH_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing snapshot {path}: run with TOH_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("renderer", ["html", "md"])
def test_rendering_matches_the_snapshot(renderer: str, tmp_path: Path) -> None:
    (tmp_path / "fig.svg").write_text(_SVG)
    doc = _document()
    if renderer == "html":
        out = render_html(doc, tmp_path, tmp_path / "r.html", "0.0-test")
    else:
        out = render_markdown(doc, tmp_path / "r.md")
    text = out.read_text(encoding="utf-8")
    assert "<script>" not in text
    _check(f"tiny.{renderer}", text)
