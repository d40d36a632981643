"""Cumulative incidence in the report: an estimate whose events by then (or the patients without
them) are a small count is that count in disguise ("14.3% of 7" is 1 without censoring), so it is
not shown in the table, the sentence, the claims or as a curve; the first-event rate of a small
count is hidden in the sentence as in its table."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_builders import demo_export, report_document
from toh.reports.document._writer import Num, ReportDocument
from toh.reports.figures.names import CIF


def _simulated(tmp_path: Path, patients: int, seed: int) -> Path:
    from toh.cohort.simulate import simulate_registry, write_registry

    folder = tmp_path / f"sim-{patients}-{seed}"
    write_registry(simulate_registry(patients, seed), folder)
    return folder


def _table(doc: ReportDocument, name: str):
    return next(t for s in doc.sections for t in s.tables if t.name == name)


def _section(doc: ReportDocument, name: str):
    return next(s for s in doc.sections if s.id == name)


def _text(fragments) -> str:
    return "".join(f.text if isinstance(f, Num) else str(f) for f in fragments)


def _incidence(export: Path):
    from report_builders import _analysed

    analysis = (_analysed(export) if export == demo_export() else _analysed.__wrapped__(export))[2]
    return {(r.outcome, r.cause, float(r.months)): (int(r.events), int(r.n))
            for result in (analysis.recurrence, analysis.migration) for r in result.incidence.itertuples()}


@pytest.mark.parametrize(("patients", "seed"), [(7, 3), (0, 0), pytest.param(15, 4, marks=pytest.mark.slow),
                                                pytest.param(300, 2, marks=pytest.mark.slow)])
def test_a_cumulative_incidence_resting_on_a_small_count_is_not_shown(tmp_path: Path, patients: int, seed: int) -> None:
    export = demo_export() if patients == 0 else _simulated(tmp_path, patients, seed)
    doc = report_document(export)
    counts = _incidence(export)
    m = doc.min_cell
    table = _table(doc, "cumulative_incidence")
    assert table.columns[3] == "events by then"
    shown = hidden = 0
    for row in table.rows:
        outcome, cause, months = row[0][0], row[1][0], float(row[2][0])
        events, n = counts[(outcome, cause, months)]
        small = 0 < events < m or 0 < n - events < m
        estimate = row[4][0]
        assert isinstance(estimate, Num)
        assert estimate.suppressed or not small, (outcome, cause, months, events, n, estimate.text)
        count = row[3][0]
        assert count.value == events and (count.suppressed or not 0 < events < m)
        shown += not estimate.suppressed
        hidden += estimate.suppressed
    assert shown  # the rule does not hide everything
    section = _section(doc, "recurrence")
    figures = {f.name: f for f in section.figures}
    for outcome in ("recurrence", "migration"):
        events, n = counts[(outcome, outcome, 24.0)]
        sentence = _text(next(p for p in section.paragraphs if _text(p).lower().startswith(
            "same-hip" if outcome == "recurrence" else "migration")))
        if 0 < events < m or 0 < n - events < m:
            assert "the cumulative incidence is not shown" in sentence
            assert "%" not in sentence.split("not shown")[0]
        else:
            assert "had a cumulative incidence of" in sentence
        total = next(int(r.events) for r in _rates(export) if r.outcome == outcome)
        if 0 < total < m:
            assert CIF not in figures or outcome in figures[CIF].not_drawn
            if outcome == "recurrence":
                assert "per 100 person-years" in sentence and sentence.count("not shown") >= 1
                assert "(95% CI" not in sentence.split("recurrences in all")[1].split("per 100")[0]
        elif CIF in figures:
            assert outcome not in figures[CIF].not_drawn
    if patients == 7:  # the registry of the new-user check: one migration of 7 patients
        assert counts[("migration", "migration", 24.0)] == (1, 7) and hidden
        assert figures[CIF].not_drawn == ("migration",)
        claims = _table(doc, "claims")
        row = next(r for r in claims.rows if "opposite hip may follow" in _text(r[0]))
        assert all(f.suppressed for f in row[4] if isinstance(f, Num))


def _rates(export: Path):
    from report_builders import _analysed

    analysis = (_analysed(export) if export == demo_export() else _analysed.__wrapped__(export))[2]
    return [*analysis.recurrence.rates.itertuples(), *analysis.migration.rates.itertuples()]


def test_a_turnbull_share_of_few_episodes_is_not_shown(tmp_path: Path) -> None:
    """The Turnbull share with change by a reading time stands for share x n episodes: in the
    registry of 7 the estimate at 8 weeks (3.5 of 7 episodes) is hidden in the table, the
    sentence, the claims and the figure's marks; 0% by 4 weeks (no episode) and 100% by 12 weeks
    (none left) are shown."""
    from report_builders import _analysed

    export = _simulated(tmp_path, 7, 3)
    doc = report_document(export)
    result = _analysed.__wrapped__(export)[2].radiographic
    n = int(result.counts.set_index("what")["n"]["episodes with a decisive film"])
    at = result.at.set_index("weeks")["estimate"]
    assert n == 7 and 0 < at[8.0] * n < 5 and at[4.0] == 0 and at[12.0] == 1  # the case, as built
    rows = {row[0][0]: row[1][0] for row in _table(doc, "radiographic_at").rows}
    assert rows["8"].suppressed and not rows["4"].suppressed and not rows["12"].suppressed
    section = _section(doc, "radiographic")
    assert "by 8 weeks is not shown" in _text(section.paragraphs[0])
    assert [(k, num.suppressed) for k, num in section.figures[0].numbers] == [(("4", 0), False), (("8", 0), True),
                                                                             (("12", 0), False)]
    claim = next(r for r in _table(doc, "claims").rows if "4-8 weeks" in _text(r[0]))
    assert all(f.suppressed for f in claim[4] if isinstance(f, Num))
    # the demo's shares rest on many episodes, and its 100% by 12 weeks (the NPMLE's 1 - 1e-8 or so)
    # leaves no episode: all shown
    demo = report_document(demo_export())
    assert not any(row[1][0].suppressed for row in _table(demo, "radiographic_at").rows)
