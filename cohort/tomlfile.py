"""Reading the package's TOML files (mapping, report configuration) with one kind of error."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError

__all__ = ["read_toml"]


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; a missing file or invalid TOML is a ConfigError naming ``what`` and the path."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file: {exc}") from None
