"""The disclosure engine on hand-made tables whose recoverable cells are known by hand, and a
property test on random tables with margins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from toh.reports.document.disclosure import (OTHER, Cell, Relation, at_most, audit, complement_of, fold_levels, protect,
                                    protection_width, small_range, summary_shown, total_of)


def _two_by_two(a: int = 2, b: int = 10, c: int = 8, d: int = 20) -> tuple[list[Cell], list[Relation]]:
    """a b | R1 / c d | R2 / C1 C2 | T."""
    values = {"a": a, "b": b, "c": c, "d": d, "R1": a + b, "R2": c + d, "C1": a + c, "C2": b + d, "T": a + b + c + d}
    cells = [Cell(k, v) for k, v in values.items()]
    relations = [total_of("row1", "R1", ["a", "b"]), total_of("row2", "R2", ["c", "d"]),
                 total_of("col1", "C1", ["a", "c"]), total_of("col2", "C2", ["b", "d"]),
                 total_of("rows", "T", ["R1", "R2"]), total_of("cols", "T", ["C1", "C2"])]
    return cells, relations


def test_one_hidden_cell_of_a_two_by_two_table_is_recovered_exactly() -> None:
    cells, relations = _two_by_two()
    assert audit(cells, relations, {"a"}) == {"a": (2.0, 2.0)}  # a = R1 - b


def test_secondary_suppression_hides_the_other_three_inner_cells() -> None:
    cells, relations = _two_by_two()
    result = protect(cells, relations, 5)
    assert result.primary == {"a"}
    assert result.secondary == {"b", "c", "d"}
    # b = 12 - a, c = 10 - a, d = 18 + a: with "<5" for a and "not shown" (>= 5) for the others,
    # a can be anything from 1 to 4 (c >= 5 allows up to 5): the table says no more than "<5"
    assert result.ranges["a"] == pytest.approx((1.0, 4.0))
    assert result.narrowest() == 3 and result.residual == ()
    # read without the labels (every hidden count >= 0), a is free between 0 and min(R1, C1) = 10
    assert audit(cells, relations, result.hidden)["a"] == pytest.approx((0.0, 10.0))


def test_two_hidden_cells_still_pin_each_other_through_the_other_margin() -> None:
    cells, relations = _two_by_two()
    # a and b hidden: row 1 alone does not give a, but column 2 gives b = C2 - d, so a = R1 - b
    assert audit(cells, relations, {"a", "b"})["a"] == pytest.approx((2.0, 2.0))


def test_a_row_of_sites_with_its_total() -> None:
    sites = {"hip": 20, "knee": 10, "ankle": 7, "foot": 2}
    cells = [Cell("migrations", 39), *(Cell(k, v) for k, v in sites.items())]
    relations = [total_of("sites", "migrations", list(sites))]
    assert audit(cells, relations, {"foot"}) == {"foot": (2.0, 2.0)}  # 39 - 20 - 10 - 7
    result = protect(cells, relations, 5)
    assert result.secondary == {"ankle"}  # the smallest other site, not the total
    assert result.ranges["foot"] == pytest.approx((1.0, 4.0))  # foot + ankle = 9, ankle >= 5
    assert audit(cells, relations, result.hidden)["foot"] == pytest.approx((0.0, 9.0))


def test_numbers_at_risk_overall_against_groups() -> None:
    cells = [Cell("risk.all", 7), Cell("risk.M", 6), Cell("risk.F", 1)]
    relations = [total_of("at risk 6 months", "risk.all", ["risk.M", "risk.F"])]
    result = protect(cells, relations, 5)
    # hiding the men is not enough: 7 = men + women with men >= 5 puts the women at 1 or 2;
    # so the overall number is hidden instead (men 6 printed, all >= 5 "not shown")
    assert audit(cells, relations, {"risk.F", "risk.M"}, min_cell=5)["risk.F"] == pytest.approx((1.0, 2.0))
    assert result.primary == {"risk.F"} and result.secondary == {"risk.all"}
    assert result.ranges["risk.F"] == pytest.approx((1.0, 4.0))


def test_a_share_whose_complement_is_small() -> None:
    # 10 of 12 bilateral printed: the 2 not bilateral are given back unless one more is hidden
    cells = [Cell("x", 10), Cell("n", 12), Cell("not x", 2, published=False)]
    relations = [complement_of("share", "not x", "x", "n"), at_most("share", "x", "n")]
    assert audit(cells, relations, set()) == {"not x": (2.0, 2.0)}
    result = protect(cells, relations, 5)
    assert result.primary == frozenset() and result.secondary == {"x"}  # the inner cell, not the total
    assert result.ranges["not x"] == pytest.approx((0.0, 7.0))  # x >= 5


def test_a_small_total_stays_exposed_when_nothing_more_can_be_hidden() -> None:
    cells = [Cell("all", 3), Cell("M", 2), Cell("F", 1)]
    result = protect(cells, [total_of("sex", "all", ["M", "F"])], 5)
    assert result.primary == {"all", "M", "F"} and result.secondary == frozenset()
    # all = M + F, each "<5": all is 2 to 4 and M, F 1 to 3: three values each, enough
    assert result.residual == () and result.narrowest() == 2
    assert result.ranges == {"all": pytest.approx((2.0, 4.0)), "M": pytest.approx((1.0, 3.0)),
                             "F": pytest.approx((1.0, 3.0))}


def test_counts_not_about_people_are_never_hidden() -> None:
    cells = [Cell("warnings", 2, people=False), Cell("errors", 0, people=False), Cell("findings", 2, people=False)]
    result = protect(cells, [total_of("v", "findings", ["warnings", "errors"])], 5)
    assert result.hidden == frozenset()


def test_upper_bounds_and_inconsistent_input() -> None:
    cells = [Cell("a", 2, upper=3), Cell("b", 30)]
    assert audit(cells, [], {"a"}) == {"a": (0.0, 3.0)}
    with pytest.raises(ValueError, match="does not hold"):
        audit([Cell("t", 5), Cell("p", 3)], [total_of("g", "t", ["p"])], {"p"})
    with pytest.raises(ValueError, match="undeclared"):
        audit([Cell("t", 5)], [total_of("g", "t", ["p"])], set())
    with pytest.raises(ValueError, match="two values"):
        audit([Cell("t", 5), Cell("t", 6)], [], set())


def test_the_same_input_gives_the_same_pattern() -> None:
    cells, relations = _two_by_two(3, 3, 3, 3)
    first = protect(cells, relations, 5)
    assert all(protect(cells, relations, 5) == first for _ in range(3))
    # every inner cell is "<5": 6 = a + b printed puts a in 2..4, three values: enough
    assert first.hidden == {"a", "b", "c", "d"} and first.secondary == frozenset() and first.residual == ()
    assert protect(list(reversed(cells)), relations, 5).hidden == first.hidden


def test_the_protection_width() -> None:
    assert [protection_width(m) for m in (2, 3, 5, 10)] == [0, 1, 2, 4]
    assert small_range(0, 10, 5) == 3 and small_range(1, 2, 5) == 1 and small_range(2, 2, 5) == 0


def test_summary_statistics_of_small_groups_are_not_shown() -> None:
    assert not summary_shown(2, 5) and not summary_shown(4, 5) and not summary_shown(None, 5)
    assert summary_shown(5, 5) and summary_shown(0, 5) and summary_shown(1, 0)


def test_fold_levels() -> None:
    folded = fold_levels({"conservative": 40, "bisphosphonate": 12, "surgery": 2, "steroid": 1, "none": 6}, 5)
    # surgery + steroid = 3 is still small: the smallest other level (none, 6) joins them
    assert folded == {"conservative": ["conservative"], "bisphosphonate": ["bisphosphonate"],
                      OTHER: ["surgery", "steroid", "none"]}
    assert fold_levels({"a": 40, "b": 12, "c": 3, "d": 4}, 5) == {"a": ["a"], "b": ["b"], OTHER: ["c", "d"]}
    # one small level alone: "other" would be the same count, so the next smallest is folded in
    assert fold_levels({"a": 40, "b": 12, "c": 2}, 5) == {"a": ["a"], OTHER: ["b", "c"]}
    assert fold_levels({"a": 40, "b": 0}, 5) == {"a": ["a"], "b": ["b"]}
    assert fold_levels({"a": 3}, 5) == {"a": ["a"]}  # nothing to fold it with
    sites = {"contralateral_hip": 34, "knee": 12, "ankle": 5, "foot": 3, "other": 0}
    assert fold_levels(sites, 5) == {"contralateral_hip": ["contralateral_hip"], "knee": ["knee"],
                                     OTHER: ["ankle", "foot", "other"]}


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[Cell], list[Relation], int]:
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    inner = [[draw(st.integers(0, 30)) for _ in range(cols)] for _ in range(rows)]
    min_cell = draw(st.integers(2, 10))
    cells = [Cell(f"x{i}{j}", inner[i][j]) for i in range(rows) for j in range(cols)]
    cells += [Cell(f"r{i}", sum(inner[i])) for i in range(rows)]
    cells += [Cell(f"c{j}", sum(r[j] for r in inner)) for j in range(cols)]
    cells.append(Cell("t", sum(map(sum, inner))))
    relations = [total_of(f"row{i}", f"r{i}", [f"x{i}{j}" for j in range(cols)]) for i in range(rows)]
    relations += [total_of(f"col{j}", f"c{j}", [f"x{i}{j}" for i in range(rows)]) for j in range(cols)]
    relations += [total_of("rows", "t", [f"r{i}" for i in range(rows)]),
                  total_of("cols", "t", [f"c{j}" for j in range(cols)])]
    return cells, relations, min_cell


@settings(max_examples=examples(60), deadline=None)
@given(_tables())
def test_after_secondary_suppression_no_small_cell_is_recoverable(table: tuple[list[Cell], list[Relation], int]) -> None:
    cells, relations, min_cell = table
    result = protect(cells, relations, min_cell)
    small = {c.key for c in cells if 0 < c.value < min_cell}
    assert small <= result.hidden
    assert all(next(c.value for c in cells if c.key == k) >= min_cell for k in result.secondary)
    # audited afresh, the labels as printed read ("<5", or "not shown" where a label is masked)
    again = audit(cells, relations, result.hidden, small, min_cell, result.masked)
    for key in small - set(result.residual):
        assert small_range(*again[key], min_cell) >= protection_width(min_cell), (key, again[key])
    blind = audit(cells, relations, result.hidden, small)  # labels not read: never narrower
    assert all(blind[k][0] <= again[k][0] + 1e-7 and blind[k][1] >= again[k][1] - 1e-7 for k in small)
    # a residual cell is one whose relations hold nothing more that may be hidden
    for key in result.residual:
        assert all(k in result.hidden or next(c.value for c in cells if c.key == k) < min_cell
                   for r in relations if key in r.keys() for k in r.keys())


def test_the_total_is_always_printed_and_a_giveaway_label_is_masked() -> None:
    """7 patients always printed, 6 men, 1 woman: hiding the men ("not shown", so at least 5)
    leaves the woman at 7 - men <= 2 while her label says "<5": no further count can be hidden
    (the total is fixed), so her label is masked and every "not shown" reads as 0 up."""
    cells = [Cell("all", 7, fixed=True), Cell("M", 6), Cell("F", 1)]
    relations = [total_of("sex", "all", ["M", "F"])]
    result = protect(cells, relations, 5)
    assert result.primary == {"F"} and result.secondary == {"M"} and result.masked == {"F"}
    assert result.residual == () and "all" not in result.hidden
    lo, hi = audit(cells, relations, result.hidden, ["F"], 5, result.masked)["F"]
    assert (lo, hi) == (0, 7)
    # read with the labels of the unmasked pattern, the woman is given back to 1 or 2
    assert audit(cells, relations, result.hidden, ["F"], 5)["F"] == (1, 2)


def test_a_small_fixed_total_is_not_a_sensitive_count() -> None:
    cells = [Cell("all", 3, fixed=True), Cell("M", 3), Cell("F", 0)]
    result = protect(cells, [total_of("sex", "all", ["M", "F"])], 5)
    assert "all" not in result.hidden and result.primary == {"M"}
