"""An attack on built reports: from everything a report document prints and the relations it
declares, solve for each hidden count the narrowest range a reader can put it in.

The attack reads the document, not the engine: it collects the printed and hidden counts from
the :class:`Num` fragments, builds its own constraint matrix from ``doc.relations`` and calls
``scipy.optimize.linprog`` itself, so a mistake in the engine's audit or in the way the
sections apply it shows here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from report_builders import demo_export, report_document
from toh.reports.document._writer import TOTAL, Num, ReportDocument


@dataclass(frozen=True)
class Attack:
    """What the attack found: counts hidden (small ones and the others), and the range of each
    small hidden count, reading the labels ("<5" is 1 to 4, "not shown" at least 5) and not."""

    primary: int
    secondary: int
    ranges: dict[str, tuple[float, float]]
    blind: dict[str, tuple[float, float]]

    def narrowest(self) -> float:
        """Smallest width of a hidden small count's range, labels read (within 1 to 4 for min_cell 5)."""
        return min((_width(lo, hi) for lo, hi in self.ranges.values()), default=math.inf)

    def narrowest_blind(self) -> float:
        """Smallest width, every hidden count taken as anything from 0 up."""
        return min((_width(lo, hi) for lo, hi in self.blind.values()), default=math.inf)

    def exposed(self, min_cell: int) -> dict[str, tuple[float, float]]:
        """Small counts a reader who knows they are small places among fewer values than half
        of what "<min_cell" allows (fewer than 3 of 1..4 for min_cell 5)."""
        need = math.ceil((min_cell - 2) / 2)
        return {k: (lo, hi) for k, (lo, hi) in self.ranges.items()
                if min(math.floor(hi + 1e-7) if math.isfinite(hi) else min_cell, min_cell - 1)
                - max(math.ceil(lo - 1e-7), 1) < need}


def _width(lo: float, hi: float) -> float:
    """Width of the integer range [ceil lo, floor hi]."""
    return math.inf if math.isinf(hi) else math.floor(hi + 1e-7) - math.ceil(lo - 1e-7)


def _nums(doc: ReportDocument) -> list[Num]:
    fragments = [f for s in doc.sections for p in s.paragraphs for f in p]
    fragments += [f for s in doc.sections for t in s.tables for row in t.rows for c in row for f in c]
    fragments += [num for s in doc.sections for fig in s.figures for _, num in fig.numbers]  # numbers at risk
    return [f for f in fragments if isinstance(f, Num)]


def attack(doc: ReportDocument) -> Attack:
    """Solve, for every hidden small count of ``doc``, min and max of it subject to everything
    the document prints, the labels of what it hides and the relations it declares."""
    m = doc.min_cell
    printed: dict[str, float] = {}
    hidden: dict[str, float] = {}
    labels: dict[str, tuple[float, float | None]] = {}
    for num in _nums(doc):
        if num.kind == "count" and not num.suppressed and num.cell != TOTAL:  # the registry's size is always said
            assert num.value is None or not (0 < num.value < m), f"a small count is printed: {num}"
        if num.cell is None:
            continue
        (hidden if num.suppressed else printed)[num.cell] = num.value
        if num.suppressed:
            labels[num.cell] = (1, m - 1) if num.text == f"<{m}" else (m, None)
            assert num.text in {f"<{m}", "not shown"}, num
    if any(0 < hidden[k] < m and labels[k][0] == m for k in hidden):  # a small count labelled "not shown":
        labels = {k: (lo, hi) if lo == 1 else (0, None) for k, (lo, hi) in labels.items()}  # the label says nothing
    leaked = set(printed) & set(hidden)
    assert not leaked, f"counts printed in one place and hidden in another: {sorted(leaked)}"
    truth = {**hidden, **dict(doc.implied)}
    names = sorted({k for r in doc.relations for k, _ in r.terms} - set(printed))
    assert set(names) <= set(truth) | set(printed), "a relation names a count the document does not know"
    column = {k: i for i, k in enumerate(names)}
    eq, eq_b, ub, ub_b = [], [], [], []
    for relation in doc.relations:
        row, rhs = np.zeros(len(names)), 0.0
        for key, coefficient in relation.terms:
            if key in column:
                row[column[key]] += coefficient
            else:
                rhs -= coefficient * printed[key]
        if not row.any():
            continue
        (eq if relation.kind == "eq" else ub).append(row)
        (eq_b if relation.kind == "eq" else ub_b).append(rhs)
    small = [k for k in names if 0 < truth.get(k, 0) < m]

    def solve(bounds: list[tuple[float, float | None]]) -> dict[str, tuple[float, float]]:
        ranges = {}
        for key in small:
            ends = []
            for sign in (1.0, -1.0):
                c = np.zeros(len(names))
                c[column[key]] = sign
                fit = linprog(c, A_ub=np.array(ub) if ub else None, b_ub=np.array(ub_b) if ub else None,
                              A_eq=np.array(eq) if eq else None, b_eq=np.array(eq_b) if eq else None,
                              bounds=bounds, method="highs")
                assert fit.status in (0, 3), fit.message
                ends.append(-sign * math.inf if fit.status == 3 else sign * fit.fun)
            ranges[key] = (ends[0], ends[1])
        return ranges

    primary = sum(1 for v in hidden.values() if 0 < v < m)
    return Attack(primary, len(hidden) - primary, solve([labels.get(k, (0, None)) for k in names]),
                  solve([(0, None)] * len(names)))


def _document(export: Path, min_cell: int = 5) -> ReportDocument:
    return report_document(export, min_cell)


def _simulated(tmp_path: Path, patients: int, seed: int) -> Path:
    from toh.cohort.simulate import simulate_registry, write_registry

    folder = tmp_path / f"sim-{patients}-{seed}"
    write_registry(simulate_registry(patients, seed), folder)
    return folder


REGISTRIES = [("demo", 0, 0), ("simulated", 7, 3), ("simulated", 15, 4), ("simulated", 300, 1), ("simulated", 300, 2)]


@pytest.mark.parametrize(("kind", "patients", "seed"), [
    pytest.param(*r, id=f"{r[0]}-{r[1]}-{r[2]}", marks=[pytest.mark.slow] if r[1] in (7, 15) else []) for r in REGISTRIES])
def test_no_hidden_small_count_can_be_recovered(tmp_path: Path, kind: str, patients: int, seed: int) -> None:
    export = demo_export() if kind == "demo" else _simulated(tmp_path, patients, seed)
    doc = _document(export)
    found = attack(doc)
    assert doc.relations, "the document declares no relation"
    assert doc.protection is not None
    residual = set(doc.protection.residual)
    print(f"{kind} {patients} {seed}: {found.primary} small counts hidden, {found.secondary} more hidden, "
          f"narrowest range of a small one {found.narrowest()} (labels read), {found.narrowest_blind()} (not), "
          f"left exposed with nothing more to hide: {sorted(residual)}")
    assert set(found.exposed(doc.min_cell)) <= residual, found.exposed(doc.min_cell)
    # read blind (every hidden count anything from 0 up), no small count is left among fewer than
    # min_cell possible values (0 to 4 is five values: what "<5" says, nothing more)
    blind = {k: r for k, r in found.blind.items() if _width(*r) + 1 < doc.min_cell and k not in residual}
    assert not blind, blind


def test_the_attack_finds_what_the_old_rule_left_open() -> None:
    """Without secondary suppression (every audited count printed unless small), the attack
    recovers a small count of the demo report exactly: it can fail."""
    from dataclasses import replace

    doc = _document(demo_export())

    def show(f: object) -> object:
        secondary = isinstance(f, Num) and f.suppressed and f.cell is not None and not 0 < (f.value or 0) < 5
        return replace(f, suppressed=False) if secondary else f

    opened = tuple(replace(
        s, tables=tuple(replace(t, rows=tuple(tuple(tuple(show(f) for f in c) for c in row) for row in t.rows))
                        for t in s.tables),
        figures=tuple(replace(g, numbers=tuple((k, show(n)) for k, n in g.numbers)) for g in s.figures))
        for s in doc.sections)
    found = attack(replace(doc, sections=opened))
    assert found.narrowest() == 0 and found.narrowest_blind() == 0  # pinned exactly


@pytest.mark.slow  # a whole report of a simulated registry
def test_a_registry_of_seven_patients(tmp_path: Path) -> None:
    """Issue 13's examples: the report says it describes 7 patients (subtitle, data, attrition,
    Table 1), so men and women cannot both be printed; the one small count among them would be
    7 minus a count of at least 5 if labelled "<5", so it is masked ("not shown" like the other);
    their ages, the shares still unresolved (counts in disguise), the curves of small strata and
    the verdict of a hidden estimate give nothing back either."""
    from toh.reports.document._writer import plain_text

    doc = _document(_simulated(tmp_path, 7, 3))
    assert doc.protection.residual == () and doc.protection.masked  # protected, by masking
    assert doc.subtitle.startswith("7 patients")
    table1 = next(t for s in doc.sections for t in s.tables if t.name == "table1")
    patients = [plain_text(c) for c in table1.rows[0][2:]]
    women = next(n for n in _nums(doc) if n.cell == "table1.patients.women")
    assert women.suppressed and patients == ["7", "not shown", "not shown"]
    ages = [plain_text(c) for c in table1.rows[1][2:]]
    assert ages[1:] == ["not shown", "not shown"]  # men's ages shown alone would say the women are the few
    cohort = plain_text(next(s for s in doc.sections if s.id == "cohort").paragraphs[0])
    assert cohort.startswith("The cohort has 7 patients (men: not shown; women: not shown).")
    assert "not shown in women (a group of fewer than 5" in cohort and "IQR not shown" not in cohort
    resolution = next(s for s in doc.sections if s.id == "resolution")
    sentence = plain_text(resolution.paragraphs[0])
    assert "still unresolved at 6 and 8 months are not shown" in sentence and "%" not in sentence.split(";")[1]
    landmarks = next(t for t in resolution.tables if t.name == "resolution_landmarks")
    for row in landmarks.rows:  # 3 of 7 still at risk at 6 months: "42.9%" is a count in disguise
        if plain_text(row[4]) != "0":
            assert plain_text(row[3]) == "not shown", [plain_text(c) for c in row]
    rmst = next(t for t in resolution.tables if t.name == "resolution_rmst")
    for row in rmst.rows:  # a restricted mean of one woman is her time to resolution
        assert plain_text(row[0]) == "all" or plain_text(row[3]) == "not shown"
    # no curve: no stratum of 5 whose size is shown, and the cohort's resolutions are hidden (a
    # curve's steps would count them)
    assert [f.name for f in resolution.figures] == []
    claims = next(t for s in doc.sections for t in s.tables if t.name == "claims")
    for row in claims.rows:
        if plain_text(row[4]).startswith("not shown"):
            assert plain_text(row[6]) == "not shown"  # "consistent" would say where the hidden interval lies


def test_counts_not_about_people_are_shown() -> None:
    from toh.reports.document._writer import Writer

    w = Writer({}, 5)
    assert w.count(2, people=False).text == "2" and w.count(2).text == "<5"
    assert w.count(2, people=False).cell is None and not w.cells  # not part of the audit
