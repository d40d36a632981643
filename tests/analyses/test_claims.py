"""The claims check: the verdict rule on hand-made intervals for every kind, the bundled claims
file, every claim's results key in the demo analysis, and malformed claims files."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from toh.analyses.claims import (CONSISTENT, INCONCLUSIVE, NOT_CONSISTENT, check_claims, published_text, rule_text,
                                 verdict)
from toh.analyses.claimsfile import CLAIMS_FORMAT_VERSION, RULE_KINDS, Rule, bundled_claims_path, load_claims
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from toh.cohort.derive import derive_cohort
from toh.cohort.errors import ConfigError
from toh.cohort.validate import load_valid_export

NAN = math.nan
DEMO = Path(__file__).parents[2] / "cohort" / "demo"


@pytest.fixture(scope="module")
def demo_analysis():
    report = load_valid_export(DEMO, validation_date=dt.date(2026, 1, 31))
    return analyse_cohort(derive_cohort(report.tables),
                          AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0)))


# --- the verdict rule, kind by kind -------------------------------------------------------

def test_point_is_consistent_when_the_interval_contains_the_value() -> None:
    rule = Rule("point", value=3.0)
    assert verdict(rule, 2.5, 4.0) == CONSISTENT
    assert verdict(rule, 3.0, 4.0) == CONSISTENT  # a closed interval
    assert verdict(rule, 3.1, 4.0) == NOT_CONSISTENT
    assert verdict(rule, 1.0, 2.9) == NOT_CONSISTENT
    assert verdict(rule, 2.0, NAN) == CONSISTENT  # an open upper limit reaches 3
    assert verdict(rule, NAN, NAN) == INCONCLUSIVE  # no interval, no judgement


def test_range_needs_the_whole_interval_inside() -> None:
    rule = Rule("range", low=6.0, high=8.0)
    # the case: median 6.1 months (5.8-6.4) against "within 6-8 months".  Part of the
    # interval (5.8-6.0) lies below the range and part inside it: the data neither confirm nor
    # contradict the claim, so the whole-interval rule says inconclusive, not consistent.
    assert verdict(rule, 5.8, 6.4) == INCONCLUSIVE
    assert verdict(rule, 6.0, 8.0) == CONSISTENT and verdict(rule, 6.2, 7.5) == CONSISTENT
    assert verdict(rule, 4.0, 5.9) == NOT_CONSISTENT and verdict(rule, 8.1, 9.0) == NOT_CONSISTENT
    assert verdict(rule, 5.0, 9.0) == INCONCLUSIVE  # wider than the range
    assert verdict(rule, 4.0, 6.0) == INCONCLUSIVE  # touches the range
    assert verdict(rule, 7.0, NAN) == INCONCLUSIVE  # open upper limit: not wholly inside
    assert verdict(rule, 9.0, NAN) == NOT_CONSISTENT  # open, but wholly above


@pytest.mark.parametrize("lower, upper, above, below", [
    (0.6, 0.9, CONSISTENT, NOT_CONSISTENT),
    (0.4, 0.9, INCONCLUSIVE, INCONCLUSIVE),
    (0.1, 0.4, NOT_CONSISTENT, CONSISTENT),
    (0.3, 0.5, NOT_CONSISTENT, INCONCLUSIVE),  # the interval reaches the threshold: not wholly below
    (0.5, 0.7, INCONCLUSIVE, NOT_CONSISTENT),  # nor wholly above
    (0.6, NAN, CONSISTENT, NOT_CONSISTENT),
    (NAN, 0.4, NOT_CONSISTENT, CONSISTENT),
])
def test_threshold_above_and_below(lower: float, upper: float, above: str, below: str) -> None:
    assert verdict(Rule("threshold", value=0.5, direction="above"), lower, upper) == above
    assert verdict(Rule("threshold", value=0.5, direction="below"), lower, upper) == below


def test_equivalence_is_a_range_around_the_value() -> None:
    rule = Rule("equivalence", value=0.15, margin=0.05)
    assert verdict(rule, 0.11, 0.19) == CONSISTENT
    assert verdict(rule, 0.08, 0.19) == INCONCLUSIVE
    assert verdict(rule, 0.21, 0.30) == NOT_CONSISTENT


def test_event_kinds_judge_the_count() -> None:
    possible, never = Rule("at_least_one_event", events="x.events"), Rule("no_events", events="x.events")
    assert verdict(possible, NAN, NAN, 3) == CONSISTENT
    assert verdict(possible, NAN, NAN, 0) == INCONCLUSIVE  # none seen does not show it cannot happen
    assert verdict(never, NAN, NAN, 0) == CONSISTENT
    assert verdict(never, NAN, NAN, 1) == NOT_CONSISTENT
    assert verdict(never, NAN, NAN, NAN) == INCONCLUSIVE


def test_every_kind_is_tested_and_described() -> None:
    assert set(RULE_KINDS) == {"point", "range", "threshold", "equivalence", "at_least_one_event", "no_events"}
    claims = load_claims()
    assert {c.rule.kind for c in claims.claims} >= {"point", "range", "threshold", "at_least_one_event",
                                                     "no_events"}
    months = claims.by_id("resolution_6_8_months")
    assert published_text(months) == "6-8 months" and rule_text(months) == "whole CI within 6-8 months"
    assert published_text(claims.by_id("fracture_rare")) == "< 5%"


# --- the bundled file -----------------------------------------------------------------------

def test_the_bundled_file_validates_and_cites_every_source_in_full() -> None:
    claims = load_claims()
    assert bundled_claims_path().is_file() and CLAIMS_FORMAT_VERSION == 1
    assert len(claims.claims) == 12 and len({c.id for c in claims.claims}) == 12
    for claim in claims.claims:
        source = claim.source
        assert source.title and source.container and source.year
        assert "LITERATURE" not in source.full_text() and ".md" not in source.full_text()
    asadipooya = claims.by_id("fracture_rare").source
    assert asadipooya.doi == "10.1007/s00198-017-3952-0" and asadipooya.authors[0] == "Asadipooya K"
    assert claims.by_id("resolution_6_8_months").scale == pytest.approx(12 / 365.25)
    assert claims.files[0][0] == str(bundled_claims_path()) and len(claims.files[0][1]) == 64


def test_every_claim_rests_on_a_results_key_of_the_demo_analysis(demo_analysis) -> None:
    head = demo_analysis.headline()
    for claim in load_claims().claims:
        for field, key in claim.keys().items():
            assert key in head, (claim.id, field, key)
    assert set(demo_analysis.claims.claims["reason"]) == {""}  # the demo can assess every claim


def test_fractures_in_pregnancy_are_judged_on_the_share_of_fractures(demo_analysis) -> None:
    head = demo_analysis.headline()
    k = "complications.fracture."
    x, n = head[k + "share_in_pregnancy.x"], head[k + "share_in_pregnancy.n"]
    assert x == head[k + "pregnancy.events"] and n == head[k + "pregnancy.events"] + head[k + "not_pregnancy.events"]
    assert head["claims.fracture_pregnancy.estimate"] == pytest.approx(x / n)
    row = demo_analysis.claims.claims.set_index("key").loc["fracture_pregnancy"]
    assert row["verdict"] == verdict(Rule("threshold", value=0.5, direction="above"), row["lower_95"], row["upper_95"])


def test_the_demo_median_is_judged_by_the_whole_interval(demo_analysis) -> None:
    row = demo_analysis.claims.claims.set_index("key").loc["resolution_6_8_months"]
    head = demo_analysis.headline()
    assert row["estimate"] == pytest.approx(head["resolution.median.estimate_days"] * 12 / 365.25)
    assert row["lower_95"] < 6 < row["upper_95"] < 8 and row["verdict"] == INCONCLUSIVE


# --- a file of one's own --------------------------------------------------------------------

OWN = """version = 1
[sources.own]
authors = ["Doe J"]
title = "A registry of our own"
container = "J Hip"
year = 2030
[[claims]]
id = "resolution_6_8_months"
text = "resolves within 5-7 months"
source = "own"
quantity = "median time to resolution"
estimate = "resolution.median.estimate_days"
lower = "resolution.median.lower_days"
upper = "resolution.median.upper_days"
unit = "months"
scale = "12/365.25"
rule = { kind = "range", low = 5, high = 7 }
[[claims]]
id = "migration_equivalent"
text = "about 15% migrate"
source = "own"
quantity = "cumulative incidence of migration by 24 months"
estimate = "migration.cif_24m.estimate"
lower = "migration.cif_24m.lower"
upper = "migration.cif_24m.upper"
unit = "share"
rule = { kind = "equivalence", value = 0.15, margin = 0.1 }
"""


def test_a_file_of_ones_own_replaces_and_adds(tmp_path: Path, demo_analysis) -> None:
    path = tmp_path / "own.toml"
    path.write_text(OWN)
    claims = load_claims(path)
    assert [c.id for c in claims.claims][-1] == "migration_equivalent" and len(claims.claims) == 13
    assert claims.by_id("resolution_6_8_months").rule.low == 5  # replaced in place
    assert [c.id for c in claims.claims].index("resolution_6_8_months") == 6
    assert claims.files[1][0] == str(path)
    result = check_claims(demo_analysis.results()[:-1], claims).claims.set_index("key")
    assert result.loc["resolution_6_8_months", "verdict"] == CONSISTENT  # 5.8-6.4 lies inside 5-7
    assert result.loc["resolution_6_8_months", "source"] == "Doe 2030"
    assert result.loc["migration_equivalent", "verdict"] == CONSISTENT


@pytest.mark.parametrize("change, claim, field", [
    (("{ kind = \"range\", low = 5, high = 7 }", "{ kind = \"between\", low = 5, high = 7 }"),
     "resolution_6_8_months", "rule.kind"),
    (("{ kind = \"range\", low = 5, high = 7 }", "{ kind = \"range\", low = 7, high = 5 }"),
     "resolution_6_8_months", "rule.low"),
    (("{ kind = \"range\", low = 5, high = 7 }", "{ kind = \"range\", low = 5 }"), "resolution_6_8_months",
     "rule.high"),
    (('quantity = "median time to resolution"\n', ""), "resolution_6_8_months", "quantity"),
    (('estimate = "migration.cif_24m.estimate"', 'estimate = "migration"'), "migration_equivalent", "estimate"),
    (("margin = 0.1", "margin = -0.1"), "migration_equivalent", "rule.margin"),
    (('source = "own"\nquantity = "cumulative', 'source = "nowhere"\nquantity = "cumulative'),
     "migration_equivalent", "source"),
    (('unit = "share"', 'unit = "share"\ncolour = "red"'), "migration_equivalent", "colour"),
])
def test_a_malformed_file_names_the_file_claim_and_field(tmp_path: Path, change: tuple[str, str], claim: str,
                                                         field: str) -> None:
    path = tmp_path / "bad.toml"
    assert change[0] in OWN
    path.write_text(OWN.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_claims(path)
    message = str(caught.value)
    assert str(path) in message and f"claim {claim!r}" in message and f"'{field}'" in message, message


def test_a_results_key_the_run_does_not_have_is_a_config_error(tmp_path: Path, demo_analysis) -> None:
    path = tmp_path / "typo.toml"
    path.write_text(OWN.replace("migration.cif_24m.upper", "migration.cif_42m.upper"))
    claims = load_claims(path)  # well-formed: the key is checked against the run
    with pytest.raises(ConfigError, match=r"typo\.toml: claim 'migration_equivalent': field 'upper'.*"
                                          r"migration\.cif_42m\.upper"):
        check_claims(demo_analysis.results()[:-1], claims)


def test_a_wrong_version_or_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "v2.toml"
    path.write_text(OWN.replace("version = 1", "version = 2"))
    with pytest.raises(ConfigError, match="version"):
        load_claims(path)
    with pytest.raises(ConfigError, match="not found"):
        load_claims(tmp_path / "none.toml")


def test_a_bundled_claim_the_options_leave_out_is_not_assessable() -> None:
    report = load_valid_export(DEMO, validation_date=dt.date(2026, 1, 31))
    options = AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0, weeks=(4.0, 12.0)))
    analysis = analyse_cohort(derive_cohort(report.tables), options)
    row = analysis.claims.claims.set_index("key").loc["films_by_8_weeks"]
    assert row["verdict"] == "not assessable" and "radiographic.changed_8w.estimate" in row["reason"]
    assert analysis.headline()["claims.films_by_8_weeks.estimate"] is None
