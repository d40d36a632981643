"""The claims check: each published statement about TOH beside this registry's estimate.

The statements, their sources, the registry quantity each rests on and the rule that judges it
are data: the claims file (:mod:`toh.analyses.claimsfile`, ``claims.toml``).  One function,
:func:`verdict`, turns a rule and the estimate's confidence interval into a verdict; the
report's table, its sentences and the forest plot all read the verdicts and rules made here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toh.analyses.claimsfile import Claim, ClaimSet, Rule, bundled_claims_path, load_claims
from toh.analyses.result import (NOT_ESTIMABLE, AnalysisResult, blank_not_estimable, clean_number, level_free,
                                 name_limits, reason_for)
from toh.analyses.result import records as table_rows
from toh.cohort.errors import ConfigError

__all__ = ["ClaimsResult", "check_claims", "verdict", "published_text", "rule_text", "format_value",
           "CLAIM_COLUMNS", "CONSISTENT", "NOT_CONSISTENT", "INCONCLUSIVE", "NOT_ASSESSABLE", "VERDICTS",
           "VERDICT_RULE"]

CONSISTENT, NOT_CONSISTENT, INCONCLUSIVE = "consistent", "not consistent", "inconclusive"
#: The verdict of a claim whose estimate cannot be made from this export (its reason beside it).
NOT_ASSESSABLE = "not assessable"
VERDICTS = (CONSISTENT, NOT_CONSISTENT, INCONCLUSIVE, NOT_ASSESSABLE)
CLAIM_COLUMNS = ["key", "claim", "source", "citation", "published", "quantity", "unit", "estimate", "lower",
                 "upper", "rule", "verdict", "reason"]

#: The verdict rule in words (the report's methods state it; :func:`verdict` implements it).
VERDICT_RULE = (
    "Each published claim is set beside the registry's estimate and its confidence interval: it is "
    "consistent when the whole interval satisfies the claim, not consistent when the whole interval "
    "contradicts it, inconclusive otherwise, and not assessable (with the reason) when the export lacks the "
    "data the estimate needs. A published value is satisfied by an interval that contains it and contradicted "
    "by one that does not; a published range (or a value with an equivalence margin) is satisfied by an "
    "interval wholly inside it and contradicted by one wholly outside; a threshold ('usually': more than "
    "half; 'rare': under 5%) is satisfied by an interval wholly on the claimed side and contradicted by one "
    "wholly on the other side or on the threshold. A missing confidence limit counts as unbounded. Claims "
    "about occurrence are judged on the event count: 'possible' is consistent when at least one event was "
    "seen and inconclusive when none was (a finite cohort cannot show that it never happens); 'does not "
    "occur' is consistent when no event was seen and not consistent when one was. The claims, their sources "
    "and rules are read from the claims file."
)


@dataclass(frozen=True)
class ClaimsResult(AnalysisResult):
    """One row per published claim (``claims``), the claim records it checked (``records``, in
    the same order) and the claims files read with their SHA-256 (``files``)."""

    claims: pd.DataFrame
    records: tuple[Claim, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    conf: float = 0.95
    name: str = "claims"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"claims": self.claims}

    def record(self, claim_id: str) -> Claim:
        """The claim record with this id."""
        return next(c for c in self.records if c.id == claim_id)

    def headline(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {}
        for row in table_rows(level_free(self.claims)):  # keys are the column names without the CI level
            out[f"claims.{row['key']}.verdict"] = row["verdict"]
            if row["reason"]:
                out[f"claims.{row['key']}.{NOT_ESTIMABLE}"] = row["reason"]
            for key in ("estimate", "lower", "upper"):
                out[f"claims.{row['key']}.{key}"] = clean_number(row[key])
        return out


def _bounds(rule: Rule) -> tuple[float, float]:
    if rule.kind == "equivalence":
        return rule.value - rule.margin, rule.value + rule.margin
    return rule.low, rule.high


def verdict(rule: Rule, lower: float, upper: float, events: float | None = None) -> str:
    """The verdict of one claim: consistent, not consistent or inconclusive (see :data:`VERDICT_RULE`).

    Parameters
    ----------
    rule
        The claim's rule, on the claim's scale.
    lower, upper
        The registry's confidence interval on the same scale; NaN is an open end (both NaN: no
        interval, inconclusive).
    events
        The event count, for the event kinds (NaN or None: inconclusive).
    """
    if rule.kind in ("at_least_one_event", "no_events"):
        if events is None or math.isnan(events):
            return INCONCLUSIVE
        if rule.kind == "at_least_one_event":
            return CONSISTENT if events >= 1 else INCONCLUSIVE
        return CONSISTENT if events == 0 else NOT_CONSISTENT
    if math.isnan(lower) and math.isnan(upper):
        return INCONCLUSIVE
    lo = -math.inf if math.isnan(lower) else lower
    hi = math.inf if math.isnan(upper) else upper
    if rule.kind == "point":
        return CONSISTENT if lo <= rule.value <= hi else NOT_CONSISTENT
    if rule.kind == "threshold":
        if rule.direction == "above":
            return CONSISTENT if lo > rule.value else NOT_CONSISTENT if hi <= rule.value else INCONCLUSIVE
        return CONSISTENT if hi < rule.value else NOT_CONSISTENT if lo >= rule.value else INCONCLUSIVE
    if rule.kind in ("range", "equivalence"):
        low, high = _bounds(rule)
        if low <= lo and hi <= high:
            return CONSISTENT
        return NOT_CONSISTENT if hi < low or lo > high else INCONCLUSIVE
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def format_value(value: float, unit: str) -> str:
    """A number on a claim's scale as the claim's text shows it: shares in %, others with the unit."""
    if unit == "share":
        return f"{100 * value:g}%"
    return f"{value:g}" + ("" if unit == "ratio" else f" {unit}")


def published_text(claim: Claim) -> str:
    """The published figure in a few characters: "3", "6-8 months", "> 50%", "no event"."""
    rule, unit = claim.rule, claim.unit
    if rule.kind == "point":
        return format_value(rule.value, unit)
    if rule.kind in ("range", "equivalence"):
        low, high = _bounds(rule)
        if unit == "share":
            return f"{100 * low:g}-{100 * high:g}%"
        return f"{low:g}-{high:g}" + ("" if unit == "ratio" else f" {unit}")
    if rule.kind == "threshold":
        return ("> " if rule.direction == "above" else "< ") + format_value(rule.value, unit)
    return "at least one event" if rule.kind == "at_least_one_event" else "no event"


def rule_text(claim: Claim) -> str:
    """The rule in words, as the claims table shows it."""
    rule = claim.rule
    if rule.kind == "point":
        return f"CI contains {published_text(claim)}"
    if rule.kind in ("range", "equivalence"):
        return f"whole CI within {published_text(claim)}"
    if rule.kind == "threshold":
        return f"whole CI {rule.direction} {format_value(rule.value, claim.unit)}"
    if rule.kind == "at_least_one_event":
        return "at least one event seen (none: inconclusive)"
    return "no event seen"


def _value(headline: Mapping[str, Any], key: str) -> float:
    value = headline.get(key)
    return math.nan if value is None or isinstance(value, str) else float(value)


#: Why a bundled claim cannot be assessed when this run's results lack one of its keys.
NOT_IN_RUN = "this run does not estimate {key} (the analysis options leave it out)"


def _missing(claim: Claim, headline: Mapping[str, Any], bundled: str, absent: str = NOT_IN_RUN) -> str:
    """'' when every results key of the claim is in this run's results; a reason otherwise (for a
    bundled claim: ``absent`` with the key); a ConfigError for a user's file."""
    for field, key in claim.keys().items():
        if key not in headline:
            if claim.file == bundled:
                return absent.format(key=key)
            raise ConfigError(f"{claim.file}: claim {claim.id!r}: field {field!r}: the results key {key!r} is "
                              f"not among this run's results (see results.json and the README's list of keys)")
    return ""


def check_claims(results: Sequence[AnalysisResult], claims: ClaimSet | None = None,
                 absent: str = NOT_IN_RUN, conf: float = 0.95) -> ClaimsResult:
    """Set each published claim beside the registry's estimate and give a :func:`verdict`.

    Parameters
    ----------
    results
        The analysis results whose headline keys the claims name (estimates that cannot be made
        are blank, with their reasons).
    claims
        The claims to check (:func:`toh.analyses.claimsfile.load_claims`; default the bundled file).
    absent
        Why a bundled claim is not assessable when the results lack one of its keys (``{key}``
        is replaced by the key): the analysis options of one run, or what a pool cannot estimate.

    Returns
    -------
    ClaimsResult
        A claim whose estimate cannot be made from this export is "not assessable", with the
        reason; missing data is never evidence.

    Raises
    ------
    ConfigError
        A claim from a user's file names a results key this run does not have.
    """
    claims = claims if claims is not None else load_claims()
    headline: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for result in results:
        headline.update(blank_not_estimable(result.headline(), result.not_estimable))
        reasons.update(result.not_estimable)
    bundled = str(bundled_claims_path())
    rows = []
    for claim in claims.claims:
        needs = (claim.estimate, claim.rule.events) if claim.rule.events else (claim.estimate,)
        reason = _missing(claim, headline, bundled, absent) or next(
            (r for r in (reason_for(key, reasons) for key in needs) if r), "")
        est, lo, hi = (math.nan,) * 3 if reason else (
            _value(headline, k) * claim.scale for k in (claim.estimate, claim.lower, claim.upper))
        found = NOT_ASSESSABLE if reason else verdict(
            claim.rule, lo, hi, _value(headline, claim.rule.events) if claim.rule.events else None)
        rows.append((claim.id, claim.text, claim.source.short_text(), claim.source.full_text(), published_text(claim),
                     claim.quantity, claim.unit, est, lo, hi, rule_text(claim), found, reason))
    return ClaimsResult(name_limits(pd.DataFrame(rows, columns=CLAIM_COLUMNS), conf), claims.claims, claims.files,
                        conf=conf)
