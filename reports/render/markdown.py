"""Render a report document as Markdown (GitHub-flavoured pipe tables, figures as PNG links).

Markdown passes raw HTML through to most renderers, so every text is escaped: ``& < >`` become
entities and Markdown's own punctuation is backslash-escaped, so a hostile value shows as text.
"""

from __future__ import annotations

import re
from pathlib import Path

from toh.reports.document._writer import ReportDocument, Text, plain_text
from toh.reports.safe_text import neutralise

__all__ = ["render_markdown", "md_escape"]

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: str) -> str:
    """Text safe to place in Markdown: bidi and control characters made visible, HTML entities for
    & < >, backslashes before punctuation, line ends as spaces."""
    text = neutralise(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    return text.replace("\r", " ").replace("\n", " ")


def _cell(text: Text | str) -> str:
    return md_escape(plain_text(text))


def render_markdown(doc: ReportDocument, out: str | Path, figures_rel: str = "figures") -> Path:
    """Write the report as Markdown; figures are linked as ``figures_rel/<name>.png``."""
    lines = [f"# {md_escape(doc.title)}", "", f"*{md_escape(doc.subtitle)}*", "", "## Contents", ""]
    lines += [f"{i}. [{md_escape(s.title)}](#{s.id})" for i, s in enumerate(doc.sections, 1)]
    for section in doc.sections:
        lines += ["", f'<a id="{section.id}"></a>', "", f"## {md_escape(section.title)}", ""]
        for paragraph in section.paragraphs:
            lines += [_cell(paragraph), ""]
        for figure in section.figures:
            lines += [f"![{md_escape(figure.alt)}]({figures_rel}/{figure.name}.png)", "",
                      f"*{md_escape(figure.caption)}*", ""]
        for table in section.tables:
            lines += [f"**{md_escape(table.caption)}**", ""]
            lines.append("| " + " | ".join(md_escape(c) or " " for c in table.columns) + " |")
            lines.append("|" + "|".join("---" for _ in table.columns) + "|")
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
            if table.note:
                lines += [f"*{md_escape(table.note)}*", ""]
    path = Path(out)
    path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return path
