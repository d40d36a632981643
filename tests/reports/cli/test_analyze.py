"""``toh analyze``: every table written, results.json equal to the Python API, documented keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, analyse_cohort
import datetime as dt
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export
from toh.reports.cli import cli

DEMO = Path(__file__).parents[3] / "cohort" / "demo"
README = Path(__file__).parents[3] / "README.md"


def _run(out: Path) -> dict:
    result = CliRunner().invoke(cli, ["analyze", str(DEMO), "--out", str(out), "--bootstrap", "50", "--seed", "3",
                                      "--validation-date", "2026-01-31"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "results.json").read_text())


def test_results_json_equals_the_api_and_is_reproducible(tmp_path: Path) -> None:
    first = _run(tmp_path / "a")
    second = _run(tmp_path / "b")
    assert first == second
    report = load_valid_export(DEMO, validation_date=dt.date(2026, 1, 31))
    analysis = analyse_cohort(derive_cohort(report.tables),
                              AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=50, seed=3)))
    assert first["results"] == json.loads(json.dumps(analysis.headline()))
    assert first["provenance"]["settings"] == {"bootstrap_draws": 50, "seed": 3,
                                               "validation_date": "2026-01-31"}
    tables = sorted(p.stem for p in (tmp_path / "a" / "tables").iterdir())
    assert tables == sorted(analysis.tables())
    medians = pd.read_csv(tmp_path / "a" / "tables" / "resolution_medians.csv")
    assert medians.loc[medians["variable"] == "all", "estimate_days"].item() == first["results"]["resolution.median.estimate_days"]


def test_every_results_key_pattern_is_documented(tmp_path: Path) -> None:
    keys = _run(tmp_path / "a")["results"]
    documented = re.findall(r"^\| `([^`]+)` \|", README.read_text(), flags=re.MULTILINE)
    regexes = [re.compile("^" + re.sub(r"<[^>]+>", "[^.]+", re.escape(d).replace(r"\<", "<").replace(r"\>", ">")) + "$")
               for d in documented]
    undocumented = [k for k in keys if not any(r.match(k) for r in regexes)]
    assert not undocumented, undocumented[:10]
    assert len(documented) > 20  # the README has the table
