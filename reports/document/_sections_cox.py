"""The Cox model of resolution in the report: a table a reviewer accepts (readable labels, one
reference row per category, age per 10 years, n and events, the proportional-hazards test beside
each term), the model stratified by a category that breaks proportional hazards, and the
sentence that says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from toh.analyses.result import level_free
from toh.reports.document._writer import Num, ReportTable, Text, Writer, plain_text
from toh.reports.document.disclosure import at_most, total_of

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.resolution import ResolutionResult

__all__ = ["cox_tables"]

_REFERENCE = "1 (reference)"


def small_terms(table: pd.DataFrame, w: Writer) -> set[str]:
    """Variables of the Cox ``table`` with a hazard ratio that compares a group of fewer than
    ``min_cell`` patients among the model's complete cases (``n_group``, ``n_compared``): a
    statistic of that small group, not shown, nor the variable's proportional-hazards test."""
    return {r.variable for r in table.itertuples()
            if not r.reference and w.compares_small(r.n_group, r.n_compared)}


def _ph_cells(res: ResolutionResult, w: Writer) -> dict[str, Text]:
    """Term -> its cox.zph p-value, marked where proportional hazards are rejected."""
    out: dict[str, Text] = {}
    small = small_terms(res.cox, w)
    for r in res.ph_test.itertuples():
        flag = " (rejected)" if r.violated else ""  # the note and sentence say so: only the p is hidden
        out[r.term] = (w.p(r.p, hide=r.term in small), flag)
    return out


def _rows(table: pd.DataFrame, w: Writer, ph: dict[str, Text] | None) -> tuple[tuple[Text, ...], ...]:
    rows = []
    seen: set[str] = set()
    for r in level_free(table).itertuples():
        first = r.variable not in seen
        seen.add(r.variable)
        if r.reference:
            cells: tuple[Text, ...] = ((r.label,), (_REFERENCE,), ("",))
        elif w.compares_small(r.n_group, r.n_compared):
            cells = ((r.label,), (w.number(r.estimate, 2, hide=True),), (w.p(r.p, hide=True),))
        else:
            cells = ((r.label,), w.cell_ci(r.estimate, r.lower, r.upper, 2), (w.p(r.p),))
        if ph is not None:
            cells += (ph.get(r.variable, ("",)) if first else ("",),)
        rows.append(cells)
    return tuple(rows)


def _counts(res: ResolutionResult, w: Writer, table: pd.DataFrame, total: str | None,
            resolved: str | None, width: int, relate: bool = True) -> tuple[tuple[Text, ...], ...]:
    """The model's n, its events and the episodes left out, as the table's last rows, declared to
    the audit (the model's n and the left-out add up to all index episodes, its events are at
    most its n and at most all resolutions)."""
    n, events = int(table["n"].iloc[0]), int(table["events"].iloc[0])
    n_cell = w.declare("resolution.cox.n", n)
    e_cell = w.declare("resolution.cox.events", events)
    m_cell = w.implied("resolution.cox.n_missing", res.cox_missing)
    if relate:  # once: the stratified model has the same n and events
        w.relate(at_most("resolution cox events", e_cell, n_cell))
        if resolved is not None:
            w.relate(at_most("resolution cox events of all", e_cell, resolved))
        if total is not None:
            w.relate(total_of("resolution cox complete cases", total, [n_cell, m_cell]))
    blank: tuple[Text, ...] = (("",),) * (width - 2)
    rows: list[tuple[Text, ...]] = [
        (("Index episodes in the model, n",), (w.count(n, "resolution.cox.n", n_cell),), *blank),
        (("Resolutions in the model, n",), (w.count(events, "resolution.cox.events", e_cell),), *blank)]
    if res.cox_missing:
        rows.append((("Left out: a covariate or stratum missing, n",),
                     (w.count(res.cox_missing, "resolution.cox.n_missing", m_cell),), *blank))
    return tuple(rows)


def cox_tables(res: ResolutionResult, w: Writer, total: str | None = None,
               resolved: str | None = None) -> tuple[list[ReportTable], tuple[Text, ...]]:
    """The Cox tables (the model, and the model stratified by a category that breaks
    proportional hazards) and the sentence flagging a violation.

    ``total`` and ``resolved`` are the audit cells of all index episodes and all resolutions.
    """
    if not len(res.cox):
        return [], ()
    labels = {r.term: r.label for r in res.ph_test.itertuples()}
    violated = [r for r in res.ph_test.itertuples() if r.violated]
    strata = res.options.cox_strata
    by = f", stratified by {_names(strata)} (each level its own baseline hazard)" if strata else ""
    global_p = res.ph_test[res.ph_test["term"] == "GLOBAL"]
    note = ("Complete cases (the last rows give the model's n and events). A hazard ratio above 1 means faster "
            "resolution; each category against its reference level (the most frequent)"
            + (", age per 10 years" if "age" in set(res.cox["variable"]) else "")
            + ". Proportional hazards: cox.zph (KM transform) per term, ")
    note += (f"global p = {plain_text((w.p(global_p['p'].iloc[0]),))}" if len(global_p) else "global test not computed")
    if violated:
        note += (f"; rejected at {res.options.ph_alpha:g} for {', '.join(_term(r.term, labels) for r in violated)}: "
                 "the hazard ratio of a term that breaks the assumption is an average over follow-up"
                 + (", and the model stratified by it is shown below." if len(res.cox_stratified) else "."))
    else:
        note += "."
    small = small_terms(res.cox, w) | (small_terms(res.cox_stratified, w) if len(res.cox_stratified) else set())
    if small:
        note += (f" A hazard ratio comparing a group of fewer than {w.min_cell} patients of the model is not shown, "
                 "nor that term's proportional-hazards test.")
    tables = [ReportTable(
        "resolution_cox", f"Cox model of resolution (Efron ties{by}): hazard ratios, {w.level} CI",
        ("covariate", f"hazard ratio ({w.level} CI)", "p", "proportional hazards, p"),
        _rows(res.cox, w, _ph_cells(res, w)) + _counts(res, w, res.cox, total, resolved, 4), note=note)]
    if len(res.cox_stratified):
        strat_by = _names(res.cox_stratified["strata"].iloc[0].split(", "))
        tables.append(ReportTable(
            "resolution_cox_stratified", f"Cox model of resolution stratified by {strat_by} (each level its own "
            f"baseline hazard, so proportional hazards are not assumed for it): hazard ratios, {w.level} CI",
            ("covariate", f"hazard ratio ({w.level} CI)", "p"),
            _rows(res.cox_stratified, w, None) + _counts(res, w, res.cox_stratified, total, resolved, 3, relate=False),
            note=f"The other covariates' hazard ratios are estimated within the levels of {strat_by}."))
    paragraphs: tuple[Text, ...] = ()
    if violated:
        sentence: Text = ("In the Cox model, proportional hazards were rejected for ",)
        for i, r in enumerate(violated):
            sentence += (", " if i else "", _term(r.term, labels), " (cox.zph p ",
                         *_p_phrase(w.p(r.p, hide=r.term in small)), ")")
        sentence += (": a hazard ratio that changes over follow-up is shown as its average"
                     + (", so the model is also shown stratified by "
                        + _names(res.cox_stratified["strata"].iloc[0].split(", ")) + "."
                        if len(res.cox_stratified) else "; read it with care."),)
        paragraphs = (sentence,)
    return tables, paragraphs


#: how a built-in Cox stratum is named in text
_STRATUM_NAMES = {"male": "sex", "pregnancy_associated": "pregnancy association", "treatment": "treatment"}


def _term(term: str, labels: dict[str, str]) -> str:
    """A term's name inside a sentence: "sex", "age at onset", "treatment", a declared label."""
    if term in _STRATUM_NAMES:
        return _STRATUM_NAMES[term]
    if term == "age":
        return "age at onset"
    label = labels.get(term, term)
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _names(strata: tuple[str, ...] | list[str]) -> str:
    return " and ".join(_STRATUM_NAMES.get(s, s) for s in strata)


def _p_phrase(p: Num) -> Text:
    """"= 0.012" or "<0.001"."""
    return (p,) if p.text.startswith("<") or p.suppressed else ("= ", p)
