"""Report sections of the analyses: each with its figure(s), table(s) and a plain sentence.

Numbers in sentences come from the headline mapping (``results.json``) through a
:class:`toh.reports._document.Writer`, so each is traceable by key; table cells come from the
result's tidy tables.  Shares whose numerator or complement is a small count are suppressed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from toh.reports._claims_text import claim_sentence
from toh.reports._document import TOTAL, Num, ReportFigure, ReportTable, Section, Text, Writer
from toh.reports._sections_cox import cox_tables as _cox_tables
from toh.reports._fig_common import DAYS_PER_YEAR, HIDDEN_AT_RISK, at_risk, days_per
from toh.reports._fig_curves import km_at_risk
from toh.reports.disclosure import at_most, fold_levels, total_of

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.resolution import ResolutionResult
    from toh.analyses.run import CohortAnalysis

__all__ = ["demographics_section", "radiographic_section", "resolution_section", "recurrence_migration_section",
           "complications_section", "imaging_section"]

PCT = 100.0
_GROUP = {"F": "women", "M": "men"}


def _month(analysis: CohortAnalysis) -> float:
    return 12.0 / analysis.definitions.days_per_year


#: share -> the Table 1 counts its numerator and denominator are (linked when the values agree)
_TABLE1_SHARES = {"share_men": ("table1.patients.M", "table1.patients.all"),
                  "men_aged_40_55": ("table1.age_group.40-55.M", "table1.patients.M"),
                  "women_pregnancy_associated": (None, "table1.patients.F"),
                  "left_hip": ("table1.side.left.all", None), "bilateral": ("table1.bilateral.yes.all", None),
                  "pregnant_in_trimester_3": ("table1.trimester.3.F", "table1.pregnancy.pregnant.F")}


def _capital(text: Text) -> Text:
    """``text`` with its first letter in capitals (a clause that opens a sentence)."""
    first = text[0]
    return (first[:1].upper() + first[1:], *text[1:]) if isinstance(first, str) else text


def demographics_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Sex ratio, age of men, pregnancy and trimester of women, side and bilateral presentation."""
    h = w.headline
    p = "demographics."
    shares: dict[str, tuple[str | None, str | None]] = {}
    rows = []
    for r in analysis.demographics.proportions.itertuples(index=False):
        x_cell, n_cell = _TABLE1_SHARES.get(r.quantity, (None, None))
        keys = (f"{p}{r.quantity}.x", f"{p}{r.quantity}.n") + (
            (p + "sex_ratio.men", p + "sex_ratio.n") if r.quantity == "share_men" else ())
        cells = shares[r.quantity] = w.share_cells(f"demographics.{r.quantity}", r.x, r.n,
                                                   x_cell and w.same(x_cell, r.x), n_cell and w.same(n_cell, r.n),
                                                   keys)
        hide = w.share_hidden(r.x, r.n, cells)
        rows.append(((r.description,), (w.count(r.x, cell=cells[0]), " of ", w.count(r.n, cell=cells[1])),
                     w.cell_ci(r.estimate, r.lower, r.upper, 1, PCT, hide=hide), (r.method,)))
    hide_ratio = w.share_hidden(h.get(p + "sex_ratio.men"), h.get(p + "sex_ratio.n"), shares.get("share_men", ()))

    def share(q: str, group: str, what: str) -> Text:
        """"of <group>, x% (CI) <what>", or "the share of <group> who <what> is not shown / not
        estimable (why)"."""
        hide = w.share_hidden(h.get(f"{p}{q}.x"), h.get(f"{p}{q}.n"), shares.get(q, ()))
        shown = w.ci(f"{p}{q}.estimate", f"{p}{q}.lower", f"{p}{q}.upper", 1, PCT, "%", hide=hide)
        if hide or shown[0].text == "not estimable":
            why = (f" (it rests on a count below {w.min_cell}, or one that would give it back)" if hide
                   else f": {w.reason_of(f'{p}{q}.estimate') or 'nobody in the group'}")
            return (f"the share of {group} who {what} is ", Num(shown[0].text.split(" (")[0], key=shown[0].key,
                                                                 suppressed=hide), why)
        return (f"of {group}, ", *shown, f" {what}")

    ratio: Text = (("Men outnumbered women ", *w.ci(p + "sex_ratio.ratio", p + "sex_ratio.ratio_lower",
                                                    p + "sex_ratio.ratio_upper", 2),
                    f" to one (exact binomial test of {analysis.options.demographics.null_ratio:g}:1, p = ",
                    w.p(w.headline.get(p + "sex_ratio.p_exact"), p + "sex_ratio.p_exact"), ").")
                   if not hide_ratio else
                   ("The ratio of men to women is ", Num("not shown", key=p + "sex_ratio.ratio", suppressed=True),
                    f" (it would give a count below {w.min_cell} back).",))
    text: Text = (
        *ratio, " ", *_capital(share("men_aged_40_55", "men", "were aged 40 to 55 at onset")), "; ",
        *share("women_pregnancy_associated", "women", "were pregnant or postpartum"), "; ",
        *share("pregnant_in_trimester_3", "pregnant women", "were in the third trimester"), ".",
        *claim_sentence(w, analysis.claims, "sex_ratio"),
    )
    table = ReportTable("demographics", f"Sex, age and pregnancy: shares with {w.level} confidence intervals",
                        ("quantity", "n of N", f"% ({w.level} CI)", "interval"), tuple(rows))
    sizes = analysis.demographics.age_distribution.groupby("group")["n"].sum()
    not_drawn = tuple(g for g in ("men", "women, pregnancy-associated", "women, other")
                      if w.small(sizes.get(g, 0)) or w.hidden_cell(f"table1.patients.{'M' if g == 'men' else 'F'}"))
    figure = ReportFigure("age_by_sex", "Age at onset by sex, women pregnant or postpartum at onset shown apart; "
                          "the band marks the published 40-55 years of men"
                          + (f"; groups of fewer than {w.min_cell} patients, or whose size is not shown, are not "
                             f"drawn ({', '.join(not_drawn)})" if not_drawn else "") + ".",
                          "Histogram of age at onset by sex", not_drawn=not_drawn)
    figures = (figure,) if len(not_drawn) < 3 else ()  # no group to draw
    return Section("demographics", "Sex ratio and age at onset", (text,), figures, (table,))


def radiographic_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Interval-censored time from onset to radiographic change on plain films."""
    p = "radiographic."
    result = analysis.radiographic
    draws = w.headline.get(p + "bootstrap_draws")
    text: Text = (
        "Of ", w.n(p + "n"), " index episodes with a decisive plain film, an estimated ",
        *w.ci(p + "changed_8w.npmle", p + "changed_8w.lower", p + "changed_8w.upper", 1, PCT, "%"),
        " showed radiographic change by 8 weeks and ", w.num(p + "changed_4w.npmle", 1, PCT), "% by 4 weeks "
        "(Turnbull estimate; intervals from ", w.count(draws, p + "bootstrap_draws", people=False),
        " bootstrap draws). A Weibull fit puts the median time to change at ",
        w.num(p + "weibull.median_days", 1, 1 / 7), " weeks.", *claim_sentence(w, analysis.claims, "films_by_8_weeks"),
    )
    rows = tuple(((f"{r.weeks:g}",), w.cell_ci(r.npmle, r.lower, r.upper, 1, PCT), (w.number(r.weibull, 1, PCT),))
                 for r in result.at.itertuples(index=False))
    at = ReportTable("radiographic_at", "Cumulative % with radiographic change on plain films",
                     ("weeks from onset", f"Turnbull % ({w.level} bootstrap CI)", "Weibull %"), rows)
    counts = ReportTable("radiographic_counts", "Index episodes in the radiographic analysis", ("", "n"),
                         tuple(((r.what,), (w.count(r.n),)) for r in result.counts.itertuples(index=False)))
    figure = ReportFigure("radiographic_change", "Cumulative proportion with radiographic change (Turnbull "
                          f"NPMLE, step) with its bootstrap {w.level} CI, the Weibull fit, and the published 4-8 week band.",
                          "Step curve of the proportion with radiographic change against weeks from onset")
    return Section("radiographic", "Time to radiographic change", (text,), (figure,), (at, counts))


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
    overall = table[table["stratum_var"] == "all"]
    for _, o in overall.iterrows():
        suffix = f".{o[by]:g}" if by else ""
        total = _stratum_cell(w, name, "all", "all", o[column], suffix)
        if total is None:
            continue
        for var in table["stratum_var"].unique():
            if var == "all":
                continue
            rows = table[(table["stratum_var"] == var) & ((table[by] == o[by]) if by else True)]
            parts = [_stratum_cell(w, name, var, r["stratum"], r[column], suffix) for _, r in rows.iterrows()]
            rest = w.implied(f"{name}.{var}.none{suffix}", o[column] - rows[column].sum())
            w.relate(total_of(f"{name} by {var}{suffix}", total, [*parts, rest]))


def _km_numbers(res: ResolutionResult, stratum_var: str, w: Writer,
               not_drawn: tuple[str, ...] = ()) -> tuple[tuple[tuple[str, int], Num], ...]:
    """The numbers at risk a Kaplan-Meier figure prints, declared to the audit: the same count
    as the landmark table's at the same month is one cell, and the strata at each tick add up
    to all patients at that tick (with the patients in no stratum, implied); the strata of
    ``not_drawn`` print none, and count as patients in no stratum."""
    ticks, rows = km_at_risk(res, stratum_var)
    rows = [(s, c) for s, c in rows if s not in not_drawn]
    everyone = res.curves[res.curves["stratum_var"] == "all"].sort_values("time")
    overall = at_risk(everyone, ticks * days_per(res.landmarks, "months", DAYS_PER_YEAR / 12))
    out = []
    for column, tick in enumerate(ticks):
        parts = []
        for stratum, counts in rows:
            name = _stratum_cell(w, "resolution.at_risk", stratum_var, stratum, counts[column], f".{tick:g}",
                                 f"figure.km_resolution_{stratum_var}.{stratum}.{tick:g}")
            parts.append(name)
            out.append(((stratum, column), w.count(counts[column], cell=name)))
        if stratum_var != "all" and len(everyone):
            value = overall[column]
            total = (w.same(f"resolution.at_risk.all.all.{tick:g}", value)
                     or w.same(f"figure.km_resolution_all.all.{tick:g}", value)
                     or (w.same("table1.patients.all", value) if tick == 0 else None)
                     or w.implied(f"figure.at_risk.all.{tick:g}", value))
            if total is not None:
                rest = w.implied(f"figure.at_risk.{stratum_var}.none.{tick:g}", value - sum(c[column] for _, c in rows))
                w.relate(total_of(f"at risk by {stratum_var} at {tick:g} months", total, [*parts, rest]))
    return tuple(out)


def _compared_cell(w: Writer, res: ResolutionResult, n_cells: dict[tuple[str, str], str | None],
                   r: object) -> str | None:
    """The audit cell of a log-rank test's n: the patients in the groups it compares, the sum of
    those groups' n (the report's total when every patient is in one)."""
    levels = [n_cells.get((r.variable, s)) for s in res.medians.loc[res.medians["stratum_var"] == r.variable, "stratum"]]
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
    (:mod:`toh.reports._sections_cox`)."""
    p = "resolution."
    m = _month(analysis)
    res = analysis.resolution
    h = w.headline
    _declare_strata(w, "resolution.n", res.medians, "n")
    _declare_strata(w, "resolution.events", res.medians, "events")
    _declare_strata(w, "resolution.at_risk", res.landmarks, "n_risk", "months")
    n_cells = {(r.stratum_var, r.stratum): _stratum_cell(w, "resolution.n", r.stratum_var, r.stratum, r.n, "")
               for r in res.medians.itertuples()}
    e_cells = {(r.stratum_var, r.stratum): _stratum_cell(w, "resolution.events", r.stratum_var, r.stratum, r.events, "")
               for r in res.medians.itertuples()}
    for r in res.medians.itertuples():
        events, n = e_cells[(r.stratum_var, r.stratum)], n_cells[(r.stratum_var, r.stratum)]
        if events in w.cells and n in w.cells:
            w.relate(at_most(f"resolution {r.stratum_var} {r.stratum}", events, n))
    def group_hidden(var: str, stratum: str) -> bool:  # one rule for a group's summaries, table and sentence
        n = n_cells.get((var, stratum))
        return n is None or w.hidden_cell(n) or w.summary_hidden(w.cells[n].value)

    def landmark_hidden(r: object) -> bool:
        """A share still unresolved is a count in disguise ("42.9% of 7" without censoring is 3):
        not shown when the group, its number at risk, or the resolved (or not resolved) by then
        is hidden or small."""
        at_risk = _stratum_cell(w, "resolution.at_risk", r.stratum_var, r.stratum, r.n_risk, f".{r.months:g}")
        curve = res.curves[(res.curves["stratum_var"] == r.stratum_var) & (res.curves["stratum"] == r.stratum)]
        resolved = curve.loc[curve["time"] <= r.days, "n_event"].sum()
        n = w.cells[n_cells[(r.stratum_var, r.stratum)]].value if (r.stratum_var, r.stratum) in n_cells else 0
        return (group_hidden(r.stratum_var, r.stratum) or w.hidden_cell(at_risk) or w.small(resolved)
                or w.small(n - resolved))

    overall = {f"{r.months:g}": landmark_hidden(r) for r in res.landmarks.itertuples()
               if r.stratum_var == "all"}
    text: Text = (
        "The median time to resolution was ", *w.ci(p + "median", p + "median_lower", p + "median_upper", 1, m,
                                                   " months", hide=group_hidden("all", "all")),
        "; ", w.count(h.get(p + "events"), p + "events", w.same(e_cells.get(("all", "all"), ""), h.get(p + "events"))),
        " of ", w.count(h.get(p + "n"), p + "n", w.same(n_cells.get(("all", "all"), ""), h.get(p + "n"))),
        " index episodes resolved during follow-up",
        *((", and ", *w.ci(p + "unresolved_6m", p + "unresolved_6m_lower", p + "unresolved_6m_upper", 1, PCT, "%"),
           " were still unresolved at 6 months and ", w.num(p + "unresolved_8m", 1, PCT), "% at 8 months.")
          if not (overall.get("6", True) or overall.get("8", True)) else
          ("; the shares still unresolved at 6 and 8 months are ",
           Num("not shown", key=p + "unresolved_6m", suppressed=True),
           f" (each is a count below {w.min_cell}, or one that would give it back, in disguise).")),
        *claim_sentence(w, analysis.claims, "resolution_6_8_months"),
    )
    medians = ReportTable(
        "resolution_medians", f"Median time to resolution, months (Kaplan-Meier, {w.level} CI)",
        ("stratum", "group", "n", "resolved", f"median, months ({w.level} CI)"),
        tuple(((r.stratum_var,), (_GROUP.get(r.stratum, r.stratum),),
               (w.count(r.n, cell=n_cells[(r.stratum_var, r.stratum)]),),
               (w.count(r.events, cell=e_cells[(r.stratum_var, r.stratum)]),),
               w.cell_ci(r.median, r.median_lower, r.median_upper, 1, m, hide=group_hidden(r.stratum_var, r.stratum)))
              for r in res.medians.itertuples()))
    landmarks = ReportTable(
        "resolution_landmarks", f"Still unresolved at each landmark, % ({w.level} CI)",
        ("stratum", "group", "months", f"% unresolved ({w.level} CI)", "at risk"),
        tuple(((r.stratum_var,), (_GROUP.get(r.stratum, r.stratum),), (f"{r.months:g}",),
               w.cell_ci(r.surv, r.lower, r.upper, 1, PCT, hide=landmark_hidden(r)),
               (w.count(r.n_risk, cell=_stratum_cell(w, "resolution.at_risk", r.stratum_var, r.stratum, r.n_risk,
                                                      f".{r.months:g}")),))
              for r in res.landmarks.itertuples()))
    logrank = ReportTable("resolution_logrank", "Log-rank tests", ("compared", "groups", "n", "chi-square", "df", "p"),
                          tuple(((r.variable,), (str(r.groups),), (w.count(r.n, cell=_compared_cell(w, res, n_cells, r)),),
                                 *(((w.number(r.chisq, 2),), (f"{r.df:g}",), (w.p(r.p),)) if r.groups >= 2 else
                                   (("not estimable",), ("",), (f"{'no group' if r.groups == 0 else 'one group'}: "
                                                                "nothing to compare",))))
                                for r in res.logrank.itertuples()))
    rmst = ReportTable(
        "resolution_rmst", f"Restricted mean time to resolution, months ({w.level} CI): the mean time "
        "unresolved up to each horizon (the area under the Kaplan-Meier curve)",
        ("stratum", "group", "up to, months", f"mean months unresolved ({w.level} CI)"),
        tuple(((r.stratum_var,), (_GROUP.get(r.stratum, r.stratum),), (f"{r.months:g}",),
               w.cell_ci(r.rmst, r.lower, r.upper, 1, m, hide=group_hidden(r.stratum_var, r.stratum)))
              for r in res.rmst.itertuples()))
    cox_tables, cox_text = _cox_tables(res, w, n_cells.get(("all", "all")), e_cells.get(("all", "all")))
    tables = [medians, landmarks, rmst, logrank, *cox_tables]
    paragraphs: tuple[Text, ...] = (text, *cox_text)

    def not_drawn(var: str) -> tuple[str, ...]:  # small groups get no curve (its steps are its members' times)
        return tuple(r.stratum for r in res.medians.itertuples()
                     if r.stratum_var == var != "all" and group_hidden(var, r.stratum))

    def caption(var: str) -> str:
        left_out = (f"; groups of fewer than {w.min_cell} patients, or whose size is not shown, are not drawn"
                    if not_drawn(var) else "")
        return (f"Kaplan-Meier estimate of the share still unresolved{'' if var == 'all' else ' by ' + var}, with "
                f"{w.level} CI bands, censoring marks and numbers at risk ({HIDDEN_AT_RISK}: hidden so that the "
                f"totals do not give a count below {w.min_cell} back){left_out}.")

    figures = [ReportFigure(f"km_resolution_{s}", caption(s),
                            f"Kaplan-Meier curves of time to resolution{'' if s == 'all' else ' by ' + s}",
                            _km_numbers(res, s, w, not_drawn(s)), not_drawn(s))
               for s in ["all", *analysis.options.resolution.strata]
               if (res.curves["stratum_var"] == s).any()
               and len(not_drawn(s)) < len(res.medians[res.medians["stratum_var"] == s])]
    return Section("resolution", "Time to resolution", paragraphs, tuple(figures), tuple(tables))


def _by_sex(w: Writer, key: str) -> Text:
    """"; it differed (did not differ significantly) between men and women (Gray's test p = x)"."""
    p = w.headline.get(key)
    if p is None:
        return ()
    verb = "differed" if p < 0.05 else "did not differ significantly"
    return (f"; it {verb} between men and women (Gray's test p = ", w.p(p, key), ")")


def _sites(analysis: CohortAnalysis, w: Writer) -> dict[str, int]:
    """Sites of the first migration, those of fewer than min_cell folded into "other", declared
    to the audit: they add up to the first migrations of the rate table."""
    counts = {s.site: int(s.n) for s in analysis.migration.sites.itertuples()}
    sites = {label: sum(counts[lv] for lv in levels) for label, levels in fold_levels(counts, w.min_cell).items()}
    parts = [w.declare(f"migration.sites.{name}", n) for name, n in sites.items()]
    rate = analysis.migration.rates
    events = rate.loc[rate["outcome"] == "migration", "events"]
    if len(events):
        total = w.declare("migration.rate.events", events.iloc[0])
        rest = w.implied("migration.sites.unlisted", events.iloc[0] - sum(sites.values()))
        w.relate(total_of("migration sites", total, [*parts, rest]))
    return sites


def recurrence_migration_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Cumulative incidence of same-hip recurrence and of migration, with rates and sites."""
    r, g = "recurrence.", "migration."
    sites = _sites(analysis, w)
    recurrence: Text = (
        "Same-hip recurrence had a cumulative incidence of ", *w.ci(r + "cif_24m.estimate", r + "cif_24m.lower",
                                                                     r + "cif_24m.upper", 1, PCT, "%"),
        " by 2 years (death a competing risk), ", w.n(r + "rate.events"), " recurrences in all, ",
        *w.ci(r + "rate.rate_per_100py", r + "rate.lower", r + "rate.upper", 2),
        " per 100 person-years", *_by_sex(w, r + "gray.sex.p"), ".",
    )
    migration: Text = (
        "Migration to the other hip or another joint had a cumulative incidence of ",
        *w.ci(g + "cif_24m.estimate", g + "cif_24m.lower", g + "cif_24m.upper", 1, PCT, "%"),
        " by 2 years", *_by_sex(w, g + "gray.sex.p"), "; ",
        w.count(w.headline.get(g + "sites.contralateral_hip"), g + "sites.contralateral_hip",
                w.same("migration.sites.contralateral_hip", w.headline.get(g + "sites.contralateral_hip"))),
        " first migrations went to the other hip.",
    )
    rows = []
    for name, result in (("recurrence", analysis.recurrence), ("migration", analysis.migration)):
        for x in result.incidence.itertuples():
            rows.append(((name,), (x.cause,), (f"{x.months:g}",), w.cell_ci(x.estimate, x.lower, x.upper, 1, PCT)))
    incidence = ReportTable("cumulative_incidence", f"Cumulative incidence, % ({w.level} CI; Aalen-Johansen, cmprsk variance)",
                            ("outcome", "cause", "months", f"% ({w.level} CI)"), tuple(rows))
    rates = []
    for result in (analysis.recurrence, analysis.migration):
        for x in result.rates.itertuples():
            cell = f"{x.outcome}.rate.events"
            rates.append(((x.outcome,), (w.count(x.events, cell=w.same(cell, x.events)),),
                          (w.number(x.person_years, 0),),
                          w.cell_ci(x.rate_per_100py, x.lower, x.upper, 2,
                                    hide=w.small(x.events) or w.hidden_cell(cell))))
    rate = ReportTable("event_rates", f"First events per 100 person-years (exact Poisson {w.level} CI)",
                       ("outcome", "events", "person-years", f"rate ({w.level} CI)"), tuple(rates))
    grays = []
    for result in (analysis.recurrence, analysis.migration):
        for x in result.gray.itertuples():
            n_cell = w.same(TOTAL, x.n) or w.declare(f"{x.outcome}.gray.{x.variable}.n", x.n)
            e_cell = (w.same(f"{x.outcome}.rate.events", x.events)
                      or w.declare(f"{x.outcome}.gray.{x.variable}.events", x.events))
            if n_cell and e_cell and e_cell != n_cell:
                w.relate(at_most(f"{x.outcome} Gray {x.variable}", e_cell, n_cell))
            why = ("no group" if x.groups == 0 else "one group" if x.groups == 1
                   else "no event" if not x.events else "" if x.stat == x.stat else "the test is not defined")
            test = ((("not estimable",), ("",), (f"{why}: nothing to compare",)) if why else
                    ((w.number(x.stat, 2),), (f"{x.df:g}",), (w.p(x.p),)))
            grays.append(((x.outcome,), (x.variable,), (str(x.groups),), (w.count(x.n, cell=n_cell),),
                          (w.count(x.events, cell=e_cell),), *test))
    gray = ReportTable("gray_tests", "Gray's test of equal cumulative incidence across groups",
                       ("outcome", "compared", "groups", "n", "events", "chi-square", "df", "p"), tuple(grays))
    site = ReportTable("migration_sites", "Site of the first migration", ("site", "n"),
                       tuple(((name.replace("_", " "),), (w.count(n, cell=f"migration.sites.{name}"),))
                             for name, n in sites.items()))
    figure = ReportFigure("cif_recurrence_migration", "Cumulative incidence of same-hip recurrence and of migration "
                          "from index onset, death a competing risk, with numbers at risk.",
                          "Cumulative incidence curves of recurrence and migration")
    return Section("recurrence", "Recurrence and migration", (recurrence, migration), (figure,),
                   (incidence, rate, gray, site))


#: group of the complications table -> its name in the headline keys
_COMPLICATION_GROUPS = {"pregnancy-associated": "pregnancy", "not pregnancy-associated": "not_pregnancy"}


def complications_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Insufficiency fracture and AVN: proportions, rates and the pregnancy risk ratio."""
    h = w.headline
    shares: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    drawn: list[tuple[tuple[str, int], Num]] = []  # the shares the figure draws, hidden where the table hides them
    rows = []
    for x in analysis.complications.estimates.itertuples():
        k = f"complications.{x.outcome}.{_COMPLICATION_GROUPS.get(x.group, x.group)}."
        cells = shares[(x.outcome, x.group)] = w.share_cells(f"complications.{x.outcome}.{x.group}", x.events, x.n,
                                                             keys=(k + "events", k + "n"))
        hide = w.share_hidden(x.events, x.n, cells)
        estimate = w.cell_ci(x.proportion, x.proportion_lower, x.proportion_upper, 1, PCT, hide=hide)
        drawn.append(((f"{x.outcome}.{x.group}", 0), estimate[0]))
        rows.append(((x.description,), (x.group,),
                     (w.count(x.events, cell=cells[0]), " of ", w.count(x.n, cell=cells[1])), estimate,
                     w.cell_ci(x.rate_per_100py, x.rate_lower, x.rate_upper, 2,
                               hide=w.small(x.events) or w.hidden_cell(cells[0]))))

    def outcome(name: str, label: str) -> Text:
        k = f"complications.{name}.all."
        x, n = shares.get((name, "all"), (None, None))
        events = w.count(h.get(k + "events"), k + "events", x and w.same(x, h.get(k + "events")))
        total = w.count(h.get(k + "n"), k + "n", n and w.same(n, h.get(k + "n")))
        hide = w.share_hidden(h.get(k + "events"), h.get(k + "n"), (x, n))
        return (label, " occurred in ", events, " of ", total, " index episodes, ",
                *w.ci(k + "proportion", k + "proportion_lower", k + "proportion_upper", 1, PCT, "%", hide=hide))

    text: Text = (*outcome("fracture", "An insufficiency or subcapital fracture"), "; ",
                  *outcome("avn", "avascular necrosis"), ".",
                  *(f for key in ("fracture_rare", "fracture_pregnancy", "no_avn")
                    for f in claim_sentence(w, analysis.claims, key)))
    table = ReportTable("complications", "Fracture and AVN after the index episode",
                        ("outcome", "group", "events of n", f"% ({w.level} exact CI)", f"per 100 person-years ({w.level} CI)"),
                        tuple(rows))
    ratios = []
    for x in analysis.complications.risk_ratios.itertuples():  # a ratio of two shares: hidden with either
        hide = (w.small(x.events_pregnancy) or w.small(x.events_other)
                or any(w.share_hidden(r.events, r.n, shares.get((x.outcome, r.group), ()))
                       for r in analysis.complications.estimates.itertuples()
                       if r.outcome == x.outcome and r.group in _COMPLICATION_GROUPS))
        ratios.append(((x.outcome,), w.cell_ci(x.risk_ratio, x.lower, x.upper, 2, hide=hide)))
    rr = ReportTable("complications_risk_ratio", f"Risk ratio, pregnancy-associated vs not (Wald {w.level} CI)",
                     ("outcome", f"risk ratio ({w.level} CI)"), tuple(ratios))
    figure = ReportFigure("complications", f"Share of index episodes with a fracture or AVN, overall and by "
                          f"pregnancy, with exact {w.level} intervals.", "Dot plot of fracture and AVN shares",
                          tuple(drawn))
    return Section("complications", "Insufficiency fracture and avascular necrosis", (text,), (figure,), (table, rr))


def imaging_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Imaging findings by modality and the first plain film; a modality without examinations,
    or a finding never recorded, is listed as not estimable with its reason."""
    h = w.headline
    t1 = "imaging.MRI.t1_low."
    rows, missing, drawn = [], {}, []
    for x in analysis.imaging.findings.itertuples():
        reason = analysis.reason(f"imaging.{x.modality}.{x.finding}")
        if reason:
            missing.setdefault(reason, []).append(f"{x.modality} {x.finding.replace('_', ' ')}")
            continue
        k = f"imaging.{x.modality}.{x.finding}."
        cells = w.share_cells(f"imaging.{x.modality}.{x.finding}", x.positive, x.recorded,
                              keys=(k + "positive", k + "recorded"))
        hidden = w.share_hidden(x.positive, x.recorded, cells)
        estimate = w.cell_ci(x.share, x.lower, x.upper, 1, PCT, hide=hidden)
        drawn.append(((f"{x.modality}.{x.finding}", 0), estimate[0]))
        rows.append(((x.modality,), (x.finding.replace("_", " "),),
                     (w.count(x.positive, cell=cells[0]), " of ", w.count(x.recorded, cell=cells[1])), estimate))
    hide = w.share_hidden(h.get(t1 + "positive"), h.get(t1 + "recorded"), w.cells_of(t1 + "positive", t1 + "recorded"))
    first = analysis.reason("imaging.first_film")
    film: Text = ((f"The first plain film: not estimable ({first}). ",) if first else (
        "The first plain film was normal in ", w.n("imaging.first_film.normal"), " index episodes, abnormal in ",
        w.n("imaging.first_film.abnormal"), " and indeterminate in ", w.n("imaging.first_film.indeterminate"), ". "))
    mri = analysis.reason(t1[:-1])
    t1_text: Text = ((f"Low T1 signal on MRI: not estimable ({mri}).",) if mri else (
        "MRI showed low T1 signal in ", *w.ci(t1 + "share", t1 + "lower", t1 + "upper", 1, PCT, "%", hide=hide),
        " of the index episodes whose first MRI recorded the finding."))
    note = " ".join(f"Not estimable ({reason}): {', '.join(names)}." for reason, names in missing.items())
    table = ReportTable("imaging_findings", "Findings by modality: % of index episodes, each read on its first "
                        "examination of the modality (repeat films of a patient are not counted twice)",
                        ("modality", "finding", "positive of recorded", f"% ({w.level} CI)"), tuple(rows), note=note)
    figure = ReportFigure("imaging_findings", f"Share of index episodes whose first examination of the modality "
                          f"shows each finding ({w.level} intervals).", "Dot plot of imaging findings by modality",
                          tuple(drawn))
    return Section("imaging", "Imaging findings", ((*film, *t1_text),), (figure,), (table,))
