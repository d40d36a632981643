"""The claims check in words: the estimate cell, the small-cell rule and the sentence of a claim.

Every piece reads the claim record (:class:`toh.analyses.claimsfile.Claim`) and the verdict
made by :func:`toh.analyses.claims.check_claims`, so the claims table, the sentences of the
analysis sections and the forest plot cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toh.reports.document._writer import Text, Writer

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.claims import ClaimsResult
    from toh.analyses.claimsfile import Claim

__all__ = ["HIDDEN_VERDICT", "hidden_claims", "claim_display", "claim_cell", "claim_sentence"]


#: The verdict shown for a claim whose estimate is hidden (the verdict would tell where its interval lies).
HIDDEN_VERDICT = "not shown"


def hidden_claims(w: Writer, result: ClaimsResult) -> set[str]:
    """Claims whose estimate and interval would reveal a small count (the claim's ``counts``)."""
    return {c.id for c in result.records
            if any(w.share_hidden(w.headline.get(x), w.headline.get(n), w.cells_of(x, n)) for x, n in c.counts)}


def claim_display(claim: Claim) -> tuple[float, int, str]:
    """(scale, digits, unit text) of a claim's estimate in tables and sentences: shares in %
    with one decimal, a ratio as is, otherwise the claim's digits and unit."""
    if claim.unit == "share":
        return 100.0, 1, "%"
    return 1.0, claim.digits, "" if claim.unit == "ratio" else f" {claim.unit}"


def claim_cell(w: Writer, claim: Claim, reason: str, hide: bool) -> Text:
    """"estimate (95% CI lower to upper)" of a claim from its results.json keys, or why not."""
    if reason:
        return (f"not assessable: {reason}",)
    scale, digits, unit = claim_display(claim)
    k = f"claims.{claim.id}."
    return w.ci(k + "estimate", k + "lower", k + "upper", digits, scale, unit, hide=hide)


def claim_sentence(w: Writer, result: ClaimsResult, claim_id: str) -> Text:
    """Two short sentences: the published claim with its source, then the rule and the verdict,
    e.g. "Published (Radiopaedia): resolves spontaneously within 6-8 months. Against the
    registry's median time to resolution (whole CI within 6-8 months): inconclusive."  Empty
    when there is no such claim."""
    rows = result.claims.set_index("key")
    if claim_id not in rows.index:
        return ()
    row = rows.loc[claim_id]
    claim = result.record(claim_id)
    found = w.headline.get(f"claims.{claim_id}.verdict", row["verdict"])
    why = f" ({row['reason']})" if row["reason"] else ""
    if claim_id in hidden_claims(w, result):
        found, why = HIDDEN_VERDICT, f" (the estimate rests on a count below {w.min_cell})"
    return (f" Published ({row['source']}): {claim.text}. Against the registry's {claim.quantity} "
            f"({row['rule']}): {found}{why}.",)
