"""Shared fixtures (the builders live in tests/builders.py, importable as ``builders``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import BASE_EXPORT, write_export

@pytest.fixture
def base_export(tmp_path: Path) -> Path:
    """The valid base export as a folder of CSV files."""
    return write_export(tmp_path / "export", BASE_EXPORT)
