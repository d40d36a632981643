"""How many examples a property test tries: all of them in CI's run of every test, a quarter in
the developer run (``pytest -m "not slow"``, which must stay under 2 minutes).

The property is the same in both runs; the developer run explores less of the input space per
run, and CI explores all of it on every push.  ``tests/conftest.py`` sets :data:`QUICK` before
the test modules are collected.
"""

from __future__ import annotations

#: True in a run that leaves the slow tests out (``-m "not slow"``).
QUICK = False


def examples(full: int) -> int:
    """``max_examples`` for a property test that CI runs with ``full`` examples."""
    return max(full // 4, 10) if QUICK else full
