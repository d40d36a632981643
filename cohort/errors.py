"""The package's own exceptions and warnings, one module for the whole package.

The command-line interface maps them to exit codes: :class:`InvalidDataError` and
:class:`UnreadableDataError` -> 1, :class:`ConfigError` and :class:`OutputError` -> 2.  Anything
else is a bug and is reported as one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TohError", "ConfigError", "InvalidDataError", "UnreadableDataError", "OutputError",
           "StatisticalWarning"]


class TohError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code: int = 2


class ConfigError(TohError):
    """A mapping file, configuration or command-line option is wrong (exit code 2).

    The message names the file and the key or option at fault.
    """

    exit_code = 2


class InvalidDataError(TohError):
    """The export breaks the contract (exit code 1).

    ``report`` holds the :class:`toh.cohort.validate.ValidationReport` with every failure.
    """

    exit_code = 1

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


class OutputError(TohError):
    """An output could not be written: full disk, read-only or unwritable location (exit code 2).

    The last good output is kept; the message names the folder and the cause.
    """

    exit_code = 2


class UnreadableDataError(TohError):
    """A table of the export cannot be read at all (exit code 1): bytes that are not text in the
    export's encoding, a record cut off, a header without names.

    The message names the file and the line (never a byte offset) and says what to do.
    """

    exit_code = 1


class StatisticalWarning(UserWarning):
    """An estimate was computed but deserves caution (few events, a boundary, no variance)."""
