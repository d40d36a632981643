"""Report sections: the claims check, the methods (written from the options actually used) and
the reproducibility manifest."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toh.analyses.claims import VERDICT_RULE, VERDICTS

from toh.reports.document._claims_text import HIDDEN_VERDICT, claim_cell, hidden_claims
from toh.reports.document._writer import ReportFigure, ReportTable, Section, Text, Writer
from toh.reports.figures.names import CLAIMS_FOREST

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import CohortAnalysis

__all__ = ["claims_section", "methods_section", "manifest_section"]

def claims_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Each published claim beside the registry's estimate and its verdict, with full references."""
    result = analysis.claims
    claims = result.claims
    hidden = hidden_claims(w, result)
    rows = []
    for c in claims.itertuples():
        cell = claim_cell(w, result.record(c.key), c.reason, hide=c.key in hidden)
        verdict = HIDDEN_VERDICT if c.key in hidden else w.headline.get(f"claims.{c.key}.verdict", c.verdict)
        rows.append(((c.claim,), (c.source,), (c.published,), (c.quantity,), cell, (c.rule,), (verdict,)))
    shown = claims[~claims["key"].isin(sorted(hidden))]
    counts = {v: int((shown["verdict"] == v).sum()) for v in VERDICTS}
    text: Text = (
        f"{counts['consistent']} of the {len(claims)} published statements about TOH checked here are consistent "
        f"with this registry (the whole {w.level} confidence interval satisfies the claim); not consistent (the "
        f"whole interval contradicts it): {counts['not consistent']}; inconclusive (the interval straddles the "
        f"published figure): {counts['inconclusive']}"
        + (f"; not assessable from this export: {counts['not assessable']}" if counts["not assessable"] else "")
        + (f"; not shown, as the estimate rests on a small count: {len(hidden)}" if hidden else "")
        + ".",
    )
    references = "; ".join(dict.fromkeys(f"{c.source.short_text()}: {c.source.full_text()}" for c in result.records))
    table = ReportTable("claims", "Claims check: each published figure beside the registry's estimate",
                        ("claim", "source", "published", "registry quantity", f"estimate ({w.level} CI)", "rule",
                         "verdict"), tuple(rows),
                        note="A verdict is 'consistent' when the rule holds for the whole interval, 'not consistent' "
                             "when it fails for the whole interval, otherwise 'inconclusive'; 'not assessable' when the "
                             "export lacks the data the estimate needs (the reason is given)."
                             + (" Estimates resting on small counts are suppressed." if hidden else "")
                             + f" Sources: {references}")
    figure = ReportFigure(CLAIMS_FOREST, "Each published claim (dashed line: a value or threshold; shaded: a range "
                          "or the side of a threshold the claim asserts) beside the registry's estimate and "
                          "confidence interval, coloured by verdict.", "Forest plot of the claims check")
    return Section("claims", "Claims check", (text,), (figure,), (table,))


def _cox_methods(analysis: CohortAnalysis, min_cell: int) -> str:
    """The Cox model as fitted: covariates with their units and references, strata, complete
    cases, the proportional-hazards test and what a violation brings."""
    o = analysis.options.resolution
    declared = {c.name: c for c in analysis.options.columns}
    names = {"male": "sex (men vs women)", "age": "age at onset (per 10 years)",
             "pregnancy_associated": "pregnancy association (pregnant or postpartum at onset vs not)",
             "treatment": "treatment"}
    terms = []
    for name in o.cox_covariates:
        c = declared.get(name)
        terms.append(names.get(name, name) if c is None else f"{c.shown} (a {c.type} column of the export"
                     + (f", per {c.per:g}" if c.per != 1 else "") + ")")
    strata = f", stratified by {_list(o.cox_strata)} (each level its own baseline hazard)" if o.cox_strata else ""
    folded = (f"; categories' levels of fewer than {o.min_level} patients are pooled as 'other'"
              if o.min_level > 1 else "")
    return (f"A Cox model (Efron ties, as R's coxph) of time to resolution on {_list(terms)}{strata}: each "
            f"category against its most frequent level{folded}; complete cases (the episodes left out for a "
            f"missing value are counted). Proportional hazards are checked per term and globally as R's cox.zph "
            f"does (KM transform); where a category's test gives p < {o.ph_alpha:g}, the model is also fitted "
            f"stratified by it, and a term that breaks the assumption is flagged in the table and the text.")


def _list(values: Any, unit: str = "") -> str:
    items = [f"{v:g}" if isinstance(v, float) else str(v).replace("_", " ") for v in values]
    text = ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1] if items else "none"
    return text + unit


def methods_section(analysis: CohortAnalysis, min_cell: int, cautions: tuple[str, ...] = ()) -> Section:
    """Definitions and estimators, written from the Definitions and options of this run, and the
    cautions the estimators raised."""
    d, o = analysis.definitions, analysis.options
    low, high = d.men_age_range
    level = f"{100 * d.confidence:g}%"
    rad = o.radiographic
    boot = (f"percentile intervals from {rad.bootstrap_draws:,} bootstrap resamples of index episodes (seed "
            f"{rad.seed}, one seeded stream per draw, so the numbers do not depend on the number of workers)"
            if rad.bootstrap_draws else "no bootstrap intervals (0 draws requested)")
    paragraphs = [
        f"Cohort. Patients with at least one {d.index_joint} episode; the index episode is the earliest "
        f"{d.index_joint} episode (ties broken by the smaller episode id). Times are whole days from symptom "
        f"onset; a year is {d.days_per_year:g} days, a month a twelfth of it, a week 7 days. Age at onset is "
        f"the days from birth to index onset divided by {d.days_per_year:g}. Episodes of both hips within "
        f"{d.bilateral_window_days} days of each other are a bilateral presentation.",
        f"Sex and age. The sex ratio (men per woman) and its {level} interval come from a Wilson interval on "
        f"the share of men; an exact binomial test compares it with {o.demographics.null_ratio:g}:1. Other "
        f"shares have exact (Clopper-Pearson) intervals. Men count as aged 40-55 when {low:g} <= age < {high:g}.",
        f"Radiographic change. The change lies between the last plain film without and the first film with "
        f"an abnormal finding ({_list(d.xr_abnormal_findings)}), or is right-censored at the last film. The "
        f"Turnbull NPMLE is fitted on the innermost intervals to a KKT tolerance of {rad.tol:g} and read at "
        f"{_list(rad.weeks, ' weeks')}, counting the mass of intervals that end by then; {boot}. A Weibull model "
        f"fitted by maximum likelihood to the same intervals is shown beside it.",
        f"Resolution. Kaplan-Meier estimates with {level} log(-log) intervals from Greenwood's variance; medians "
        f"by R's rule (the midpoint where the curve is flat at one half); still unresolved at "
        f"{_list(o.resolution.landmark_months, ' months')}; restricted mean at "
        f"{_list(o.resolution.rmst_months, ' months')}. Strata ({_list(o.resolution.strata)}) are compared by "
        f"log-rank tests. " + _cox_methods(analysis, min_cell),
        f"Recurrence and migration. Cumulative incidence (Aalen-Johansen) from index onset with death as a "
        f"competing risk, variance as cmprsk's cuminc, log(-log) {level} intervals, read at "
        f"{_list(o.recurrence.months, ' months')}; groups ({_list(o.recurrence.strata)}) compared by Gray's test "
        f"(weight 1, as cuminc's default rho = 0); first events per 100 person-years with exact Poisson intervals.",
        f"Complications. Fracture: {_list(d.fracture_event_types)}; AVN: {_list(d.avn_event_types)}. Share of "
        f"index episodes with an exact interval, and first events per 100 person-years (exact Poisson), "
        f"person-time from index onset to the first event or the end of follow-up; the risk ratio of "
        f"pregnancy-associated against other episodes has a Wald interval on the log scale.",
        "Claims. " + VERDICT_RULE + " Claims files read: " + "; ".join(
            f"{Path(name).name} (SHA-256 {digest[:12]})" for name, digest in analysis.claims.files) + ".",
        (f"Small counts. Counts of people from 1 to {min_cell - 1} are shown as <{min_cell} in every table, "
         f"sentence and figure; the number of patients the report describes is always shown, and counts that "
         f"are not about people (rows read, rows failing a rule or left out of an analysis, bootstrap draws) "
         f"are never hidden. Table 1, the numbers at risk and counts by stratum, the patients and events of "
         f"each test, the migration sites and each 'x of n' share are then audited together as linear "
         f"relations (a linear program per hidden count, reading <{min_cell} as 1 to {min_cell - 1} and "
         f"'not shown' as at least {min_cell}), and further counts are hidden ('not shown') until no hidden "
         f"small count can be narrowed to fewer than half of the values <{min_cell} allows. Where no further "
         f"count can be hidden, the small count's own label is what gives it away, and it is shown as "
         f"'not shown' too (the audit then reads every 'not shown' as any count from 0). Shares, rates, "
         f"medians, restricted means and curves of a group of fewer than {min_cell} people, or whose size is "
         f"hidden, are not shown, nor a share still unresolved whose number at risk or resolved is hidden, "
         f"nor a cumulative incidence whose events by then, or the patients without them, are a hidden count "
         f"(each is that count in disguise), nor the curve of an outcome of fewer than {min_cell} events, "
         f"nor a hazard ratio of the Cox model, a log-rank or a Gray's test comparing a group of fewer than "
         f"{min_cell} patients (each is that group's statistic), "
         f"nor the verdict of a claim whose estimate is; treatments and migration sites of fewer than "
         f"{min_cell} patients are counted as 'other'. Curves are drawn with steps of at least {min_cell} events, "
         f"and end before fewer than {min_cell} would remain at risk or a number at risk is hidden; a Turnbull "
         f"share of radiographic change is hidden when the episodes it stands for (share x n), or the rest, are "
         f"fewer than {min_cell}, and each drawn rise of the NPMLE holds the mass of at least {min_cell} episodes."
         if min_cell > 1 else "Small counts. No counts are suppressed in this report (minimum cell size 0)."),
    ]
    if cautions:
        paragraphs.append("Cautions raised by the estimators on these data: " + "; ".join(cautions) + ".")
    return Section("methods", "Methods", tuple((p,) for p in paragraphs))


def _setting(value: Any) -> str:
    """A setting as a reader reads it: a list comma-separated ("none" when empty), an unset one
    "not set" (never Python's "None")."""
    if value is None:
        return "not set"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def manifest_section(provenance: Mapping[str, Any], config: Mapping[str, Any]) -> Section:
    """SHA-256 of each input, the configuration, seed and software versions."""
    inputs = ReportTable("manifest_inputs", "Inputs (SHA-256 of the bytes read)", ("file", "SHA-256"),
                         tuple(((name,), (digest,)) for name, digest in sorted(provenance["inputs_sha256"].items())))
    settings = {**provenance.get("settings", {}), **{f"config.{k}": v for k, v in sorted(config.items())}}
    settings_table = ReportTable("manifest_settings", "Settings", ("setting", "value"),
                                 tuple(((k,), (_setting(v),)) for k, v in settings.items()))
    software = ReportTable("manifest_software", "Software", ("package", "version"),
                           tuple(((k,), (v,)) for k, v in sorted(provenance["software"].items())))
    text: Text = ("The same inputs, configuration and seed give the same numbers and figures. "
                  "manifest.json in the report folder holds these facts in machine-readable form.",)
    return Section("manifest", "Reproducibility manifest", (text,), tables=(inputs, settings_table, software))
