"""One module per question the TOH literature answers; pure functions from a derived cohort to
frozen result objects (tidy tables with fixed columns, headline numbers, the options used).

Nothing here draws or writes files.  ``analyse_cohort`` runs them all.  Submodules are imported
on first use, so ``import analyses`` stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["analyse_cohort", "AnalysisOptions", "CohortAnalysis"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from toh.analyses import run

        return getattr(run, name)
    raise AttributeError(f"module 'toh.analyses' has no attribute {name!r}")
