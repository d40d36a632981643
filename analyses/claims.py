"""The claims check: each published statement about TOH beside this registry's estimate.

The statements, their sources and the verdict rules are listed in ``docs/definitions.md``
("The claims check").  Each has a rule that turns the registry's estimate and interval into
a verdict: "consistent", "not consistent" or "inconclusive" (the interval straddles the
published figure's boundary).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toh.analyses.result import NOT_ESTIMABLE, AnalysisResult, clean_number, reason_for
from toh.analyses.complications import ComplicationsResult
from toh.analyses.demographics import DemographicsResult
from toh.analyses.migration import MigrationResult
from toh.analyses.radiographic import RadiographicResult
from toh.analyses.recurrence import RecurrenceResult
from toh.analyses.resolution import ResolutionResult

__all__ = ["ClaimsResult", "check_claims", "CLAIM_COLUMNS", "NOT_ASSESSABLE"]

CLAIM_COLUMNS = ["key", "claim", "source", "published", "quantity", "estimate", "lower", "upper", "rule", "verdict",
                 "reason"]
#: The verdict of a claim whose estimate cannot be made from this export (its reason beside it).
NOT_ASSESSABLE = "not assessable"

#: claim -> the results key (prefix) of the estimate it rests on.
NEEDS = {
    "sex_ratio": "demographics.sex_ratio", "men_40_55": "demographics.men_aged_40_55",
    "women_pregnancy": "demographics.women_pregnancy_associated",
    "third_trimester": "demographics.pregnant_in_trimester_3", "one_hip": "demographics.bilateral",
    "films_by_8_weeks": "radiographic", "resolution_6_8_months": "resolution", "recurrence_possible": "recurrence",
    "migration_15pct": "migration", "fracture_rare": "complications.fracture.all",
    "fracture_pregnancy": "complications.fracture.risk_ratio_pregnancy", "no_avn": "complications.avn.all",
}

RADIOPAEDIA = "Radiopaedia, Transient osteoporosis of the hip"


@dataclass(frozen=True)
class ClaimsResult(AnalysisResult):
    """One row per published claim."""

    claims: pd.DataFrame
    name: str = "claims"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"claims": self.claims}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for row in self.claims.itertuples():
            out[f"claims.{row.key}.verdict"] = row.verdict
            if row.reason:
                out[f"claims.{row.key}.{NOT_ESTIMABLE}"] = row.reason
            for key in ("estimate", "lower", "upper"):
                out[f"claims.{row.key}.{key}"] = clean_number(getattr(row, key))
        return out


def _contains(value: float, lower: float, upper: float) -> str:
    if np.isnan(lower) or np.isnan(upper):
        return "inconclusive"
    return "consistent" if lower <= value <= upper else "not consistent"


def _above(threshold: float, lower: float, upper: float) -> str:
    if np.isnan(lower) or np.isnan(upper):
        return "inconclusive"
    return "consistent" if lower > threshold else "not consistent" if upper < threshold else "inconclusive"


def _below(threshold: float, lower: float, upper: float) -> str:
    if np.isnan(lower) or np.isnan(upper):
        return "inconclusive"
    return "consistent" if upper < threshold else "not consistent" if lower > threshold else "inconclusive"


def _overlaps(low: float, high: float, lower: float, upper: float) -> str:
    if np.isnan(lower) and np.isnan(upper):
        return "inconclusive"
    lower = -np.inf if np.isnan(lower) else lower
    upper = np.inf if np.isnan(upper) else upper
    return "consistent" if lower <= high and upper >= low else "not consistent"


def check_claims(
    demographics: DemographicsResult,
    radiographic: RadiographicResult,
    resolution: ResolutionResult,
    recurrence: RecurrenceResult,
    migration: MigrationResult,
    complications: ComplicationsResult,
    days_per_year: float = 365.25,
) -> ClaimsResult:
    """Set each published claim beside the registry's estimate and give a verdict.

    A claim whose estimate cannot be made from this export (an absent table, an empty
    denominator) is "not assessable", with the reason; missing data is never evidence.

    Rules (the estimate's confidence interval against the published figure): a ratio or share
    that is published as a number is consistent when the interval contains it; "usually" and
    "typically" mean more than half (consistent when the interval lies above 0.5); "rare" means
    under 5%; "resolves within 6-8 months" is consistent when the median's interval meets
    [6, 8] months; "possible" is consistent when at least one event was seen; "does not occur"
    is consistent when none was.
    """
    month = days_per_year / 12
    props = demographics.proportions.set_index("quantity")
    ratio = demographics.sex_ratio.iloc[0]
    rows = []
    reasons: dict[str, str] = {}
    for result in (demographics, radiographic, resolution, recurrence, migration, complications):
        reasons.update(result.not_estimable)

    def add(key, claim, source, published, quantity, est, lo, hi, rule, verdict):
        reason = reason_for(NEEDS[key], reasons)
        if reason:
            est = lo = hi = np.nan
            verdict = NOT_ASSESSABLE
        rows.append((key, claim, source, published, quantity, float(est), float(lo), float(hi), rule, verdict,
                     reason))

    add("sex_ratio", "men are affected about three times as often as women (M:F 3:1)", RADIOPAEDIA, "3",
        "men per woman", ratio["ratio"], ratio["ratio_lower"], ratio["ratio_upper"],
        "3 inside the interval", _contains(3.0, ratio["ratio_lower"], ratio["ratio_upper"]))
    men = props.loc["men_aged_40_55"]
    add("men_40_55", "in men, typically at age 40-55", RADIOPAEDIA, "> 50% of men",
        "share of men aged 40-55", men["estimate"], men["lower"], men["upper"], "interval above 0.5",
        _above(0.5, men["lower"], men["upper"]))
    preg = props.loc["women_pregnancy_associated"]
    add("women_pregnancy", "in women, usually in pregnancy or just after delivery", "Radiopaedia; AAOS OrthoInfo",
        "> 50% of women", "share of women pregnant or postpartum", preg["estimate"], preg["lower"], preg["upper"],
        "interval above 0.5", _above(0.5, preg["lower"], preg["upper"]))
    tri = props.loc["pregnant_in_trimester_3"]
    add("third_trimester", "in pregnancy, usually the 3rd trimester", RADIOPAEDIA, "> 50% of pregnant women",
        "share in the 3rd trimester", tri["estimate"], tri["lower"], tri["upper"], "interval above 0.5",
        _above(0.5, tri["lower"], tri["upper"]))
    bil = props.loc["bilateral"]
    add("one_hip", "usually one hip at a time", RADIOPAEDIA, "< 50% bilateral", "share with bilateral presentation",
        bil["estimate"], bil["lower"], bil["upper"], "interval below 0.5", _below(0.5, bil["lower"], bil["upper"]))
    at = radiographic.at.set_index("weeks")
    if 8.0 in at.index:
        r8 = at.loc[8.0]
        add("films_by_8_weeks", "plain films normal at first, abnormal by 4-8 weeks after onset", RADIOPAEDIA,
            "> 50% changed by 8 weeks", "cumulative proportion changed by 8 weeks (Turnbull)",
            r8["npmle"], r8["lower"], r8["upper"], "interval above 0.5", _above(0.5, r8["lower"], r8["upper"]))
    med = resolution.medians[resolution.medians["stratum_var"] == "all"].iloc[0]
    add("resolution_6_8_months", "resolves spontaneously within 6-8 months", RADIOPAEDIA, "median 6-8 months",
        "median time to resolution (months)", med["median"] / month, med["median_lower"] / month,
        med["median_upper"] / month, "interval meets 6-8 months",
        _overlaps(6.0, 8.0, med["median_lower"] / month, med["median_upper"] / month))
    rec = recurrence.rates.iloc[0]
    cif = recurrence.incidence[recurrence.incidence["cause"] == "recurrence"].iloc[-1]
    add("recurrence_possible", "recurrence in the same hip is possible", RADIOPAEDIA, "> 0",
        f"cumulative incidence of same-hip recurrence by {cif['months']:g} months", cif["estimate"], cif["lower"],
        cif["upper"], "at least one recurrence", "consistent" if rec["events"] > 0 else "not consistent")
    mig = migration.incidence[migration.incidence["cause"] == "migration"].iloc[-1]
    add("migration_15pct", "the opposite hip or other joints may follow (5 of 34, 15%)", "migratory TOH series (LITERATURE.md)",
        "0.15", f"cumulative incidence of migration by {mig['months']:g} months", mig["estimate"], mig["lower"],
        mig["upper"], "0.15 inside the interval", _contains(0.15, mig["lower"], mig["upper"]))
    comp = complications.estimates.set_index(["outcome", "group"])
    frac = comp.loc[("fracture", "all")]
    add("fracture_rare", "insufficiency fracture is a rare complication", "Asadipooya et al. 2017", "< 5%",
        "share of index episodes with a fracture", frac["proportion"], frac["proportion_lower"],
        frac["proportion_upper"], "interval below 0.05", _below(0.05, frac["proportion_lower"], frac["proportion_upper"]))
    rr = complications.risk_ratios.set_index("outcome").loc["fracture"]
    add("fracture_pregnancy", "fractures occur mostly in pregnancy", "Asadipooya et al. 2017", "risk ratio > 1",
        "fracture risk ratio, pregnancy-associated vs not", rr["risk_ratio"], rr["lower"], rr["upper"],
        "interval above 1", _above(1.0, rr["lower"], rr["upper"]))
    avn = comp.loc[("avn", "all")]
    add("no_avn", "patients do not go on to avascular necrosis (disputed)", "natural-history series (0 of 43)", "0",
        "share of index episodes with AVN", avn["proportion"], avn["proportion_lower"], avn["proportion_upper"],
        "no AVN observed", "consistent" if avn["events"] == 0 else "not consistent")
    return ClaimsResult(pd.DataFrame(rows, columns=CLAIM_COLUMNS))
