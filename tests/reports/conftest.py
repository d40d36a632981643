"""Reports built once per session: the demo registry, and a hostile copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from report_builders import HOSTILE_COLUMN, HOSTILE_FORMULA, HOSTILE_IMG, demo_export, report_config
from toh.reports.cli.build import build_report


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The demo report (folder) and its log lines."""
    out = tmp_path_factory.mktemp("demo") / "report"
    lines: list[str] = []
    build_report(report_config(demo_export(), out), log=lines.append, interactive=False)
    return out, lines


@pytest.fixture(scope="session")
def hostile_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo export with extra columns whose names and values are markup, script and formulas."""
    folder = tmp_path_factory.mktemp("hostile") / "export"
    shutil.copytree(demo_export(), folder, ignore=shutil.ignore_patterns("*.json", "__*"))
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    patients[HOSTILE_COLUMN] = HOSTILE_IMG
    patients[HOSTILE_FORMULA] = HOSTILE_FORMULA
    patients.to_csv(folder / "patients.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def hostile_report(tmp_path_factory: pytest.TempPathFactory, hostile_export: Path) -> Path:
    """The report of the hostile export, with a title holding markup too: HTML and Markdown (with
    its tables and figures), what its checks read; no PDF, which would take a third of the build
    (test_hostile_text.py renders the same texts to a PDF)."""
    out = tmp_path_factory.mktemp("hostile-report") / "report"
    build_report(report_config(hostile_export, out, title=f"Report {HOSTILE_IMG}", formats=("html", "md")),
                 log=lambda _: None, interactive=False)
    return out
