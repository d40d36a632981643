"""A claim changed in a claims file of one's own changes the claims table, the sentence and the
forest plot alike; --claims on the commands; a malformed file exits 2 naming claim and field;
the file's hash reaches the provenance and the --if-changed fingerprint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from report_builders import REPORT_DAY, demo_export, report_config
from toh.analyses.baseline import analyse_baseline
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import validate_export
from toh.reports.document._writer import plain_text
from toh.reports.cli.build import input_fingerprint
from toh.reports.cli import cli
from toh.reports.document import build_document
from toh.reports.figures import write_figures
from toh.reports.manifest import provenance

OWN = """version = 1
[sources.own]
authors = ["Doe J", "Roe R"]
title = "Resolution of TOH in a registry of our own"
container = "J Hip Res"
year = 2031
doi = "10.0000/own.2031"
[[claims]]
id = "resolution_6_8_months"
text = "resolves spontaneously within 5-7 months"
source = "own"
quantity = "median time to resolution"
estimate = "resolution.median.estimate_days"
lower = "resolution.median.lower_days"
upper = "resolution.median.upper_days"
unit = "months"
scale = "12/365.25"
digits = 1
rule = { kind = "range", low = 5, high = 7 }
"""
REGION = "claim-resolution-6-8-months-published-region"


def _outputs(tmp: Path, claims: Path | None) -> tuple[tuple[str, ...], str, str]:
    """(the claims table's row, the resolution section's sentence, the forest plot's SVG)."""
    report = validate_export(demo_export(), validation_date=REPORT_DAY)
    derived = derive_cohort(report.tables)
    analysis = analyse_cohort(derived, AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0),
                                                       claims=claims))
    doc = build_document("t", report, derived, analysis, analyse_baseline(derived),
                         provenance(demo_export(), report.files, None, {}, claims), {}, 5)
    table = next(t for s in doc.sections for t in s.tables if t.name == "claims")
    keys = list(analysis.claims.claims["key"])
    row = tuple(plain_text(c) for c in table.rows[keys.index("resolution_6_8_months")])
    sentence = plain_text(next(s for s in doc.sections if s.id == "resolution").paragraphs[0])
    write_figures(analysis, tmp, ("svg",), min_cell=5)
    return row, sentence, (tmp / "claims_forest.svg").read_text()


def _region(svg: str) -> str:
    """The drawn published band of the resolution claim (its SVG group)."""
    match = re.search(rf'<g id="{REGION}">.*?</g>', svg, flags=re.DOTALL)
    assert match, REGION
    return match.group(0)


@pytest.mark.slow  # a report built twice
def test_changing_a_published_range_changes_table_sentence_and_figure(tmp_path: Path) -> None:
    own = tmp_path / "own.toml"
    own.write_text(OWN)
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    row, sentence, svg = _outputs(tmp_path / "a", None)
    row2, sentence2, svg2 = _outputs(tmp_path / "b", own)
    # the table row: claim, source, published figure, rule and verdict follow the file
    assert row[0] == "resolves spontaneously within 6-8 months" and row2[0] == "resolves spontaneously within 5-7 months"
    assert row[1] == "Radiopaedia" and row2[1] == "Doe et al. 2031"
    assert (row[2], row2[2]) == ("6-8 months", "5-7 months")
    assert (row[5], row2[5]) == ("whole CI within 6-8 months", "whole CI within 5-7 months")
    assert (row[6], row2[6]) == ("inconclusive", "consistent")  # 5.8-6.4 months: inside 5-7, astride 6
    assert row[4] == row2[4]  # the estimate itself does not change
    # the sentence of the resolution section
    assert "Published (Radiopaedia): resolves spontaneously within 6-8 months" in sentence
    assert sentence.endswith("Against the registry's median time to resolution (whole CI within 6-8 months): "
                             "inconclusive.")
    assert "Published (Doe et al. 2031): resolves spontaneously within 5-7 months" in sentence2
    assert sentence2.endswith("(whole CI within 5-7 months): consistent.")
    # the forest plot: the text and the drawn band
    assert "<!-- median time to resolution (published: 6-8\u00a0months) -->" in svg
    assert "<!-- median time to resolution (published: 5-7\u00a0months) -->" in svg2
    assert _region(svg) != _region(svg2)
    assert "<!-- inconclusive -->" in svg and svg2.count("<!-- consistent -->") == svg.count("<!-- consistent -->") + 1


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.mark.parametrize("command", ["analyze", "figures", "report"])
def test_a_malformed_claims_file_exits_2_naming_claim_and_field(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(OWN.replace("low = 5, high = 7", "low = 7, high = 5"))
    result = _invoke([command, str(demo_export()), "--out", str(tmp_path / "out"), "--claims", str(bad)])
    assert result.exit_code == 2, result.output
    assert f"{bad}: claim 'resolution_6_8_months': field 'rule.low' must be below 'rule.high'" in result.output
    assert "rows" not in result.output  # stopped before reading the export
    assert not (tmp_path / "out").exists()


def test_analyze_takes_claims_and_records_their_hash(tmp_path: Path) -> None:
    own = tmp_path / "own.toml"
    own.write_text(OWN)
    result = _invoke(["analyze", str(demo_export()), "--out", str(tmp_path / "out"), "--bootstrap", "0",
                      "--claims", str(own), "--validation-date", REPORT_DAY.isoformat()])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    import hashlib

    assert document["provenance"]["inputs_sha256"]["claims:own.toml"] == hashlib.sha256(own.read_bytes()).hexdigest()
    assert document["results"]["claims.resolution_6_8_months.verdict"] == "consistent"
    assert "resolution_6_8_months consistent" in result.output


def test_the_claims_file_enters_the_fingerprint_and_the_configuration(tmp_path: Path) -> None:
    from toh.reports.config import load_report_config

    own = tmp_path / "own.toml"
    own.write_text(OWN)
    config = tmp_path / "report.toml"
    config.write_text('[analysis]\nclaims = "own.toml"\n')
    loaded = load_report_config(config)
    assert loaded.claims == tmp_path / "own.toml"
    base = report_config(demo_export(), tmp_path / "r")
    with_claims = report_config(demo_export(), tmp_path / "r", claims=own)
    first = input_fingerprint(with_claims, "x")
    assert first != input_fingerprint(base, "x")
    own.write_text(OWN.replace("low = 5", "low = 4"))
    assert input_fingerprint(with_claims, "x") != first  # an edited claims file forces a rebuild
