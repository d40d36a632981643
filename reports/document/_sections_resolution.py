"""The report section on time to resolution: Kaplan-Meier medians, landmarks and restricted
means by stratum, log-rank tests, the Cox model, and the curves with their numbers at risk, every
count by stratum declared to the disclosure audit (one rule for what a small or hidden group may
show: :func:`resolution_section`'s ``group_hidden``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from toh.analyses.result import level_free
from toh.reports.document._claims_text import claim_sentence
from toh.reports.document._writer import Num, ReportFigure, ReportTable, Section, Text, Writer
from toh.reports.figures._common import DAYS_PER_YEAR, HIDDEN_AT_RISK, at_risk, days_per
from toh.reports.figures._curves import km_at_risk
from toh.reports.document._sections_analyses import PCT, _month
from toh.reports.document._sections_cox import cox_tables as _cox_tables
from toh.reports.document.disclosure import at_most, total_of
from toh.reports.figures.names import km_resolution_name

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.resolution import ResolutionResult
    from toh.analyses.run import CohortAnalysis

__all__ = ["resolution_section"]


#: counts by stratum that are Table 1's counts of the same people (for all patients and by sex)
_TABLE1_SAME = {"resolution.n": "table1.patients", "resolution.events": "table1.resolved.yes"}


def _stratum_cell(w: Writer, name: str, var: str, stratum: str, value: float, suffix: str,
                  alt: str | None = None) -> str | None:
    """The audit cell of a count by stratum: Table 1's count of the same people when the values
    agree (patients, resolved; all or by sex), the stratum's n for the number at risk at 0, else
    ``name.var.stratum.suffix`` (``alt`` when that cell holds another value)."""
    if name in _TABLE1_SAME and var in {"all", "sex"}:
        same = w.same(f"{_TABLE1_SAME[name]}.{stratum}", value)
        if same is not None:
            return same
    if name == "resolution.at_risk" and suffix == ".0":
        n = w.same(f"resolution.n.{var}.{stratum}", value) or (
            w.same(f"table1.patients.{stratum}", value) if var in {"all", "sex"} else None)
        if n is not None:
            return n
    cell = f"{name}.{var}.{stratum}{suffix}"
    if alt is not None and cell in w.cells and w.same(cell, value) is None:
        cell = alt
    return w.declare(cell, value)


def _declare_strata(w: Writer, name: str, table: pd.DataFrame, column: str, by: str | None = None) -> None:
    """Declare a count by stratum to the audit: for each stratifying variable (and value of
    ``by``), the overall count is the sum of its strata and of the patients in none of them
    (an implied count, e.g. the men beside the strata of pregnancy)."""
    overall = table[table["variable"] == "all"]
    for _, o in overall.iterrows():
        suffix = f".{o[by]:g}" if by else ""
        total = _stratum_cell(w, name, "all", "all", o[column], suffix)
        if total is None:
            continue
        for var in table["variable"].unique():
            if var == "all":
                continue
            rows = table[(table["variable"] == var) & ((table[by] == o[by]) if by else True)]
            parts = [_stratum_cell(w, name, var, r["stratum"], r[column], suffix) for _, r in rows.iterrows()]
            rest = w.implied(f"{name}.{var}.none{suffix}", o[column] - rows[column].sum())
            w.relate(total_of(f"{name} by {var}{suffix}", total, [*parts, rest]))


def _km_numbers(res: ResolutionResult, variable: str, w: Writer,
               not_drawn: tuple[str, ...] = ()) -> tuple[tuple[tuple[str, int], Num], ...]:
    """The numbers at risk a Kaplan-Meier figure prints, declared to the audit: the same count
    as the landmark table's at the same month is one cell, and the strata at each tick add up
    to all patients at that tick (with the patients in no stratum, implied); the strata of
    ``not_drawn`` print none, and count as patients in no stratum."""
    ticks, rows = km_at_risk(res, variable)
    rows = [(s, c) for s, c in rows if s not in not_drawn]
    everyone = res.curves[res.curves["variable"] == "all"].sort_values("days")
    overall = at_risk(everyone, ticks * days_per(res.landmarks, "months", DAYS_PER_YEAR / 12))
    out = []
    for column, tick in enumerate(ticks):
        parts = []
        for stratum, counts in rows:
            name = _stratum_cell(w, "resolution.at_risk", variable, stratum, counts[column], f".{tick:g}",
                                 f"figure.km_resolution_{variable}.{stratum}.{tick:g}")
            parts.append(name)
            out.append(((stratum, column), w.count(counts[column], cell=name)))
        if variable != "all" and len(everyone):
            value = overall[column]
            total = (w.same(f"resolution.at_risk.all.all.{tick:g}", value)
                     or w.same(f"figure.km_resolution_all.all.{tick:g}", value)
                     or (w.same("table1.patients.all", value) if tick == 0 else None)
                     or w.implied(f"figure.at_risk.all.{tick:g}", value))
            if total is not None:
                rest = w.implied(f"figure.at_risk.{variable}.none.{tick:g}", value - sum(c[column] for _, c in rows))
                w.relate(total_of(f"at risk by {variable} at {tick:g} months", total, [*parts, rest]))
    return tuple(out)


def _compared_cell(w: Writer, res: ResolutionResult, n_cells: dict[tuple[str, str], str | None],
                   r: object) -> str | None:
    """The audit cell of a log-rank test's n: the patients in the groups it compares, the sum of
    those groups' n (the report's total when every patient is in one)."""
    levels = [n_cells.get((r.variable, s)) for s in res.medians.loc[res.medians["variable"] == r.variable, "stratum"]]
    total = n_cells.get(("all", "all"))
    if total is not None and w.same(total, r.n):
        cell = total
    else:
        cell = w.declare(f"resolution.logrank.n.{r.variable}", r.n)
    if cell is not None and levels:
        w.relate(total_of(f"log-rank n of {r.variable}", cell, levels))
    return cell


def resolution_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Kaplan-Meier time to resolution; strata, log-rank tests and the Cox model
    (:mod:`toh.reports.document._sections_cox`)."""
    p = "resolution."
    m = _month(analysis)
    res = analysis.resolution
    h = w.headline
    _declare_strata(w, "resolution.n", res.medians, "n")
    _declare_strata(w, "resolution.events", res.medians, "events")
    _declare_strata(w, "resolution.at_risk", res.landmarks, "n_risk", "months")
    n_cells = {(r.variable, r.stratum): _stratum_cell(w, "resolution.n", r.variable, r.stratum, r.n, "")
               for r in res.medians.itertuples()}
    e_cells = {(r.variable, r.stratum): _stratum_cell(w, "resolution.events", r.variable, r.stratum, r.events, "")
               for r in res.medians.itertuples()}
    for r in res.medians.itertuples():
        events, n = e_cells[(r.variable, r.stratum)], n_cells[(r.variable, r.stratum)]
        if events in w.cells and n in w.cells:
            w.relate(at_most(f"resolution {r.variable} {r.stratum}", events, n))
    def group_hidden(var: str, stratum: str) -> bool:  # one rule for a group's summaries, table and sentence
        n = n_cells.get((var, stratum))
        return n is None or w.hidden_cell(n) or w.summary_hidden(w.cells[n].value)

    def landmark_hidden(r: object) -> bool:
        """A share still unresolved is a count in disguise ("42.9% of 7" without censoring is 3):
        not shown when the group, its number at risk, or the resolved (or not resolved) by then
        is hidden or small."""
        at_risk = _stratum_cell(w, "resolution.at_risk", r.variable, r.stratum, r.n_risk, f".{r.months:g}")
        curve = res.curves[(res.curves["variable"] == r.variable) & (res.curves["stratum"] == r.stratum)]
        resolved = curve.loc[curve["days"] <= r.days, "n_event"].sum()
        n = w.cells[n_cells[(r.variable, r.stratum)]].value if (r.variable, r.stratum) in n_cells else 0
        return (group_hidden(r.variable, r.stratum) or w.hidden_cell(at_risk) or w.small(resolved)
                or w.small(n - resolved))

    overall = {f"{r.months:g}": landmark_hidden(r) for r in res.landmarks.itertuples()
               if r.variable == "all"}
    text: Text = (
        "The median time to resolution was ", *w.ci(p + "median.estimate_days", p + "median.lower_days", p + "median.upper_days", 1, m,
                                                   " months", hide=group_hidden("all", "all")),
        "; ", w.count(h.get(p + "events"), p + "events", w.same(e_cells.get(("all", "all"), ""), h.get(p + "events"))),
        " of ", w.count(h.get(p + "n"), p + "n", w.same(n_cells.get(("all", "all"), ""), h.get(p + "n"))),
        " index episodes resolved during follow-up",
        *((", and ", *w.ci(p + "unresolved_6m.estimate", p + "unresolved_6m.lower", p + "unresolved_6m.upper", 1, PCT, "%"),
           " were still unresolved at 6 months and ", w.num(p + "unresolved_8m.estimate", 1, PCT), "% at 8 months.")
          if not (overall.get("6", True) or overall.get("8", True)) else
          ("; the shares still unresolved at 6 and 8 months are ",
           Num("not shown", key=p + "unresolved_6m.estimate", suppressed=True),
           f" (each is a count below {w.min_cell}, or one that would give it back, in disguise).")),
        *claim_sentence(w, analysis.claims, "resolution_6_8_months"),
    )
    medians = ReportTable(
        "resolution_medians", f"Median time to resolution, months (Kaplan-Meier, {w.level} CI)",
        ("stratum", "group", "n", "resolved", f"median, months ({w.level} CI)"),
        tuple(((r.variable,), (r.stratum,),
               (w.count(r.n, cell=n_cells[(r.variable, r.stratum)]),),
               (w.count(r.events, cell=e_cells[(r.variable, r.stratum)]),),
               w.cell_ci(r.estimate_days, r.lower_days, r.upper_days, 1, m, hide=group_hidden(r.variable, r.stratum)))
              for r in level_free(res.medians).itertuples()))
    landmarks = ReportTable(
        "resolution_landmarks", f"Still unresolved at each landmark, % ({w.level} CI)",
        ("stratum", "group", "months", f"% unresolved ({w.level} CI)", "at risk"),
        tuple(((r.variable,), (r.stratum,), (f"{r.months:g}",),
               w.cell_ci(r.estimate, r.lower, r.upper, 1, PCT, hide=landmark_hidden(r)),
               (w.count(r.n_risk, cell=_stratum_cell(w, "resolution.at_risk", r.variable, r.stratum, r.n_risk,
                                                      f".{r.months:g}")),))
              for r in level_free(res.landmarks).itertuples()))
    small_test = any(r.groups >= 2 and w.compares_small(r.n_smallest) for r in res.logrank.itertuples())
    logrank = ReportTable("resolution_logrank", "Log-rank tests", ("compared", "groups", "n", "chi-square", "df", "p"),
                          tuple(((r.variable,), (str(r.groups),), (w.count(r.n, cell=_compared_cell(w, res, n_cells, r)),),
                                 *(((w.number(r.chisq, 2, hide=w.compares_small(r.n_smallest)),), (f"{r.df:g}",),
                                    (w.p(r.p, hide=w.compares_small(r.n_smallest)),)) if r.groups >= 2 else
                                   (("not estimable",), ("",), (f"{'no group' if r.groups == 0 else 'one group'}: "
                                                                "nothing to compare",))))
                                for r in res.logrank.itertuples()),
                          note=(f"A test comparing a group of fewer than {w.min_cell} patients is not shown."
                                if small_test else ""))
    rmst = ReportTable(
        "resolution_rmst", f"Restricted mean time to resolution, months ({w.level} CI): the mean time "
        "unresolved up to each horizon (the area under the Kaplan-Meier curve)",
        ("stratum", "group", "up to, months", f"mean months unresolved ({w.level} CI)"),
        tuple(((r.variable,), (r.stratum,), (f"{r.months:g}",),
               w.cell_ci(r.estimate_days, r.lower_days, r.upper_days, 1, m, hide=group_hidden(r.variable, r.stratum)))
              for r in level_free(res.rmst).itertuples()))
    cox_tables, cox_text = _cox_tables(res, w, n_cells.get(("all", "all")), e_cells.get(("all", "all")))
    tables = [medians, landmarks, rmst, logrank, *cox_tables]
    paragraphs: tuple[Text, ...] = (text, *cox_text)

    def not_drawn(var: str) -> tuple[str, ...]:
        """Groups without a curve: small, or whose size or resolutions the report hides (a curve's
        steps count its resolutions, and are its few members' times)."""
        return tuple(r.stratum for r in res.medians.itertuples() if r.variable == var and (
            group_hidden(var, r.stratum) or w.hidden_cell(e_cells.get((var, r.stratum)))))

    def caption(var: str) -> str:
        left_out = (f"; groups of fewer than {w.min_cell} patients, or whose size or resolutions are not "
                    "shown, are not drawn" if not_drawn(var) else "")
        return (f"Kaplan-Meier estimate of the share still unresolved{'' if var == 'all' else ' by ' + var}, with "
                f"{w.level} CI bands, censoring marks and numbers at risk ({HIDDEN_AT_RISK}: hidden so that the "
                f"totals do not give a count below {w.min_cell} back){left_out}.{w.curve_rule('resolutions')}")

    figures = [ReportFigure(km_resolution_name(s), caption(s),
                            f"Kaplan-Meier curves of time to resolution{'' if s == 'all' else ' by ' + s}",
                            _km_numbers(res, s, w, not_drawn(s)), not_drawn(s))
               for s in ["all", *analysis.options.resolution.strata]
               if (res.curves["variable"] == s).any()
               and len(not_drawn(s)) < len(res.medians[res.medians["variable"] == s])]
    return Section("resolution", "Time to resolution", paragraphs, tuple(figures), tuple(tables))
