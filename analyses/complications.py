"""Insufficiency fracture and avascular necrosis: proportions, rates, the risk ratio of
pregnancy-associated episodes, and the share of events that occur in pregnancy-associated episodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from toh.analyses._exact import clopper_pearson, poisson_rate, risk_ratio
from toh.analyses.result import AnalysisResult, clean_number, level_free, name_limits, records
from toh.cohort.derive import DerivedCohort

__all__ = ["ComplicationsResult", "analyse_complications", "complication_counts", "complications_from_counts"]

OUTCOMES = {"fracture": "insufficiency or subcapital fracture", "avn": "avascular necrosis"}
GROUPS = ("all", "pregnancy-associated", "not pregnancy-associated")
_SLUG = {"all": "all", "pregnancy-associated": "pregnancy", "not pregnancy-associated": "not_pregnancy"}


@dataclass(frozen=True)
class ComplicationsResult(AnalysisResult):
    """Proportion of index episodes with each complication and rate of first events."""

    estimates: pd.DataFrame
    risk_ratios: pd.DataFrame
    in_pregnancy: pd.DataFrame
    conf: float
    name: str = "complications"
    not_estimable: Mapping[str, str] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"complications": self.estimates, "complications_risk_ratio": self.risk_ratios,
                "complications_in_pregnancy": self.in_pregnancy}

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        fields = ("events", "n", "estimate", "lower", "upper", "person_years", "rate_per_100py",
                  "rate_lower_per_100py", "rate_upper_per_100py")  # the columns, without the CI level
        for row in records(level_free(self.estimates)):
            base = f"complications.{row['outcome']}.{_SLUG[row['stratum']]}"
            out.update({f"{base}.{key}": clean_number(row[key]) for key in fields})
        for row in records(level_free(self.risk_ratios)):
            out.update({f"complications.{row['outcome']}.risk_ratio_pregnancy.{key}": clean_number(row[key])
                        for key in ("estimate", "lower", "upper")})
        for row in records(level_free(self.in_pregnancy)):
            out.update({f"complications.{row['outcome']}.share_in_pregnancy.{key}": clean_number(row[key])
                        for key in ("x", "n", "estimate", "lower", "upper")})
        return out


def analyse_complications(cohort: DerivedCohort) -> ComplicationsResult:
    """Fracture and AVN of the index episodes.

    A proportion of index episodes with a Clopper-Pearson interval; a rate of first events per
    100 person-years with an exact Poisson interval, person-time running from the index onset to
    the first such event or the end of the episode's follow-up; overall and by pregnancy
    association (men count as not pregnancy-associated; women of unknown status only in "all");
    the risk ratio pregnancy-associated vs not, with a Wald interval on the log scale; and, of
    the index episodes with the event and a known pregnancy status (men count as not
    pregnancy-associated), the share that is pregnancy-associated, with a Clopper-Pearson interval
    (the quantity of the published "fractures occur mostly in pregnancy").
    """
    d = cohort.definitions
    return complications_from_counts(complication_counts(cohort.index), d.days_per_year, d.confidence,
                                     "events" in cohort.absent)


def complication_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Per outcome and stratum (all, pregnancy-associated, not): index episodes with the event
    (``events``), index episodes
    (``n``) and days at risk (``days``); what a site's bundle holds."""
    associated = index["pregnancy_associated"].astype("boolean")
    masks = {"all": pd.Series(True, index=index.index), "pregnancy-associated": associated.fillna(False).astype(bool),
             "not pregnancy-associated": (~associated).fillna(False).astype(bool)}
    rows = []
    for outcome in OUTCOMES:
        for group in GROUPS:
            sub = index[masks[group]]
            rows.append((outcome, group, int(sub[f"{outcome}_event"].astype(bool).sum()), len(sub),
                         float(sub[f"{outcome}_days"].sum())))
    return pd.DataFrame(rows, columns=["outcome", "stratum", "events", "n", "days"])


def complications_from_counts(counts: pd.DataFrame, days_per_year: float, conf: float,
                              events_absent: bool = False) -> ComplicationsResult:
    """:func:`analyse_complications` from :func:`complication_counts` (one cohort's, or summed
    over sites); ``events_absent`` when the events table is missing."""
    rows, ratios, shares = [], [], []
    reasons: dict[str, str] = {}
    table = counts.set_index(["outcome", "stratum"])
    for outcome, description in OUTCOMES.items():
        if events_absent:
            reasons[f"complications.{outcome}"] = "the export has no events table"
        for group in GROUPS:
            events, n, days = (table.loc[(outcome, group), c] for c in ("events", "n", "days"))
            events, n = int(events), int(n)
            if n == 0 and not events_absent:
                reasons.setdefault(f"complications.{outcome}.{_SLUG[group]}", f"no {group} index episode")
            person_years = float(days / days_per_year)
            prop = clopper_pearson(events, n, conf)
            rate = poisson_rate(events, person_years, conf, per=100)
            rows.append((outcome, description, group, events, n, *prop, person_years, *rate))
        (x1, n1), (x0, n0) = ((int(table.loc[(outcome, g), "events"]), int(table.loc[(outcome, g), "n"]))
                              for g in GROUPS[1:])
        if (n1 == 0 or n0 == 0 or x0 == 0) and not events_absent:
            reasons.setdefault(f"complications.{outcome}.risk_ratio_pregnancy",
                               "no pregnancy-associated index episode" if n1 == 0 else
                               "no index episode that is not pregnancy-associated" if n0 == 0 else
                               "no event among episodes that are not pregnancy-associated (the reference)")
        ratios.append((outcome, x1, n1, x0, n0, *risk_ratio(x1, n1, x0, n0, conf)))
        if x1 + x0 == 0 and not events_absent:
            reasons.setdefault(f"complications.{outcome}.share_in_pregnancy",
                               f"no {description} in an index episode of known pregnancy status")
        shares.append((outcome, x1, x1 + x0, *clopper_pearson(x1, x1 + x0, conf)))
    estimates = pd.DataFrame(rows, columns=["outcome", "description", "stratum", "events", "n", "estimate", "lower",
                                            "upper", "person_years", "rate_per_100py", "rate_lower_per_100py",
                                            "rate_upper_per_100py"])
    risk = pd.DataFrame(ratios, columns=["outcome", "events_pregnancy", "n_pregnancy", "events_other", "n_other",
                                         "estimate", "lower", "upper"])
    in_pregnancy = pd.DataFrame(shares, columns=["outcome", "x", "n", "estimate", "lower", "upper"])
    estimates, risk, in_pregnancy = (name_limits(t, conf) for t in (estimates, risk, in_pregnancy))
    return ComplicationsResult(estimates, risk, in_pregnancy, conf, not_estimable=reasons)
