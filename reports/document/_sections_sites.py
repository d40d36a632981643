"""The sections of a pooled report that the single-registry report does not have: the data of
each site, the sites section (patients per site, each site's estimates, the random-effects
meta-analyses and a forest plot per estimand), the methods of pooling and the manifest of the
bundles pooled.  Counts of people go through the :class:`toh.reports.document._writer.Writer`'s
small-cell rule and the disclosure audit, like every count of the single report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toh.analyses.result import level_free
from toh.analyses.claims import VERDICT_RULE
from toh.analyses.meta import cox_references, estimand_label
from toh.reports.document._writer import Num, ReportFigure, ReportTable, Section, Text, Writer
from toh.reports.document.disclosure import total_of
from toh.reports.figures.names import sites_forest_name
from toh.reports.safe_text import first_upper

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.aggregates import PooledAnalysis
    from toh.reports.sites.bundle import Bundle

__all__ = ["pool_data_section", "pool_attrition_section", "sites_section", "site_hidden", "combined_hidden", "POOLED_HIDDEN",
           "pool_methods_section", "pool_manifest_section"]

#: What a forest plot's ``not_drawn`` holds when the pooled estimate itself is not drawn (no site
#: name can be this: site names are plain codes).
POOLED_HIDDEN = "(pooled)"

#: model scale -> (scale shown, digits, unit) of an estimate on the estimand's own scale
_SHOWN = {"log rate": (1.0, 2, " per 100 person-years"), "logit": (100.0, 1, "%"), "log-log": (100.0, 1, "%"),
          "log hazard ratio": (1.0, 2, "")}


def pool_data_section(bundles: Sequence[Bundle], w: Writer) -> Section:
    """Each site's bundle: rows read by table (not shown for a site whose patients are hidden),
    validation errors and warnings (counts of rows, not of people), time unit."""
    tables = sorted({t for b in bundles for t in b.manifest["validation"]["rows"]})

    def read(b: Bundle, table: str) -> Num:  # not shown where they would give a hidden site size back
        if w.hidden_cell(w.declare(f"sites.{b.site}.patients", b.aggregates.patients)):
            return Num("not shown", suppressed=True)
        return w.count(b.manifest["validation"]["rows"].get(table, math.nan), people=False)

    rows = tuple(((b.site,), *((read(b, t),) for t in tables),
                  (w.count(b.manifest["validation"]["errors"], people=False),),
                  (w.count(b.manifest["validation"]["warnings"], people=False),)) for b in bundles)
    unit = bundles[0].manifest["time_unit"]
    text: Text = (f"{len(bundles)} sites each validated and derived their export locally and sent a bundle of "
                  "counts (toh bundle): no row, identifier, date or free text left a site. Times were rounded up "
                  f"to whole {unit}s before counting.",)
    table = ReportTable("pool_validation", "Rows read and validation findings at each site",
                        ("site", *(f"{t} rows" for t in tables), "errors", "warnings"), rows)
    return Section("data", "Data and validation", (text,), tables=(table,))


def pool_attrition_section(bundles: Sequence[Bundle], w: Writer, index_joint: str = "hip") -> Section:
    """The sites' attrition added up (rows read, rows leaving the cohort by reason, rows in the
    cohort, rows left out of an analysis by reason), from each bundle's manifest."""
    from toh.cohort.attrition import REASONS

    words = {"read": "rows read", "in_cohort": "rows of cohort patients"}
    summed: dict[tuple[str, str, str], int] = {}
    for b in bundles:
        for r in b.manifest["attrition"]:
            key = (r["table"], r["stage"], r["reason"])
            summed[key] = summed.get(key, 0) + int(r["n"])
    order = {"patients": 0, "episodes": 1, "imaging": 2, "events": 3}
    rank = {"absent": 0, "read": 0, "cohort": 1, "in_cohort": 2}  # as one export's summary orders them
    keys = sorted(summed, key=lambda k: (order.get(k[0], len(order)), rank.get(k[1], 3)))
    read = summed.get(("patients", "read", ""), 0)
    cohort = summed.get(("patients", "in_cohort", ""), 0)
    text: Text = (w.total(cohort), " of ", w.count(read, people=False), f" patients read at the {len(bundles)} sites "
                  f"have an index {index_joint} episode and form the pooled cohort. The rows that do not reach an "
                  "analysis are counted below with their reason, added up over the sites (each site's counts are "
                  "in its bundle's manifest).")
    cells = tuple(((t,), (stage.replace("_", " "),), (words.get(stage) or REASONS.get(reason, reason),),
                   (w.total(n) if (t, stage) == ("patients", "in_cohort") else w.count(n, people=False),))
                  for (t, stage, reason), n in ((k, summed[k]) for k in keys))
    table = ReportTable("attrition", "Attrition over all sites: rows read, rows in the cohort and rows left out of "
                        "an analysis", ("table", "stage", "reason", "rows"), cells)
    return Section("attrition", "Attrition", (text,), tables=(table,))


def _curve_counts(bundle: Bundle, estimand: str, days_per_year: float) -> tuple[float, float]:
    """(events by the landmark, patients) of a site's curve estimand (its share rests on both)."""
    agg = bundle.aggregates
    months = 6.0 if estimand.startswith("resolution") else 24.0
    t = months * days_per_year / 12
    if estimand.startswith("resolution"):
        counts = agg.survival[agg.survival["variable"] == "all"]
        return float(counts.loc[counts["time"] <= t, "n_event"].sum()), float(agg.patients)
    counts = getattr(agg, estimand.split(".")[0])
    return float(counts.loc[counts["time"] <= t, "event"].sum()), float(agg.patients)


def _cox_groups_small(w: Writer, estimand: str, bundles: Sequence[Bundle], references: Mapping[str, str]) -> bool:
    """True when a Cox hazard ratio compares a group of fewer than ``min_cell`` patients over
    ``bundles`` together, counted among the complete cases each site's model was fitted on
    (:func:`toh.analyses.site_cox.term_groups`; a site's own rule may be laxer than the pooled
    report's), or when a site has no count of the term."""
    from toh.analyses.site_cox import term_groups

    term = estimand.removeprefix("resolution.cox.")
    groups = [term_groups(b.aggregates.cox, references).get(term) for b in bundles]
    if any(g is None for g in groups):
        return True
    summed = [sum(sizes) for sizes in zip(*groups)] if groups else []
    return any(w.small(n) for n in summed)


def site_hidden(w: Writer, row: Any, bundle: Bundle, days_per_year: float,
                references: Mapping[str, str] | None = None) -> bool:
    """True when a site's own estimate (a row of ``meta.sites``) rests on a small count: the
    site's patients are hidden; a rate of fewer than ``min_cell`` events; a share, a curve at
    its landmark or a Cox hazard ratio whose events (or non-events) are fewer than ``min_cell``;
    a Cox hazard ratio comparing a group of fewer patients (``references``: the pool's reference
    level of each category, :func:`toh.analyses.meta.cox_references`)."""
    if w.hidden_cell(f"sites.{row.site}.patients"):
        return True
    if row.estimand.startswith("resolution.cox.") and _cox_groups_small(w, row.estimand, [bundle], references or {}):
        return True
    if row.scale == "log-log":
        count, base = _curve_counts(bundle, row.estimand, days_per_year)
    else:
        count, base = row.count, row.base
    if math.isnan(count):
        return False
    if row.scale == "log rate":
        return w.small(count)
    return w.small(count) or w.small(base - count)


def combined_hidden(w: Writer, rows: Any, bundles: Mapping[str, Bundle], days_per_year: float,
                    references: Mapping[str, str] | None = None) -> bool:
    """True when the meta-analysis of an estimand rests on a small count: the events (or
    non-events) of the sites it combines (``rows``: their rows of ``meta.sites``) add up to fewer
    than ``min_cell`` (its interval would give them back, as a pooled rate's would), or a Cox
    hazard ratio compares a group of fewer patients over those sites."""
    usable = [r for r in rows.itertuples() if r.effect == r.effect]
    if not usable:
        return False
    if usable[0].estimand.startswith("resolution.cox.") and _cox_groups_small(
            w, usable[0].estimand, [bundles[r.site] for r in usable], references or {}):
        return True
    pairs = [_curve_counts(bundles[r.site], r.estimand, days_per_year) if r.scale == "log-log" else (r.count, r.base)
             for r in usable]
    count, base = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    if math.isnan(count):
        return False
    return w.small(count) or (usable[0].scale != "log rate" and w.small(base - count))


def _ci(w: Writer, scale: str, est: Any, lower: Any, upper: Any, key: str, hide: bool = False) -> Text:
    factor, digits, _ = _SHOWN[scale]
    return w.cell_ci(est, lower, upper, digits, factor, hide=hide, keys=(f"{key}.estimate", f"{key}.lower",
                                                                          f"{key}.upper"))


def sites_section(pooled: PooledAnalysis, bundles: Sequence[Bundle], w: Writer) -> Section:
    """Patients per site, the random-effects meta-analyses (DerSimonian-Laird and REML rows),
    each site's own estimates and a forest plot per estimand."""
    patients = sum(b.aggregates.patients for b in bundles)
    total = w.total(patients)
    cells = [w.declare(f"sites.{b.site}.patients", b.aggregates.patients) for b in bundles]
    w.relate(total_of("patients by site", "table1.patients.all", [c for c in cells if c]))
    per_site = ReportTable("sites_patients", "Patients (index episodes) per site", ("site", "patients"),
                           tuple(((b.site,), (w.count(b.aggregates.patients, f"sites.{b.site}.patients",
                                                      f"sites.{b.site}.patients"),)) for b in bundles))
    meta = pooled.meta
    by_site = {b.site: b for b in bundles}
    per_year = pooled.definitions.days_per_year
    references = cox_references({b.site: b.aggregates for b in bundles})
    hidden: dict[str, list[str]] = {}
    site_rows = []
    for row in level_free(meta.sites).itertuples():
        hide = site_hidden(w, row, by_site[row.site], per_year, references)
        if hide:
            hidden.setdefault(row.estimand, []).append(row.site)
        site_rows.append(((estimand_label(row.estimand),), (row.site,),
                          _ci(w, row.scale, row.estimate, row.lower, row.upper, f"sites.{row.site}.{row.estimand}",
                              hide)))
    combined_rows = []
    usable = meta.sites[meta.sites["effect"] == meta.sites["effect"]]
    small = {e: combined_hidden(w, meta.sites[meta.sites["estimand"] == e], by_site, per_year, references)
             # a site's estimate enters the combination with its own weight (and Q): not shown with it
             or bool(set(usable.loc[usable["estimand"] == e, "site"]) & set(hidden.get(e, ())))
             for e in dict.fromkeys(meta.combined["estimand"])}
    for row in level_free(meta.combined).itertuples():
        key = f"meta.{row.estimand}" + ("" if row.method == "DL" else ".reml")
        dl, hide = row.method == "DL", small[row.estimand]
        combined_rows.append((
            (estimand_label(row.estimand),), (row.method,),
            (w.count(row.k, f"meta.{row.estimand}.k" if dl and not w.reason_of(key) else None, people=False),),
            _ci(w, row.scale, row.estimate, row.lower, row.upper, key, hide),
            (w.number(row.tau2, 4, key=f"{key}.tau2", hide=hide),),
            (w.number(row.i2, 1, 100.0, key=f"{key}.i2", hide=hide),),
            (w.p(row.q_p, f"{key}.q_p", hide=hide) if dl else "",), (row.sites_left_out or "none",)))
    table = ReportTable(
        "sites_meta_analysis", f"Random-effects meta-analysis of the sites' own estimates ({w.level} CI): "
        "DerSimonian-Laird (DL) and REML", ("estimand", "method", "sites", f"estimate ({w.level} CI)", "tau\u00b2",
                                           "I\u00b2, %", "Cochran's Q, p", "sites left out"), tuple(combined_rows),
        note="Rates per 100 person-years; shares and curves at their landmark in %; Cox terms as hazard ratios "
             f"(each treatment against {meta.cox_reference or 'the most frequent'}). tau\u00b2 is on the model "
             "scale (log rate, logit, log(-log), log hazard ratio).")
    sites_table = ReportTable("sites_estimates", f"Each site's own estimate ({w.level} CI)",
                              ("estimand", "site", f"estimate ({w.level} CI)"), tuple(site_rows))
    figures = []
    pooled_finite = set(meta.combined.loc[meta.combined["estimate"] == meta.combined["estimate"], "estimand"])
    for estimand in dict.fromkeys(meta.combined["estimand"]):
        drawn = set(usable.loc[usable["estimand"] == estimand, "site"]) - set(hidden.get(estimand, ()))
        if not drawn and (small[estimand] or estimand not in pooled_finite):
            continue  # every row would read "not shown": no figure, as for a registry's figure of small groups
        figures.append(ReportFigure(
            sites_forest_name(estimand), f"{first_upper(estimand_label(estimand))}: each site's estimate with its "
            f"{w.level} CI and the pooled "
            f"DerSimonian-Laird estimate (diamond); I\u00b2 and tau\u00b2 beside it"
            + (f"; not drawn (a count below {w.min_cell}): {', '.join(hidden[estimand])}" if estimand in hidden
               else "") + (f"; the pooled estimate is not drawn (it rests on a count below {w.min_cell})"
                           if small[estimand] else "") + ".", f"Forest plot of {estimand_label(estimand)} by site",
            not_drawn=(*hidden.get(estimand, ()), *((POOLED_HIDDEN,) if small[estimand] else ()))))
    text: Text = ("The pool holds ", total, f" patients from {len(bundles)} sites. Beside the pooled estimates "
                  "(the sites' counts added up), each site's own estimate and their random-effects meta-analysis "
                  "say how much the sites differ: ",
                  *_heterogeneity(w, meta.combined, small), ".")
    return Section("sites", "Sites", (text,), tuple(figures), (per_site, table, sites_table))


def _heterogeneity(w: Writer, combined: Any, small: Mapping[str, bool]) -> Text:
    """"I² of the recurrence rate 12.3%, ..." for the DerSimonian-Laird rows of the headline estimands."""
    out: list[str | Num] = []
    for estimand in ("resolution.unresolved_6m", "recurrence.rate", "migration.rate"):
        rows = combined[(combined["estimand"] == estimand) & (combined["method"] == "DL")]
        if not len(rows):
            continue
        out += [", " if out else "", f"I\u00b2 of {estimand_label(estimand)} ",
                w.number(rows["i2"].iloc[0], 1, 100.0, key=f"meta.{estimand}.i2", hide=small.get(estimand, False)),
                "" if small.get(estimand, False) else "%"]
    return tuple(out) or ("no estimand has two sites with an estimate",)


def pool_methods_section(pooled: PooledAnalysis, bundles: Sequence[Bundle], min_cell: int) -> Section:
    """What was pooled exactly, what was meta-analysed, what was not pooled, and the small-cell rule."""
    d, o = pooled.definitions, pooled.options
    level = f"{100 * d.confidence:g}%"
    manifest = bundles[0].manifest
    rad = o.radiographic
    boot = (f"{rad.bootstrap_draws:,} bootstrap draws (seed {rad.seed}) resampling the pooled counts per interval"
            if rad.bootstrap_draws else "no bootstrap intervals (0 draws requested)")
    unit = manifest["time_unit"]
    times = ("times in whole days" if unit == "day" else
             f"times rounded up to whole {unit}s ({manifest['unit_days']:g} days) before counting")
    rules = ", ".join(f"{b.site} {b.min_cell}" for b in bundles)
    paragraphs = [
        f"Pooled exactly. Each site ran toh bundle on its own export with the same definitions and options "
        f"(toh pool refuses bundles that differ) and {times}. A bundle holds sufficient statistics, and the "
        f"pooled estimates are made from their sums by the estimators of the single-registry report, so they are "
        f"the estimates of the sites' exports concatenated, at that time unit: Table 1's counts, Kaplan-Meier "
        f"curves, medians, landmarks and restricted means "
        f"of resolution (events and censorings per distinct time, overall and by stratum; {level} log(-log) "
        f"intervals), cumulative incidence of recurrence and migration with death competing (events, deaths and "
        f"censorings per time), the Turnbull NPMLE of radiographic change (counts per distinct interval) with "
        f"{boot}, rates (events and person-time, exact Poisson intervals) and shares (x and n, the single "
        f"report's intervals).",
        "Tests stratified by site. The log-rank tests of resolution and Gray's tests of recurrence and migration "
        "compare groups within each site and add the sites' statistics up, so a difference between sites is "
        "not read as one between groups.",
        f"Meta-analysed. Each site's own estimate, on a scale where it is about normal (log rate; logit of a "
        f"share; log(-log) of a curve at its landmark; the log hazard ratio of the site's own Cox model of "
        f"resolution), with its large-sample variance, is combined by the DerSimonian-Laird random-effects model "
        f"(statsmodels' combine_effects, tau\u00b2 truncated at 0) and by REML (Fisher scoring, as metafor's rma), "
        f"with normal {level} intervals, the between-site variance tau\u00b2, I\u00b2 and Cochran's Q. A site "
        f"without a finite estimate (no event, every patient counted) is left out of that estimand.",
        "Not pooled. The medians and quartiles of Table 1, ages at onset, imaging findings and the Cox model "
        "over all patients need each patient's row, which no bundle carries.",
        "Claims. The published claims are checked against the pooled estimates with the rules of the single "
        "report: " + VERDICT_RULE[0].lower() + VERDICT_RULE[1:] + " A claim whose estimate the pool cannot make is "
        "not assessable, with the reason.",
        (f"Small counts. Counts of people from 1 to {min_cell - 1} are shown as <{min_cell}; the patients per site "
         f"add up to the pool's total, and the counts by stratum, at risk and of each share are audited together "
         f"as in the single-registry report, further counts hidden ('not shown') where a small one could be "
         f"narrowed down. A site's own estimate resting on fewer than {min_cell} events (or non-events) is not "
         f"shown nor drawn, nor a meta-analysis that combines such an estimate (its weight and Cochran's Q would "
         f"give it back) or whose sites' events add up to fewer than {min_cell}."
         if min_cell > 1 else "Small counts. No counts are suppressed in this report "
         "(minimum cell size 0).")
        + f" Each site's own small-cell rule travels in its bundle ({rules}); toh pool reports with the largest of "
          f"them and 5, or a larger rule asked for, never a smaller one.",
    ]
    return Section("methods", "Methods", tuple((p,) for p in paragraphs))


def pool_manifest_section(bundles: Sequence[Bundle], settings: Mapping[str, Any]) -> Section:
    """Each bundle pooled (site, file, toh-cohort version, content hash) and the settings."""
    inputs = ReportTable("manifest_bundles", "Bundles pooled", ("site", "file", "toh-cohort", "content SHA-256"),
                         tuple(((b.site,), (b.path.name,), (str(b.manifest["toh_version"]),),
                                (str(b.manifest["content_hash"]),)) for b in bundles))
    table = ReportTable("manifest_settings", "Settings", ("setting", "value"),
                        tuple(((k,), (str(v),)) for k, v in sorted(settings.items())))
    text: Text = ("The same bundles, settings and seed give the same numbers and figures; results.json holds the "
                  "pooled numbers in machine-readable form.",)
    return Section("manifest", "Reproducibility manifest", (text,), tables=(inputs, table))
