"""The layer rule, enforced: schemas <- cohort <- analyses <- reports (an import may only point
left), and no module imports a private ``_module`` of another package.

Read from the source with :mod:`ast`, so an import inside a function counts as much as one at the
top of a module.  The checker itself is tested on made-up sources, so it cannot pass vacuously.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("schemas", "cohort", "analyses", "reports")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _imported(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the tree; relative ones are resolved
    against ``package`` (the dotted package of the module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def violations(source: str, layer: str, where: str = "<source>", package: str = "") -> list[str]:
    """Every import in ``source`` (a module of ``package``, by default ``toh.<layer>``) that breaks
    the rule."""
    out = []
    for line, module in _imported(ast.parse(source), package or f"toh.{layer}"):
        parts = module.split(".")
        if parts[0] != "toh" or len(parts) < 2 or parts[1] not in RANK:
            continue
        if RANK[parts[1]] > RANK[layer]:
            out.append(f"{where}:{line}: toh.{layer} imports {module} (a layer to its right)")
        elif parts[1] != layer and any(p.startswith("_") and not p.startswith("__") for p in parts[2:]):
            out.append(f"{where}:{line}: toh.{layer} imports {module} (private to toh.{parts[1]})")
    return out


def test_the_checker_finds_each_kind_of_violation() -> None:
    assert violations("from toh.reports.cli import main", "analyses")
    assert violations("def f():\n    import toh.analyses.run\n", "cohort")
    assert violations("from toh.cohort._toml import x", "reports")
    assert violations("from toh.analyses import _km", "reports")
    assert violations("from ..reports import cli", "cohort")  # relative, resolved
    assert violations("from ...reports import cli", "cohort", package="toh.cohort.demo")
    assert not violations("from toh.schemas.codes import TABLES", "cohort")
    assert not violations("from toh.analyses._km import kaplan_meier", "analyses")  # own package
    assert not violations("import numpy as np\nfrom toh.cohort.errors import TohError", "reports")


@pytest.mark.parametrize("layer", LAYERS)
def test_every_import_points_left_and_no_private_module_is_shared(layer: str) -> None:
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no modules found under {layer}/"
    found = [v for path in files
             for v in violations(path.read_text(encoding="utf-8"), layer, str(path.relative_to(ROOT)),
                                 ".".join(("toh", *path.relative_to(ROOT).parent.parts)))]
    assert not found, "\n".join(found)


def test_no_bare_layer_name_is_imported_anywhere() -> None:
    """Every import of a layer goes through ``toh.``: a bare ``cohort`` would be another project."""
    bad = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if ".venv" in path.parts or "build" in path.parts:
            continue
        for line, module in _imported(ast.parse(path.read_text(encoding="utf-8")), "x"):
            if module.split(".")[0] in RANK:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert not bad, "\n".join(bad)
