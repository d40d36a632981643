"""What the ``toh`` command skips when it imports scipy: the docstring notes of scipy's
array-API decorator.

SciPy 1.15-1.17 decorate some 500 functions with ``xp_capabilities``, which parses each
function's docstring (numpydoc) at import time to append a table of the array backends it
supports.  That work is about a quarter of ``import scipy.stats`` (which lifelines imports
whole): 0.2-0.3 s of CPU in every ``toh analyze``, for notes that a command never shows.
:func:`skip_scipy_doc_notes` makes the decorator register the function as it does and leave
its docstring alone.  Only the command line calls it (its own process: a notebook importing
toh keeps scipy as it is); nothing scipy computes changes, only those docstrings.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["skip_scipy_doc_notes"]

_MODULE = "scipy._lib._array_api"
#: the SciPy releases whose decorator is known to do nothing else than register and document
_KNOWN = ("1.15.", "1.16.", "1.17.")


def _register_only(table: dict) -> Callable[..., Callable[[Any], Any]]:
    def xp_capabilities(*, capabilities_table: dict | None = None, **capabilities: Any) -> Callable[[Any], Any]:
        target = table if capabilities_table is None else capabilities_table

        def decorator(f: Any) -> Any:
            target[f] = capabilities
            return f

        return decorator

    return xp_capabilities


def _patch(module: ModuleType) -> None:
    version = getattr(sys.modules.get("scipy"), "__version__", "")
    table = getattr(module, "xp_capabilities_table", None)
    if version.startswith(_KNOWN) and isinstance(table, dict) and callable(getattr(module, "xp_capabilities", None)):
        module.xp_capabilities = _register_only(table)  # type: ignore[attr-defined]


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when scipy's module is found, patches it right after it runs."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name != _MODULE:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def skip_scipy_doc_notes() -> None:
    """Have scipy's array-API decorator skip its docstring notes in this process, from the
    first import of scipy on (nothing is imported now; too late once scipy is imported)."""
    if _MODULE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
