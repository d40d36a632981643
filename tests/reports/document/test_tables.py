"""Table 1 and rendering: counts and percentages by hand, suppression, escaping."""

from __future__ import annotations

import pandas as pd
import pytest

from toh.analyses.baseline import analyse_baseline
from builders import cohort_from_index
from toh.reports.document import tables
from toh.reports.document.disclosure import protect
from toh.reports.document.tables import format_estimate, render_table, table_one, table_one_layout


def _index(n_men: int = 8, n_women: int = 4) -> pd.DataFrame:
    n = n_men + n_women
    return pd.DataFrame({
        "sex": ["M"] * n_men + ["F"] * n_women,
        "age_at_onset": [45.0] * (n_men - 1) + [60.0] + [30.0] * n_women,
        "side": ["L"] * 6 + ["R"] * (n - 6),
        "pregnancy": [None] * n_men + ["pregnant"] * 3 + ["none"],
        "trimester": pd.array([None] * n_men + [3, 3, 2, None], dtype="Int64"),
        "pregnancy_associated": pd.array([False] * n_men + [True, True, True, False], dtype="boolean"),
        "treatment": ["conservative"] * (n - 1) + ["<script>alert(1)</script>"],
        "bilateral": [False] * (n - 1) + [True],
        "patient_followup_days": [365.25] * n,
        "resolved": [True] * n,
    })


def test_table_one_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    audits: list[tuple] = []  # each disclosure audit table_one runs: its counts, relations, min_cell and result

    def audited(cells, relations, min_cell):
        audits.append((cells, relations, min_cell, protect(cells, relations, min_cell)))
        return audits[-1][-1]

    monkeypatch.setattr(tables, "protect", audited)
    table = table_one(analyse_baseline(cohort_from_index(_index())), min_cell=3)
    rows = {(r.characteristic, r.level): r for r in table.itertuples(index=False)}
    # sides: L 6 (all men), R 6 = 2 men + 4 women.  Men's right 2 is small.  Women's left 0 stays
    # visible (a zero is never hidden), so left 6 = men's left, and men 8 - 6 gives the 2 back:
    # the audit hides both sides' totals and men and women, leaving men's right anywhere in 1..2
    assert rows[("Patients, n", "")][2:] == ("12", "not shown", "not shown")
    side_left, side_right = rows[("Index hip, n (%)", "left")], rows[("Index hip, n (%)", "right")]
    assert side_left.All == "not shown" and side_left.Men == "not shown" and side_left.Women == "0 (0.0)"
    assert side_right.Men == "<3" and side_right.Women == "not shown"
    # women: pregnant 3 (trimester 2: 1, trimester 3: 2), postpartum 0, none 1 -> "none" is hidden,
    # and "pregnant" with it (4 - 3 - 0 would give it back); the zero stays visible
    pregnancy = "Pregnancy status at onset (women), n (%)"
    assert rows[(pregnancy, "none")].Women == "<3" and rows[(pregnancy, "pregnant")].Women == "not shown"
    assert rows[(pregnancy, "postpartum")].Women == "0 (0.0)"
    assert rows[("Trimester (pregnant women), n (%)", "2")].Women == "<3"
    # no hidden small count of the table is left narrower than "<3" says, by the audit itself (the
    # one table_one ran, on the layout's counts and relations)
    layout = table_one_layout(analyse_baseline(cohort_from_index(_index())), 3)
    assert len(audits) == 1 and audits[0][:3] == (layout.cells, layout.relations, 3)
    result = audits[0][3]
    assert result.residual == () and result.narrowest() >= 1
    # men's ages shown while men and women are hidden would say which of them is the larger
    assert rows[("Age at onset, years, median [IQR]", "")][3:] == ("not shown", "not shown")
    # with min_cell 5 the 4 women's ages are a group too small to summarise; the 12 patients are
    # always shown, so "<5" women beside "not shown" men (at least 5) would be 12 - men in 1..4
    # only together with the other relations: the audit masks the women ("not shown" too)
    table5 = table_one(analyse_baseline(cohort_from_index(_index())), min_cell=5)
    age = table5[table5["characteristic"] == "Age at onset, years, median [IQR]"].iloc[0]
    assert age["Women"] == "not shown" and age["Men"] == "not shown"
    assert tuple(table5.iloc[0][2:]) == ("12", "not shown", "not shown")
    layout5 = table_one_layout(analyse_baseline(cohort_from_index(_index())), 5)
    assert len(audits) == 2 and audits[1][:3] == (layout5.cells, layout5.relations, 5)
    result5 = audits[1][3]
    assert "table1.patients.women" in result5.masked and result5.residual == ()


def test_rendering_escapes_hostile_text_and_defuses_csv() -> None:
    table = pd.DataFrame({"characteristic": ["<script>alert(1)</script>", "=cmd|' /C calc'!A0"], "value": ["50%", "a_b"]})
    out = render_table(table, "html")
    assert "<script>" not in out and "&lt;script&gt;" in out
    csv = render_table(table, "csv")
    assert "\n'=cmd" in csv
    latex = render_table(table, "latex", caption="Table 1")
    assert r"50\%" in latex and r"a\_b" in latex
    hostile = render_table(pd.DataFrame({"x": [r"\input{/etc/passwd} <5"]}), "latex")
    assert r"\textbackslash{}input\{/etc/passwd\} \textless{}5" in hostile


def test_format_estimate() -> None:
    assert format_estimate(0.768, 0.7458, 0.789) == "0.77 (0.75 to 0.79)"
    assert format_estimate(190, 186, float("nan"), digits=0) == "190 (186 to NA)"
