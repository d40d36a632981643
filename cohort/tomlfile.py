"""Reading the package's TOML files (mapping, report configuration) with one kind of error."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from toh.cohort.errors import ConfigError

__all__ = ["read_toml"]


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The parsed file; a missing or unreadable file or invalid TOML is a ConfigError naming ``what``
    and the path (and never quoting the file's content)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:  # the codec's text would quote the file's bytes
        raise ConfigError(f"{path}: not a valid TOML file: not UTF-8 text (at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:  # names the line and column, never the file's text
        raise ConfigError(f"{path}: not a valid TOML file: {exc}") from None
