"""``toh analyze``: every table written, results.json equal to the Python API, documented keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from toh.analyses.run import CohortAnalysis
from toh.reports.cli import cli

DEMO = Path(__file__).parents[3] / "cohort" / "demo"
README = Path(__file__).parents[3] / "README.md"


def _run(out: Path) -> dict:
    result = CliRunner().invoke(cli, ["analyze", str(DEMO), "--out", str(out), "--bootstrap", "50", "--seed", "3",
                                      "--validation-date", "2026-01-31"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """``toh analyze`` of the demo run twice into two folders, once per module (the tests read
    the folders and results.json)."""
    root = tmp_path_factory.mktemp("analyze")
    return root, _run(root / "a"), _run(root / "b")


def test_results_json_equals_the_api_and_is_reproducible(runs: tuple[Path, dict, dict],
                                                         demo_analysis_50: CohortAnalysis) -> None:
    root, first, second = runs
    assert first == second
    analysis = demo_analysis_50  # the same options through the Python API
    assert first["results"] == json.loads(json.dumps(analysis.headline()))
    assert first["provenance"]["settings"] == {"bootstrap_draws": 50, "seed": 3,
                                               "validation_date": "2026-01-31"}
    tables = sorted(p.stem for p in (root / "a" / "tables").iterdir())
    assert tables == sorted(analysis.tables())
    medians = pd.read_csv(root / "a" / "tables" / "resolution_medians.csv")
    assert medians.loc[medians["variable"] == "all", "estimate_days"].item() == first["results"]["resolution.median.estimate_days"]


def test_every_results_key_pattern_is_documented(runs: tuple[Path, dict, dict]) -> None:
    keys = runs[1]["results"]
    documented = re.findall(r"^\| `([^`]+)` \|", README.read_text(), flags=re.MULTILINE)
    regexes = [re.compile("^" + re.sub(r"<[^>]+>", "[^.]+", re.escape(d).replace(r"\<", "<").replace(r"\>", ">")) + "$")
               for d in documented]
    undocumented = [k for k in keys if not any(r.match(k) for r in regexes)]
    assert not undocumented, undocumented[:10]
    assert len(documented) > 20  # the README has the table
