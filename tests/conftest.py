"""Shared fixtures (the builders live in tests/builders.py, importable as ``builders``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# ``python -m pytest`` puts the project folder on sys.path, where cohort/, reports/... would
# import under their bare folder names and hide a module that names its package wrongly.  The
# tests see the package only as installed: ``toh.*``.
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _ROOT]

from builders import BASE_EXPORT, write_export


def pytest_configure(config: pytest.Config) -> None:
    """The developer run (``-m "not slow"``) gives the slowest property tests a quarter of their
    examples (``budget.examples``); CI, which runs every test, gives them all."""
    import budget

    budget.QUICK = "not slow" in (config.getoption("markexpr") or "")


#: The bundled demo registry (the tests read it where it lies in the project).
DEMO = _ROOT / "cohort" / "demo"


@pytest.fixture(scope="session")
def demo_analysis_50():
    """The demo registry validated on 2026-01-31 and analysed with 50 bootstrap draws, seed 3
    (what ``toh analyze DEMO --bootstrap 50 --seed 3 --validation-date 2026-01-31`` computes),
    once per session: the tests that share it only read it."""
    import datetime as dt

    from toh.analyses.radiographic import RadiographicOptions
    from toh.analyses.run import AnalysisOptions, analyse_cohort
    from toh.cohort.derive import derive_cohort
    from toh.cohort.validate import load_valid_export

    report = load_valid_export(DEMO, validation_date=dt.date(2026, 1, 31))
    return analyse_cohort(derive_cohort(report.tables),
                          AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=50, seed=3)))


@pytest.fixture
def base_export(tmp_path: Path) -> Path:
    """The valid base export as a folder of CSV files."""
    return write_export(tmp_path / "export", BASE_EXPORT)
