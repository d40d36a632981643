"""Publication tables: Table 1 and result tables formatted as journals print them, with
small-cell suppression, rendered to HTML, CSV and LaTeX.

Formatting is applied here, at render time; the numbers come from :mod:`analyses` untouched.
Counts from 1 to ``min_cell - 1`` are shown as "<min_cell" (zeros are shown), and where a single
cell of a variable is suppressed the next smallest non-zero cell is suppressed too, so that the
known total does not reveal it (complementary suppression).
"""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import pandas as pd

from typing import TYPE_CHECKING

from toh.analyses.baseline import BaselineResult
from toh.cohort.safe_csv import write_csv
from toh.reports.safe_text import neutralise

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import CohortAnalysis

__all__ = ["suppression_mask", "table_one", "format_estimate", "render_table", "LABELS"]

#: Row labels of Table 1.
LABELS: dict[str, str] = {
    "age_at_onset_years": "Age at onset, years, median [IQR]",
    "age_group": "Age group, years, n (%)",
    "side": "Index hip, n (%)",
    "pregnancy": "Pregnancy status at onset (women), n (%)",
    "trimester": "Trimester (pregnant women), n (%)",
    "treatment": "Treatment, n (%)",
    "bilateral": "Bilateral presentation, n (%)",
    "followup_months": "Follow-up, months, median [IQR]",
    "resolved": "Resolved during follow-up, n (%)",
}
_HEADERS = {"all": "All", "M": "Men", "F": "Women"}


def suppression_mask(counts: pd.Series, groups: pd.Series, min_cell: int) -> pd.Series:
    """Which counts to suppress: 0 < n < min_cell, plus one complementary cell per group.

    Parameters
    ----------
    counts
        Cell counts.
    groups
        Group of each cell (cells whose total is shown together, e.g. the levels of one
        variable in one column).
    min_cell
        Smallest count shown.
    """
    primary = (counts > 0) & (counts < min_cell)
    mask = primary.copy()
    for _, members in counts.groupby(groups, sort=False):
        hidden = mask[members.index]
        if hidden.sum() == 1 and len(members) > 1:
            others = members[~hidden & (members > 0)]
            if len(others):
                mask[others.idxmin()] = True
    return mask


def _number(value: float, digits: int = 1) -> str:
    return "NA" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_estimate(estimate: float, lower: float, upper: float, digits: int = 2, scale: float = 1.0) -> str:
    """"estimate (lower to upper)", NA where a bound does not exist (journals' estimate (95% CI))."""
    return f"{_number(estimate * scale, digits)} ({_number(lower * scale, digits)} to {_number(upper * scale, digits)})"


def table_one(baseline: BaselineResult | CohortAnalysis, min_cell: int = 5) -> pd.DataFrame:
    """Table 1 as strings: one row per variable and level, columns All / Men / Women.

    ``baseline`` is Table 1's data, or a whole analysis (:func:`toh.analyse_cohort`), whose
    ``baseline`` it is.

    Counts are "n (%)" of the patients with the variable recorded; continuous variables are
    "median [q1, q3]"; a "missing" row follows a variable that has missing values.
    """
    frame = getattr(baseline, "baseline", baseline).table.copy()
    counts = frame["kind"] == "count"
    keys = frame.loc[counts, "variable"] + "|" + frame.loc[counts, "column"]
    mask = suppression_mask(frame.loc[counts, "n"], keys, min_cell).reindex(frame.index, fill_value=False).astype(bool)
    cells = []
    for i, row in frame.iterrows():
        if row["kind"] == "continuous":
            text = f"{row['median']:.1f} [{row['q1']:.1f}, {row['q3']:.1f}]" if row["n"] else "NA"
        elif mask[i]:
            text = f"<{min_cell}"
        else:
            pct = 100 * row["n"] / row["denominator"] if row["denominator"] else float("nan")
            text = f"{int(row['n'])} ({_number(pct)})"
        cells.append(text)
    frame["cell"] = cells
    header = frame[frame["variable"] == "age_at_onset_years"].set_index("column")["n"] + \
        frame[frame["variable"] == "age_at_onset_years"].set_index("column")["missing"]
    rows = [("Patients, n", "", *[str(int(header.get(c, 0))) for c in _HEADERS])]
    for variable, group in frame.groupby("variable", sort=False):
        label = LABELS.get(variable, variable)
        wide = group.pivot(index="level", columns="column", values="cell")
        order = list(dict.fromkeys(group["level"]))
        for level in order:
            rows.append((label, level, *[wide.loc[level].get(c, "") for c in _HEADERS]))
        missing = group.drop_duplicates("column").set_index("column")["missing"]
        if missing.sum() > 0:
            shown = [("<" + str(min_cell)) if 0 < missing.get(c, 0) < min_cell else str(int(missing.get(c, 0)))
                     if c in missing.index else "" for c in _HEADERS]
            rows.append((label, "missing", *shown))
    return pd.DataFrame(rows, columns=["characteristic", "level", *[_HEADERS[c] for c in _HEADERS]])


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}", "<": r"\textless{}", ">": r"\textgreater{}"}


def _latex_escape(text: str) -> str:
    """Every LaTeX special character replaced in one pass (so no replacement is escaped again);
    bidi and control characters made visible, and line ends (a blank line would end the table's
    paragraph) written as spaces."""
    text = re.sub(r"\r\n?|\n", " ", neutralise(text))
    return "".join(_LATEX.get(char, char) for char in text)


def render_table(table: pd.DataFrame, fmt: str, path: str | Path | None = None, caption: str = "") -> str:
    """Render a formatted table as "html" (escaped), "csv" (formula cells defused) or "latex".

    Returns the text; also writes it to ``path`` when given.
    """
    if fmt == "csv":
        if path is None:
            from toh.cohort.safe_csv import defuse

            return defuse(table).to_csv(index=False, lineterminator="\n")
        write_csv(table, path)
        return Path(path).read_text(encoding="utf-8")
    if fmt == "html":
        head = "".join(f"<th>{html.escape(neutralise(str(c)))}</th>" for c in table.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(neutralise(str(v)))}</td>" for v in row) + "</tr>"
                       for row in table.itertuples(index=False))
        cap = f"<caption>{html.escape(neutralise(caption))}</caption>" if caption else ""
        text = f'<table class="toh-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
    elif fmt == "latex":
        spec = "l" * len(table.columns)
        lines = [r"\begin{table}", r"\centering"]
        if caption:
            lines.append(r"\caption{" + _latex_escape(caption) + "}")
        lines += [r"\begin{tabular}{" + spec + "}", r"\hline",
                  " & ".join(_latex_escape(str(c)) for c in table.columns) + r" \\", r"\hline"]
        lines += [" & ".join(_latex_escape(str(v)) for v in row) + r" \\" for row in table.itertuples(index=False)]
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        text = "\n".join(lines) + "\n"
    else:
        raise ValueError(f"unknown table format {fmt!r}: html, csv or latex")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
