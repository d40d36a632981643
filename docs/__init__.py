"""The design documents of toh-cohort, shipped with the package as :mod:`toh.docs`.

``contract.md`` (the registry export), ``definitions.md`` (the estimand definitions and their
defaults) and ``r-conventions.md`` (which R convention each estimator follows, and why).
Read one with :func:`read`.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["DOCUMENTS", "read"]

DOCUMENTS = ("contract.md", "definitions.md", "r-conventions.md")


def read(name: str) -> str:
    """The text of one design document (a name from :data:`DOCUMENTS`)."""
    if name not in DOCUMENTS:
        raise ValueError(f"no design document {name!r}; there are {', '.join(DOCUMENTS)}")
    return files("toh.docs").joinpath(name).read_text(encoding="utf-8")
