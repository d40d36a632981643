"""Report sections: the claims check, the methods (written from the options actually used) and
the reproducibility manifest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from toh.reports._document import ReportFigure, ReportTable, Section, Text, Writer

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import CohortAnalysis

__all__ = ["claims_section", "methods_section", "manifest_section", "hidden_claims"]

#: claim -> the (numerator, denominator) headline keys whose small counts its estimate would reveal
_CLAIM_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sex_ratio": (("demographics.sex_ratio.men", "demographics.sex_ratio.n"),),
    "men_40_55": (("demographics.men_aged_40_55.x", "demographics.men_aged_40_55.n"),),
    "women_pregnancy": (("demographics.women_pregnancy_associated.x", "demographics.women_pregnancy_associated.n"),),
    "third_trimester": (("demographics.pregnant_in_trimester_3.x", "demographics.pregnant_in_trimester_3.n"),),
    "one_hip": (("demographics.bilateral.x", "demographics.bilateral.n"),),
    "fracture_rare": (("complications.fracture.all.events", "complications.fracture.all.n"),),
    "no_avn": (("complications.avn.all.events", "complications.avn.all.n"),),
    "fracture_pregnancy": (("complications.fracture.pregnancy.events", "complications.fracture.pregnancy.n"),
                           ("complications.fracture.not_pregnancy.events", "complications.fracture.not_pregnancy.n")),
}
#: claims whose estimate is a ratio (shown as is) or months; the others are shares (shown in %)
_RATIO = {"sex_ratio", "fracture_pregnancy"}
_MONTHS = {"resolution_6_8_months"}


def hidden_claims(w: Writer) -> set[str]:
    """Claims whose estimate and interval would reveal a small count."""
    return {key for key, pairs in _CLAIM_COUNTS.items()
            if any(w.share_hidden(w.headline.get(x), w.headline.get(n), w.cells_of(x, n)) for x, n in pairs)}


def claims_section(analysis: CohortAnalysis, w: Writer) -> Section:
    """Each published claim beside the registry's estimate and its verdict."""
    claims = analysis.claims.claims
    hidden = hidden_claims(w)
    rows = []
    for c in claims.itertuples():
        scale, digits, unit = (1.0, 2, "") if c.key in _RATIO else (1.0, 1, " months") if c.key in _MONTHS \
            else (100.0, 1, "%")
        k = f"claims.{c.key}."
        cell = ((f"not estimable: {c.reason}",) if c.reason else
                w.ci(k + "estimate", k + "lower", k + "upper", digits, scale, unit, hide=c.key in hidden))
        rows.append(((c.claim,), (c.source,), (c.published,), (c.quantity,), cell, (c.rule,),
                     (w.headline.get(k + "verdict", c.verdict),)))
    verdicts = claims["verdict"].value_counts()
    text: Text = (
        f"{int(verdicts.get('consistent', 0))} of the {len(claims)} published statements about TOH checked here "
        f"are consistent with this registry; not consistent: {int(verdicts.get('not consistent', 0))}; "
        f"inconclusive (the interval straddles the published figure): {int(verdicts.get('inconclusive', 0))}"
        + (f"; not assessable from this export: {int(verdicts.get('not assessable', 0))}"
           if verdicts.get("not assessable", 0) else "") + ".",
    )
    table = ReportTable("claims", "Claims check: each published figure beside the registry's estimate",
                        ("claim", "source", "published", "registry quantity", f"estimate ({w.level} CI)", "rule",
                         "verdict"), tuple(rows),
                        note="A verdict is 'consistent' when the rule holds for the whole interval, 'not consistent' "
                             "when it fails for the whole interval, otherwise 'inconclusive'; 'not assessable' when the "
                             "export lacks the data the estimate needs (the reason is given)."
                             + (" Estimates resting on small counts are suppressed." if hidden else ""))
    figure = ReportFigure("claims_forest", "Each published claim (dashed line or shaded region) beside the "
                          "registry's estimate and confidence interval, coloured by verdict.",
                          "Forest plot of the claims check")
    return Section("claims", "Claims check", (text,), (figure,), (table,))


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
        f"log-rank tests. A Cox model (Efron ties) on {_list(o.resolution.cox_covariates)}, each treatment "
        f"against the most frequent one, with proportional hazards checked as R's cox.zph does (KM transform).",
        f"Recurrence and migration. Cumulative incidence (Aalen-Johansen) from index onset with death as a "
        f"competing risk, variance as cmprsk's cuminc, log(-log) {level} intervals, read at "
        f"{_list(o.recurrence.months, ' months')}; groups ({_list(o.recurrence.strata)}) compared by Gray's test "
        f"(weight 1, as cuminc's default rho = 0); first events per 100 person-years with exact Poisson intervals.",
        f"Complications. Fracture: {_list(d.fracture_event_types)}; AVN: {_list(d.avn_event_types)}. Share of "
        f"index episodes with an exact interval, and first events per 100 person-years (exact Poisson), "
        f"person-time from index onset to the first event or the end of follow-up; the risk ratio of "
        f"pregnancy-associated against other episodes has a Wald interval on the log scale.",
        (f"Small counts. Counts of people from 1 to {min_cell - 1} are shown as <{min_cell} in every table, "
         f"sentence and figure. Table 1, the numbers at risk and counts by stratum, the migration sites and "
         f"each 'x of n' share are then audited together as linear relations (a linear program per hidden "
         f"count, reading <{min_cell} as 1 to {min_cell - 1}), and further counts are hidden ('not shown') "
         f"until no hidden small count can be narrowed to fewer than half of the values <{min_cell} allows. "
         f"Shares, rates and medians resting on a hidden count or on fewer than {min_cell} people are not "
         f"shown, and treatments and migration sites of fewer than {min_cell} patients are counted as 'other'."
         if min_cell > 1 else "Small counts. No counts are suppressed in this report (minimum cell size 0)."),
    ]
    if cautions:
        paragraphs.append("Cautions raised by the estimators on these data: " + "; ".join(cautions) + ".")
    return Section("methods", "Methods", tuple((p,) for p in paragraphs))


def manifest_section(provenance: Mapping[str, Any], config: Mapping[str, Any]) -> Section:
    """SHA-256 of each input, the configuration, seed and software versions."""
    inputs = ReportTable("manifest_inputs", "Inputs (SHA-256 of the bytes read)", ("file", "SHA-256"),
                         tuple(((name,), (digest,)) for name, digest in sorted(provenance["inputs_sha256"].items())))
    settings = {**provenance.get("settings", {}), **{f"config.{k}": v for k, v in sorted(config.items())}}
    settings_table = ReportTable("manifest_settings", "Settings", ("setting", "value"),
                                 tuple(((k,), (", ".join(map(str, v)) if isinstance(v, list) else str(v),))
                                       for k, v in settings.items()))
    software = ReportTable("manifest_software", "Software", ("package", "version"),
                           tuple(((k,), (v,)) for k, v in sorted(provenance["software"].items())))
    text: Text = ("The same inputs, configuration and seed give the same numbers and figures. "
                  "manifest.json in the report folder holds these facts in machine-readable form.",)
    return Section("manifest", "Reproducibility manifest", (text,), tables=(inputs, settings_table, software))
