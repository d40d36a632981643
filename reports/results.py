"""Write an analysis: one tidy CSV per table and results.json of headline numbers.

CSV and JSON keep full double precision (rounding is for rendered tables only).  results.json
has sorted keys; NaN and infinity are written as null.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toh.cohort.safe_csv import write_csv

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.run import CohortAnalysis

__all__ = ["write_results", "plain", "RESULTS_SCHEMA_VERSION"]

RESULTS_SCHEMA_VERSION = 2


def plain(value: Any) -> Any:
    """``value`` as plain JSON values (dicts, lists, dataclasses and numbers made JSON-friendly)."""
    from toh.analyses.result import clean_number

    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return clean_number(value)


def write_results(analysis: CohortAnalysis, out: str | Path, provenance: dict[str, Any] | None = None) -> list[Path]:
    """Write every table of ``analysis`` as CSV under ``out/tables`` and ``out/results.json``."""
    out = Path(out)
    paths = []
    for name, table in sorted(analysis.tables().items()):
        paths.append(write_csv(table, out / "tables" / f"{name}.csv"))
    document = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "provenance": plain(provenance or {}),
        "definitions": plain(analysis.definitions.as_dict()),
        "options": plain(analysis.options),
        "results": analysis.headline(),
    }
    path = out / "results.json"
    path.write_text(json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    paths.append(path)
    return sorted(paths)
