"""Report sections of the analyses: each with its figure(s), table(s) and a plain sentence.

Numbers in sentences come from the headline mapping (``results.json``) through a
:class:`toh.reports.document._writer.Writer`, so each is traceable by key; table cells come from the
result's tidy tables.  Shares whose numerator or complement is a small count are suppressed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toh.analyses.result import level_free
from toh.reports.document._claims_text import claim_sentence
from toh.reports.document._writer import TOTAL, Num, ReportFigure, ReportTable, Section, Text, Writer
from toh.reports.document.disclosure import at_most, fold_levels, total_of
from toh.reports.figures.names import AGE_BY_SEX, CIF, COMPLICATIONS, IMAGING, RADIOGRAPHIC
from toh.reports.safe_text import first_upper

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from toh.analyses.run import CohortAnalysis

__all__ = ["demographics_section", "radiographic_section", "recurrence_migration_section",
           "complications_section", "imaging_section"]

PCT = 100.0


def _month(analysis: CohortAnalysis) -> float:
    return 12.0 / analysis.definitions.days_per_year


#: share -> the Table 1 counts its numerator and denominator are (linked when the values agree)
_TABLE1_SHARES = {"share_men": ("table1.patients.men", "table1.patients.all"),
                  "men_aged_40_55": ("table1.age_group.40-55.men", "table1.patients.men"),
                  "women_pregnancy_associated": (None, "table1.patients.women"),
                  "left_hip": ("table1.side.left.all", None), "bilateral": ("table1.bilateral.yes.all", None),
                  "pregnant_in_trimester_3": ("table1.trimester.3.women", "table1.pregnancy.pregnant.women")}


def _capital(text: Text) -> Text:
    """``text`` with its first letter in capitals (a clause that opens a sentence)."""
    first = text[0]
    return (first_upper(first), *text[1:]) if isinstance(first, str) else text


def demographics_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Sex ratio, age of men, pregnancy and trimester of women, side and bilateral presentation."""
    h = w.headline
    p = "demographics."
    shares: dict[str, tuple[str | None, str | None]] = {}
    rows = []
    for r in level_free(analysis.demographics.proportions).itertuples(index=False):
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

    ratio: Text = (("Men outnumbered women ", *w.ci(p + "sex_ratio.estimate", p + "sex_ratio.lower",
                                                    p + "sex_ratio.upper", 2),
                    f" to one (exact binomial test of {analysis.options.demographics.null_ratio:g}:1, p = ",
                    w.p(w.headline.get(p + "sex_ratio.p"), p + "sex_ratio.p"), ").")
                   if not hide_ratio else
                   ("The ratio of men to women is ", Num("not shown", key=p + "sex_ratio.estimate", suppressed=True),
                    f" (it would give a count below {w.min_cell} back).",))
    text: Text = (
        *ratio, " ", *_capital(share("men_aged_40_55", "men", "were aged 40 to 55 at onset")), "; ",
        *share("women_pregnancy_associated", "women", "were pregnant or postpartum"), "; ",
        *share("pregnant_in_trimester_3", "pregnant women", "were in the third trimester"), ".",
        *claim_sentence(w, analysis.claims, "sex_ratio"),
    )
    table = ReportTable("demographics", f"Sex, age and pregnancy: shares with {w.level} confidence intervals",
                        ("quantity", "n of N", f"% ({w.level} CI)", "interval"), tuple(rows))
    sizes = analysis.demographics.age_distribution.groupby("stratum")["n"].sum()
    groups = ("men", "women, pregnancy-associated", "women, other")
    not_drawn = tuple(g for g in groups
                      if w.small(sizes.get(g, 0))
                      or w.hidden_cell(f"table1.patients.{'men' if g == 'men' else 'women'}"))
    drawn = [g for g in groups if g not in not_drawn and sizes.get(g, 0) > 0]
    figure = ReportFigure(AGE_BY_SEX, "Age at onset by sex, women pregnant or postpartum at onset shown apart; "
                          "the band marks the published 40-55 years of men"
                          + (f"; groups of fewer than {w.min_cell} patients, or whose size is not shown, are not "
                             f"drawn ({', '.join(not_drawn)})" if not_drawn else "") + ".",
                          "Histogram of age at onset by sex", not_drawn=not_drawn)
    figures = (figure,) if drawn else ()  # no group to draw
    return Section("demographics", "Sex ratio and age at onset", (text,), figures, (table,))


def radiographic_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Interval-censored time from onset to radiographic change on plain films."""
    p = "radiographic."
    result = analysis.radiographic
    draws = w.headline.get(p + "bootstrap_draws")
    n = w.headline.get(p + "n")

    def hidden(weeks: float) -> bool:  # the share of n it estimates is episodes in disguise
        return w.share_hidden(w.headline.get(f"{p}changed_{weeks:g}w.episodes"), n)

    by_8: Text = (("an estimated ", *w.ci(p + "changed_8w.estimate", p + "changed_8w.lower", p + "changed_8w.upper",
                                          1, PCT, "%"), " showed radiographic change by 8 weeks")
                  if not hidden(8) else ("the share with radiographic change by 8 weeks is not shown (it rests on a "
                                         f"count below {w.min_cell}, or one that would give it back)",))
    four = w.num(p + "changed_4w.estimate", 1, PCT)
    by_4: Text = (((" and ", four, "% by 4 weeks ") if not hidden(8) else ("; by 4 weeks it was ", four, "% "))
                  if not hidden(4) else (f"; the share by 4 weeks is not shown{' either' if hidden(8) else ''} ",))
    text: Text = (
        "Of ", w.n(p + "n"), " index episodes with a decisive plain film, ", *by_8, *by_4,
        "(Turnbull estimate; intervals from ", w.count(draws, p + "bootstrap_draws", people=False),
        " bootstrap draws). A Weibull fit puts the median time to change at ",
        w.num(p + "weibull.median_days", 1, 1 / 7), " weeks.", *claim_sentence(w, analysis.claims, "films_by_8_weeks"),
    )
    rows = tuple(((f"{r.weeks:g}",), w.cell_ci(r.estimate, r.lower, r.upper, 1, PCT, hide=hidden(r.weeks)),
                  (w.number(r.weibull_estimate, 1, PCT),)) for r in level_free(result.at).itertuples(index=False))
    at = ReportTable("radiographic_at", "Cumulative % with radiographic change on plain films",
                     ("weeks from onset", f"Turnbull % ({w.level} bootstrap CI)", "Weibull %"), rows)
    counts = ReportTable("radiographic_counts", "Index episodes in the radiographic analysis", ("", "n"),
                         tuple(((r.what,), (w.count(r.n),)) for r in result.counts.itertuples(index=False)))
    rule = (f" Each drawn rise of the NPMLE holds the mass of at least {w.min_cell} episodes (rises in between are "
            "merged), and an estimate the table hides is not marked." if w.min_cell > 1 else "")
    figure = ReportFigure(RADIOGRAPHIC, "Cumulative proportion with radiographic change (Turnbull "
                          f"NPMLE, step) with its bootstrap {w.level} CI, the Weibull fit, and the published 4-8 week "
                          f"band.{rule}",
                          "Step curve of the proportion with radiographic change against weeks from onset",
                          tuple(((f"{r[0][0]}", 0), r[1][0]) for r in rows))
    return Section("radiographic", "Time to radiographic change", (text,), (figure,), (at, counts))


def _by_sex(w: Writer, key: str, gray: pd.DataFrame) -> Text:
    """"; it differed (did not differ significantly) between men and women (Gray's test p = x)",
    nothing when the test compares a small group (``gray``: the outcome's tests)."""
    p = w.headline.get(key)
    sex = gray[gray["variable"] == "sex"]
    if p is None or (len(sex) and w.compares_small(sex["n_smallest"].iloc[0])):
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


def _incidence_cells(analysis: CohortAnalysis, w: Writer) -> dict[tuple[str, str, float], tuple[str | None, str | None]]:
    """Declare the counts each cumulative incidence rests on to the audit: the patients with the
    cause by the horizon of ``n`` (without censoring the estimate is that share, so it is a
    count in disguise), at most the outcome's first events in all and at most those by a later
    horizon.  Returns (outcome, cause, months) -> the cells of :meth:`Writer.share_cells`."""
    cells: dict[tuple[str, str, float], tuple[str | None, str | None]] = {}
    for result in (analysis.recurrence, analysis.migration):
        for rate in result.rates.itertuples():  # the first events in all, printed in the rates table
            if f"{rate.outcome}.rate.events" not in w.cells:
                w.declare(f"{rate.outcome}.rate.events", rate.events)
        for x in level_free(result.incidence).sort_values(["cause", "months"]).itertuples():
            group = f"{x.outcome}.cif.{x.cause}.{x.months:g}m"
            x_cell = w.same(f"{x.outcome}.rate.events", x.events) if x.cause == x.outcome else None
            cells[(x.outcome, x.cause, x.months)] = found = w.share_cells(
                group, x.events, x.n, x_cell=x_cell, n_cell=w.same(TOTAL, x.n),
                keys=(f"{x.outcome}.cif_{x.months:g}m.events", f"{x.outcome}.cif_{x.months:g}m.n")
                if x.cause == x.outcome else ())
            earlier = [c for (o, cause, m), c in cells.items() if o == x.outcome and cause == x.cause and m < x.months]
            if found[0] and earlier and earlier[-1][0]:
                w.relate(at_most(f"{group} after", earlier[-1][0], found[0]))
            total = f"{x.outcome}.rate.events"
            if found[0] and x.cause == x.outcome and total in w.cells and found[0] != total:
                w.relate(at_most(f"{group} of all", found[0], total))
    return cells


def recurrence_migration_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Cumulative incidence of same-hip recurrence and of migration, with rates and sites."""
    r, g = "recurrence.", "migration."
    sites = _sites(analysis, w)
    cells = _incidence_cells(analysis, w)

    def hidden(x: object) -> bool:  # one rule for a cumulative incidence's table cell, sentence and claim
        return w.share_hidden(x.events, x.n, cells.get((x.outcome, x.cause, x.months), ()))

    at_24 = {x.outcome: hidden(x) for result in (analysis.recurrence, analysis.migration)
             for x in level_free(result.incidence).itertuples() if x.cause == x.outcome and x.months == 24}

    def incidence(outcome: str, subject: str, competing: str) -> Text:
        """"<subject> had a cumulative incidence of x% (CI) by 2 years<competing>", or says it is not shown."""
        k = f"{outcome}.cif_24m."
        if at_24.get(outcome, False):
            return (f"{subject} by 2 years{competing}: the cumulative incidence is not shown (it rests on a count "
                    f"below {w.min_cell}, or one that would give it back)",)
        return (f"{subject} had a cumulative incidence of ", *w.ci(k + "estimate", k + "lower", k + "upper", 1, PCT, "%"),
                f" by 2 years{competing}")

    events = w.headline.get(r + "rate.events")
    recurrence: Text = (
        *incidence("recurrence", "Same-hip recurrence", " (death a competing risk)"), ", ",
        w.count(events, r + "rate.events", w.same(r + "rate.events", events)), " recurrences in all, ",
        *w.ci(r + "rate.estimate_per_100py", r + "rate.lower_per_100py", r + "rate.upper_per_100py", 2,
              hide=w.small(events) or w.hidden_cell(r + "rate.events")),  # the rate table's rule
        " per 100 person-years", *_by_sex(w, r + "gray.sex.p", analysis.recurrence.gray), ".",
    )
    migration: Text = (
        *incidence("migration", "Migration to the other hip or another joint", ""),
        *_by_sex(w, g + "gray.sex.p", analysis.migration.gray), "; ",
        w.count(w.headline.get(g + "sites.contralateral_hip"), g + "sites.contralateral_hip",
                w.same("migration.sites.contralateral_hip", w.headline.get(g + "sites.contralateral_hip"))),
        " first migrations went to the other hip.",
    )
    rows = []
    for name, result in (("recurrence", analysis.recurrence), ("migration", analysis.migration)):
        for x in level_free(result.incidence).itertuples():
            x_cell = cells.get((x.outcome, x.cause, x.months), (None, None))[0]
            rows.append(((name,), (x.cause,), (f"{x.months:g}",), (w.count(x.events, cell=x_cell),),
                         w.cell_ci(x.estimate, x.lower, x.upper, 1, PCT, hide=hidden(x))))
    incidence = ReportTable("cumulative_incidence", f"Cumulative incidence, % ({w.level} CI; Aalen-Johansen, cmprsk variance)",
                            ("outcome", "cause", "months", "events by then", f"% ({w.level} CI)"), tuple(rows))
    rates = []
    for result in (analysis.recurrence, analysis.migration):
        for x in level_free(result.rates).itertuples():
            cell = f"{x.outcome}.rate.events"
            rates.append(((x.outcome,), (w.count(x.events, cell=w.same(cell, x.events)),),
                          (w.number(x.person_years, 0),),
                          w.cell_ci(x.estimate_per_100py, x.lower_per_100py, x.upper_per_100py, 2,
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
                   else "no event" if not x.events else "" if x.chisq == x.chisq else "the test is not defined")
            small = w.compares_small(x.n_smallest)
            test = ((("not estimable",), ("",), (f"{why}: nothing to compare",)) if why else
                    ((w.number(x.chisq, 2, hide=small),), (f"{x.df:g}",), (w.p(x.p, hide=small),)))
            grays.append(((x.outcome,), (x.variable,), (str(x.groups),), (w.count(x.n, cell=n_cell),),
                          (w.count(x.events, cell=e_cell),), *test))
    small_test = any(w.compares_small(x.n_smallest) for result in (analysis.recurrence, analysis.migration)
                     for x in result.gray.itertuples() if x.groups >= 2)
    gray = ReportTable("gray_tests", "Gray's test of equal cumulative incidence across groups",
                       ("outcome", "compared", "groups", "n", "events", "chi-square", "df", "p"), tuple(grays),
                       note=f"A test comparing a group of fewer than {w.min_cell} patients is not shown." if small_test
                       else "")
    site = ReportTable("migration_sites", "Site of the first migration", ("site", "n"),
                       tuple(((name.replace("_", " "),), (w.count(n, cell=f"migration.sites.{name}"),))
                             for name, n in sites.items()))
    # a curve's steps count its events: an outcome whose first events are few, or hidden, is not drawn
    not_drawn = tuple(x.outcome for result in (analysis.recurrence, analysis.migration) for x in result.rates.itertuples()
                      if w.small(x.events) or w.hidden_cell(f"{x.outcome}.rate.events"))
    left_out = (f" An outcome of fewer than {w.min_cell} events, or whose events are not shown, is not drawn "
                f"({', '.join(not_drawn)})." if not_drawn else "")
    figure = ReportFigure(CIF, "Cumulative incidence of same-hip recurrence and of migration "
                          f"from index onset, death a competing risk, with numbers at risk.{left_out}"
                          f"{w.curve_rule('events')}",
                          "Cumulative incidence curves of recurrence and migration", not_drawn=not_drawn)
    figures = (figure,) if len(not_drawn) < 2 else ()
    return Section("recurrence", "Recurrence and migration", (recurrence, migration), figures,
                   (incidence, rate, gray, site))


#: group of the complications table -> its name in the headline keys
_COMPLICATION_GROUPS = {"pregnancy-associated": "pregnancy", "not pregnancy-associated": "not_pregnancy"}


def complications_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Insufficiency fracture and AVN: proportions, rates and the pregnancy risk ratio."""
    h = w.headline
    shares: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    drawn: list[tuple[tuple[str, int], Num]] = []  # the shares the figure draws, hidden where the table hides them
    rows = []
    for x in level_free(analysis.complications.estimates).itertuples():
        k = f"complications.{x.outcome}.{_COMPLICATION_GROUPS.get(x.stratum, x.stratum)}."
        cells = shares[(x.outcome, x.stratum)] = w.share_cells(f"complications.{x.outcome}.{x.stratum}", x.events, x.n,
                                                             keys=(k + "events", k + "n"))
        hide = w.share_hidden(x.events, x.n, cells)
        estimate = w.cell_ci(x.estimate, x.lower, x.upper, 1, PCT, hide=hide)
        drawn.append(((f"{x.outcome}.{x.stratum}", 0), estimate[0]))
        rows.append(((x.description,), (x.stratum,),
                     (w.count(x.events, cell=cells[0]), " of ", w.count(x.n, cell=cells[1])), estimate,
                     w.cell_ci(x.rate_per_100py, x.rate_lower_per_100py, x.rate_upper_per_100py, 2,
                               hide=w.small(x.events) or w.hidden_cell(cells[0]))))

    def outcome(name: str, label: str) -> Text:
        k = f"complications.{name}.all."
        x, n = shares.get((name, "all"), (None, None))
        events = w.count(h.get(k + "events"), k + "events", x and w.same(x, h.get(k + "events")))
        total = w.count(h.get(k + "n"), k + "n", n and w.same(n, h.get(k + "n")))
        hide = w.share_hidden(h.get(k + "events"), h.get(k + "n"), (x, n))
        return (label, " occurred in ", events, " of ", total, " index episodes, ",
                *w.ci(k + "estimate", k + "lower", k + "upper", 1, PCT, "%", hide=hide))

    text: Text = (*outcome("fracture", "An insufficiency or subcapital fracture"), "; ",
                  *outcome("avn", "avascular necrosis"), ".",
                  *(f for key in ("fracture_rare", "fracture_pregnancy", "no_avn")
                    for f in claim_sentence(w, analysis.claims, key)))
    table = ReportTable("complications", "Fracture and AVN after the index episode",
                        ("outcome", "group", "events of n", f"% ({w.level} exact CI)", f"per 100 person-years ({w.level} CI)"),
                        tuple(rows))
    ratios = []
    for x in level_free(analysis.complications.risk_ratios).itertuples():  # a ratio of two shares: hidden with either
        hide = (w.small(x.events_pregnancy) or w.small(x.events_other)
                or any(w.share_hidden(r.events, r.n, shares.get((x.outcome, r.stratum), ()))
                       for r in analysis.complications.estimates.itertuples()
                       if r.outcome == x.outcome and r.stratum in _COMPLICATION_GROUPS))
        ratios.append(((x.outcome,), w.cell_ci(x.estimate, x.lower, x.upper, 2, hide=hide)))
    rr = ReportTable("complications_risk_ratio", f"Risk ratio, pregnancy-associated vs not (Wald {w.level} CI)",
                     ("outcome", f"risk ratio ({w.level} CI)"), tuple(ratios))
    figure = ReportFigure(COMPLICATIONS, f"Share of index episodes with a fracture or AVN, overall and by "
                          f"pregnancy, with exact {w.level} intervals.", "Dot plot of fracture and AVN shares",
                          tuple(drawn))
    return Section("complications", "Insufficiency fracture and avascular necrosis", (text,), (figure,), (table, rr))


def imaging_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Imaging findings by modality and the first plain film; a modality without examinations,
    or a finding never recorded, is listed as not estimable with its reason."""
    h = w.headline
    t1 = "imaging.MRI.t1_low."
    rows, missing, drawn = [], {}, []
    for x in level_free(analysis.imaging.findings).itertuples():
        reason = w.reason(f"imaging.{x.modality}.{x.finding}")
        if reason:
            missing.setdefault(reason, []).append(f"{x.modality} {x.finding.replace('_', ' ')}")
            continue
        k = f"imaging.{x.modality}.{x.finding}."
        cells = w.share_cells(f"imaging.{x.modality}.{x.finding}", x.positive, x.recorded,
                              keys=(k + "positive", k + "recorded"))
        hidden = w.share_hidden(x.positive, x.recorded, cells)
        estimate = w.cell_ci(x.estimate, x.lower, x.upper, 1, PCT, hide=hidden)
        drawn.append(((f"{x.modality}.{x.finding}", 0), estimate[0]))
        rows.append(((x.modality,), (x.finding.replace("_", " "),),
                     (w.count(x.positive, cell=cells[0]), " of ", w.count(x.recorded, cell=cells[1])), estimate))
    hide = w.share_hidden(h.get(t1 + "positive"), h.get(t1 + "recorded"), w.cells_of(t1 + "positive", t1 + "recorded"))
    first = w.reason("imaging.first_film")
    film: Text = ((f"The first plain film: not estimable ({first}). ",) if first else (
        "The first plain film was normal in ", w.n("imaging.first_film.normal"), " index episodes, abnormal in ",
        w.n("imaging.first_film.abnormal"), " and indeterminate in ", w.n("imaging.first_film.indeterminate"), ". "))
    mri = w.reason(t1[:-1])
    t1_text: Text = ((f"Low T1 signal on MRI: not estimable ({mri}).",) if mri else (
        "MRI showed low T1 signal in ", *w.ci(t1 + "estimate", t1 + "lower", t1 + "upper", 1, PCT, "%", hide=hide),
        " of the index episodes whose first MRI recorded the finding."))
    note = " ".join(f"Not estimable ({reason}): {', '.join(names)}." for reason, names in missing.items())
    table = ReportTable("imaging_findings", "Findings by modality: % of index episodes, each read on its first "
                        "examination of the modality (repeat films of a patient are not counted twice)",
                        ("modality", "finding", "positive of recorded", f"% ({w.level} CI)"), tuple(rows), note=note)
    figure = ReportFigure(IMAGING, f"Share of index episodes whose first examination of the modality "
                          f"shows each finding ({w.level} intervals).", "Dot plot of imaging findings by modality",
                          tuple(drawn))
    return Section("imaging", "Imaging findings", ((*film, *t1_text),), (figure,), (table,))
