"""Extra columns of an export declared for the analyses: their table, type and label.

The contract keeps a column it does not know and reports it as an ``extra_column`` warning
(never used).  A column *declared* here is typed and checked at validation instead (a bad value
is a validation failure like any other, an absent column a ``column_missing`` error), carried
through derivation to the index table (a patients' column per patient, an episodes' column per
episode) and can then enter the Cox model of resolution as a covariate or stratum, and, a
category or boolean, stratify the Kaplan-Meier curves and log-rank tests.

In a report configuration::

    [analysis.columns]
    bmi = { table = "patients", type = "number", per = 5, label = "BMI" }
    smoking = { table = "patients", type = "category" }
    vitamin_d_low = { table = "episodes", type = "boolean", label = "Low vitamin D" }
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toh.cohort.errors import ConfigError

__all__ = ["ExtraColumn", "COLUMN_TYPES", "COLUMN_TABLES", "RESERVED_NAMES", "parse_columns", "check_columns"]

#: The types a declared column can have: a number (any finite decimal), a category (any text,
#: each distinct value a level) or a boolean (the mapping's true / false values).
COLUMN_TYPES = ("number", "category", "boolean")
#: The tables whose columns reach the index table (one row per patient).
COLUMN_TABLES = ("patients", "episodes")

#: Names a declared column cannot take: columns the derived episode and index tables make
#: themselves (the contract's columns are refused too; see :func:`check_columns`), and the
#: names of the built-in covariates and strata.  tests/cohort/test_columns.py checks that every
#: derived column is listed.
RESERVED_NAMES = frozenset({
    "source_row", "episode_number", "sex", "site", "index_episode_id", "relation", "is_index", "days_from_index",
    "age_at_onset", "pregnancy_associated", "followup_end_date", "followup_days", "resolved", "resolution_days",
    "xr_lower_day", "xr_upper_day", "xr_changed", "xr_films",
    "fracture_event", "fracture_days", "avn_event", "avn_days", "death_date", "patient_end_date", "died",
    "patient_followup_days", "bilateral", "n_episodes", "recurrence_status", "recurrence_days",
    "migration_status", "migration_days", "migration_site", "index_onset", "index_side", "index_number",
    "male", "age", "pregnancy", "treatment", "all", "other",
})

_FIELDS = {"table", "type", "label", "per"}
#: A declared column's name: it becomes part of results keys, table names and figure file names.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


@dataclass(frozen=True)
class ExtraColumn:
    """One declared extra column.

    Attributes
    ----------
    name
        The column's name in the export (after the mapping's renames).
    table
        "patients" (one value per patient) or "episodes" (the index episode's value is used).
    type
        "number", "category" or "boolean".
    label
        How tables and sentences name it (default: the name).
    per
        A number's unit in the Cox model: the hazard ratio is given per ``per`` units (as
        ``age`` is per 10 years); 1 by default.
    """

    name: str
    table: str
    type: str
    label: str = ""
    per: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(f"extra column {self.name!r}: a declared column's name is a letter then letters, digits "
                             "or _ (at most 40); rename the column in the export")
        if self.table not in COLUMN_TABLES:
            raise ValueError(f"extra column {self.name!r}: table must be one of {', '.join(COLUMN_TABLES)}, "
                             f"got {self.table!r}")
        if self.type not in COLUMN_TYPES:
            raise ValueError(f"extra column {self.name!r}: type must be one of {', '.join(COLUMN_TYPES)}, "
                             f"got {self.type!r}")
        if isinstance(self.per, bool) or not isinstance(self.per, (int, float)) or not (
                math.isfinite(self.per) and self.per > 0):
            raise ValueError(f"extra column {self.name!r}: per must be a positive number, got {self.per!r}")
        if self.per != 1 and self.type != "number":
            raise ValueError(f"extra column {self.name!r}: per is for numbers only (type {self.type!r})")

    @property
    def shown(self) -> str:
        """The label, or else the name."""
        return self.label or self.name


def check_columns(columns: Iterable[ExtraColumn]) -> tuple[ExtraColumn, ...]:
    """The declarations as a tuple, refusing a name used twice, a contract column or a name the
    derived tables make (:data:`RESERVED_NAMES`); ValueError naming the column."""
    from toh.schemas import SCHEMAS

    out = tuple(columns)
    contract = {c for table in SCHEMAS for c in SCHEMAS[table].to_schema().columns}
    seen: set[str] = set()
    for column in out:
        if not isinstance(column, ExtraColumn):
            raise ValueError(f"extra columns must be ExtraColumn declarations, got {column!r}")
        if column.name in seen:
            raise ValueError(f"extra column {column.name!r} is declared twice")
        seen.add(column.name)
        if column.name in contract:
            raise ValueError(f"extra column {column.name!r} is a column of the contract, not an extra column")
        if column.name in RESERVED_NAMES:
            raise ValueError(f"extra column {column.name!r} has the name of a derived column or built-in "
                             "covariate; rename it in the export or the mapping")
    return out


def parse_columns(raw: Any, where: str) -> tuple[ExtraColumn, ...]:
    """Declarations from a TOML table ``name = { table = ..., type = ..., label = ..., per = ... }``.

    Parameters
    ----------
    raw
        The parsed ``[analysis.columns]`` table.
    where
        File and section, for messages (e.g. ``"report.toml: [analysis.columns]"``).

    Raises
    ------
    ConfigError
        Naming ``where`` and the column at fault.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table of column declarations, got {raw!r}")
    out = []
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where}.{name} must be an inline table such as "
                              f'{{ table = "patients", type = "number" }}, got {spec!r}')
        unknown = sorted(set(spec) - _FIELDS)
        if unknown:
            raise ConfigError(f"{where}.{name} has unknown keys {unknown}; keys are {sorted(_FIELDS)}")
        missing = sorted({"table", "type"} - set(spec))
        if missing:
            raise ConfigError(f"{where}.{name} needs {' and '.join(missing)}")
        for key in ("table", "type", "label"):
            if key in spec and not isinstance(spec[key], str):
                raise ConfigError(f"{where}.{name}.{key} must be text, got {spec[key]!r}")
        try:
            out.append(ExtraColumn(name, spec["table"], spec["type"], spec.get("label", ""), spec.get("per", 1.0)))
        except ValueError as exc:
            raise ConfigError(f"{where}.{name}: {exc}") from None
    try:
        return check_columns(out)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
