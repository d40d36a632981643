"""The figures of a report, named once.

Every figure is a file stem: :mod:`toh.reports.figures` draws it under this name, the report
document (:mod:`toh.reports.document`) places it and hides its counts by it, and the renderers
link ``figures/<stem>.png`` / ``.svg``.  Nothing else spells a figure's name.
"""

from __future__ import annotations

__all__ = ["km_resolution_name", "CIF", "RADIOGRAPHIC", "AGE_BY_SEX", "COMPLICATIONS", "IMAGING", "CLAIMS_FOREST",
           "FIGURE_NEEDS", "sites_forest_name"]

CIF = "cif_recurrence_migration"
RADIOGRAPHIC = "radiographic_change"
AGE_BY_SEX = "age_by_sex"
COMPLICATIONS = "complications"
IMAGING = "imaging_findings"
CLAIMS_FOREST = "claims_forest"


def km_resolution_name(variable: str) -> str:
    """The Kaplan-Meier figure of time to resolution by ``variable`` ("all", "sex", ...)."""
    return f"km_resolution_{variable}"


def sites_forest_name(estimand: str) -> str:
    """The forest plot of a pooled report (``toh pool --report``): each site's estimate of
    ``estimand`` ("recurrence.rate", "resolution.cox.male") with the pooled diamond."""
    return "sites_forest_" + estimand.replace(".", "_")


#: figure stem -> the results keys (prefixes) it draws; a figure none of whose keys can be
#: estimated from the export (an absent table, no plain film) is not drawn, and its report
#: section says why instead.
FIGURE_NEEDS: dict[str, tuple[str, ...]] = {
    RADIOGRAPHIC: ("radiographic",),
    COMPLICATIONS: ("complications.fracture", "complications.avn"),
    IMAGING: ("imaging",),
}
