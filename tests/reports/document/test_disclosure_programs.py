"""The audit solves one small program per group of linked hidden counts and each program once:
its answers equal those of one program over every hidden count (the reference below, a plain
``scipy.optimize.linprog`` over the whole system, as the audit was first written), bound for
bound and cell for cell, and :func:`protect` chooses the same pattern with either."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from report_builders import demo_export, report_document
from toh.reports.document import disclosure
from toh.reports.document.disclosure import Cell, Relation, at_most, audit, complement_of, protect, sensitive, total_of


def _whole_program(by_key: Mapping[str, Cell], relations: Sequence[Relation], hidden: Iterable[str],
                   targets: Iterable[str] | None, min_cell: int | None, masked: Iterable[str],
                   memo: object = None) -> dict[str, tuple[float, float]]:
    """Reference: min and max of each target over one program holding every hidden count."""
    hide = set(hidden) | {k for k, c in by_key.items() if not c.published}
    variables = [k for k in by_key if k in hide]
    index = {k: i for i, k in enumerate(variables)}
    rows: dict[str, tuple[list[np.ndarray], list[float]]] = {"eq": ([], []), "le": ([], [])}
    for relation in relations:
        row, rhs = np.zeros(len(variables)), 0.0
        for key, coefficient in relation.terms:
            if key in index:
                row[index[key]] += coefficient
            else:
                rhs -= coefficient * by_key[key].value
        if np.any(row != 0):
            rows[relation.kind][0].append(row)
            rows[relation.kind][1].append(rhs)
    masked = frozenset(masked)

    def bound(cell: Cell) -> tuple[float, float | None]:
        if min_cell is None or not cell.published:
            return (0.0, cell.upper)
        if sensitive(cell, min_cell) and cell.key not in masked:
            return (1.0, float(min_cell - 1))
        return (0.0, cell.upper) if masked else (float(min_cell), cell.upper)

    def matrix(kind: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        a, b = rows[kind]
        return (np.array(a), np.array(b)) if a else (None, None)

    (a_eq, b_eq), (a_ub, b_ub) = matrix("eq"), matrix("le")
    bounds = [bound(by_key[k]) for k in variables]
    out = {}
    for key in (variables if targets is None else [k for k in variables if k in set(targets)]):
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(variables))
            objective[index[key]] = sign
            fit = linprog(objective, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
            assert fit.status in (0, 3), fit.message
            ends.append(-sign * np.inf if fit.status == 3 else sign * fit.fun)
        out[key] = (ends[0], ends[1])
    return out


@st.composite
def _registry(draw: st.DrawFn) -> tuple[list[Cell], list[Relation], int]:
    """Two to three unlinked tables with margins, a share with its complement, a numerator
    bounded by its denominator, and a count in no relation (several groups per program)."""
    cells: list[Cell] = []
    relations: list[Relation] = []
    for t in range(draw(st.integers(2, 3))):
        rows, cols = draw(st.integers(1, 3)), draw(st.integers(2, 3))
        inner = [[draw(st.integers(0, 12)) for _ in range(cols)] for _ in range(rows)]
        cells += [Cell(f"{t}x{i}{j}", inner[i][j]) for i in range(rows) for j in range(cols)]
        cells += [Cell(f"{t}r{i}", sum(inner[i])) for i in range(rows)]
        cells += [Cell(f"{t}c{j}", sum(r[j] for r in inner)) for j in range(cols)]
        cells.append(Cell(f"{t}t", sum(map(sum, inner)), fixed=draw(st.booleans())))
        relations += [total_of(f"{t}row{i}", f"{t}r{i}", [f"{t}x{i}{j}" for j in range(cols)]) for i in range(rows)]
        relations += [total_of(f"{t}col{j}", f"{t}c{j}", [f"{t}x{i}{j}" for i in range(rows)]) for j in range(cols)]
        relations.append(total_of(f"{t}rows", f"{t}t", [f"{t}r{i}" for i in range(rows)]))
    part, whole = draw(st.integers(0, 12)), draw(st.integers(12, 20))
    cells += [Cell("part", part), Cell("whole", whole), Cell("rest", whole - part, published=False),
              Cell("sub", draw(st.integers(0, part))), Cell("alone", draw(st.integers(0, 9)), upper=9.0)]
    relations += [complement_of("share", "rest", "part", "whole"), at_most("sub", "sub", "part")]
    return cells, relations, draw(st.integers(2, 8))


@pytest.mark.slow  # about 6 s
@settings(max_examples=40, deadline=None)
@given(_registry(), st.data())
def test_the_audit_equals_one_program_over_every_hidden_count(registry: tuple[list[Cell], list[Relation], int],
                                                             data: st.DataObject) -> None:
    cells, relations, min_cell = registry
    keys = [c.key for c in cells]
    by_key = disclosure._check(cells, relations)
    # what protect hides: small counts ("<min_cell") and counts of min_cell or more ("not shown"), never a zero
    hidden = {k for k in data.draw(st.sets(st.sampled_from(keys))) if by_key[k].value != 0}
    masked = {k for k in hidden if sensitive(by_key[k], min_cell)} if data.draw(st.booleans()) else set()
    for labels in (None, min_cell):
        assert audit(cells, relations, hidden, None, labels, masked) == _whole_program(
            by_key, relations, hidden, None, labels, masked)


@pytest.mark.slow  # about 12 s: every round of protect solved both ways
@settings(max_examples=40, deadline=None)
@given(_registry())
def test_protect_chooses_the_same_pattern_as_with_one_program(registry: tuple[list[Cell], list[Relation], int]) -> None:
    cells, relations, min_cell = registry
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(disclosure, "_audit", _whole_program)
        reference = protect(cells, relations, min_cell)
    result = protect(cells, relations, min_cell)
    assert result == reference and dict(result.ranges) == dict(reference.ranges)


@pytest.mark.parametrize("min_cell", [5, 10])
def test_the_demo_report_is_protected_as_with_one_program(min_cell: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's own counts and relations (about 200 counts, 130 relations)."""
    import toh.reports.document as document

    seen: list[tuple[list[Cell], list[Relation], disclosure.Protection]] = []

    def keep(cells: list[Cell], relations: list[Relation], m: int) -> disclosure.Protection:
        seen.append((cells, relations, protect(cells, relations, m)))
        return seen[-1][2]

    monkeypatch.setattr(document, "protect", keep)
    report_document(demo_export(), min_cell)
    cells, relations, result = seen[0]  # the document's own audit
    monkeypatch.setattr(disclosure, "_audit", _whole_program)
    reference = protect(cells, relations, min_cell)
    assert result.secondary  # the demo needs secondary suppression: the comparison is not vacuous
    assert result == reference and dict(result.ranges) == dict(reference.ranges)
