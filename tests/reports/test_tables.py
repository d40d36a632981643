"""Table 1 and rendering: counts and percentages by hand, suppression, escaping."""

from __future__ import annotations

import pandas as pd

from toh.analyses.baseline import analyse_baseline
from builders import cohort_from_index
from toh.reports.tables import format_estimate, render_table, suppression_mask, table_one


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


def test_suppression_with_complement_by_hand() -> None:
    counts = pd.Series([3, 10, 12, 0, 20])
    groups = pd.Series(["a", "a", "a", "b", "b"])
    # group a: 3 < 5 is suppressed; its complement is the smallest other non-zero cell, 10
    assert list(suppression_mask(counts, groups, 5)) == [True, True, False, False, False]
    # two cells below the limit protect each other: no complement needed
    assert list(suppression_mask(pd.Series([2, 3, 30]), pd.Series(["a"] * 3), 5)) == [True, True, False]


def test_table_one_by_hand() -> None:
    table = table_one(analyse_baseline(cohort_from_index(_index())), min_cell=3)
    rows = {(r.characteristic, r.level): r for r in table.itertuples(index=False)}
    assert rows[("Patients, n", "")][2:] == ("12", "8", "4")
    # sides: L 6 (all men), R 6 = 2 men + 4 women; among men 6 (75.0) and 2 -> suppressed (<3),
    # and its only neighbour 6 is suppressed too (complement)
    side_left = rows[("Index hip, n (%)", "left")]
    assert side_left.All == "6 (50.0)" and side_left.Men == "<3" and side_left.Women == "0 (0.0)"
    assert rows[("Index hip, n (%)", "right")].Men == "<3"
    # women: pregnant 3, postpartum 0, none 1 -> "none" is suppressed, and "pregnant" with it
    # (otherwise 4 - 3 - 0 would reveal it); zeros stay visible
    pregnancy = "Pregnancy status at onset (women), n (%)"
    assert rows[(pregnancy, "none")].Women == "<3" and rows[(pregnancy, "pregnant")].Women == "<3"
    assert rows[(pregnancy, "postpartum")].Women == "0 (0.0)"
    assert rows[("Age at onset, years, median [IQR]", "")].Men == "45.0 [45.0, 45.0]"


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
