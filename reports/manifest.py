"""Reproducibility facts: what went in (file hashes), with which settings and software."""

from __future__ import annotations

import functools
import hashlib
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["file_hashes", "software_versions", "provenance", "MANIFEST", "REPORT_KIND"]

#: The report's manifest file, and the ``kind`` it names.
MANIFEST, REPORT_KIND = "manifest.json", "toh-report"

_PACKAGES = ("toh-cohort", "pandas", "numpy", "scipy", "pandera", "lifelines", "pyarrow")  # what computes the numbers


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of one file; cached by path, size and modification time, so a build that hashes
    its inputs twice (fingerprint, then manifest) reads each file once."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(paths: list[Path]) -> dict[str, str]:
    """SHA-256 of each file's bytes as read, keyed by name, sorted."""
    out = {}
    for path in sorted(paths, key=lambda p: p.name):
        stat = path.stat()
        out[path.name] = _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return out


def software_versions(pooled: bool = False) -> dict[str, str]:
    """Versions of Python and of the packages that compute the numbers (``pooled``: also
    statsmodels, whose DerSimonian-Laird fit gives ``toh pool``'s meta-analyses)."""
    out = {"python": platform.python_version()}
    for name in (*_PACKAGES, "statsmodels") if pooled else _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(export: Path, files: dict[str, str], mapping: Path | None, settings: dict[str, Any],
               claims: Path | None = None) -> dict[str, Any]:
    """Inputs (hashes of the export's files, the mapping and a claims file of one's own, as
    ``mapping:<name>`` and ``claims:<name>``), settings and software versions."""
    root = export if export.is_dir() else export.parent
    inputs = [export] if export.is_file() else [root / name for name in sorted(set(files.values()))]
    hashed = file_hashes([p for p in inputs if p.is_file()])
    if mapping is not None:
        hashed.update({f"mapping:{k}": v for k, v in file_hashes([mapping]).items()})
    if claims is not None:
        hashed.update({f"claims:{k}": v for k, v in file_hashes([Path(claims)]).items()})
    return {"export": export.name, "inputs_sha256": hashed, "settings": settings, "software": software_versions()}
