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

@pytest.fixture
def base_export(tmp_path: Path) -> Path:
    """The valid base export as a folder of CSV files."""
    return write_export(tmp_path / "export", BASE_EXPORT)
