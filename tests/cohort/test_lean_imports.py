"""The command line's lean scipy import: the same functions and numbers, without the docstring notes."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
if sys.argv[1] == "lean":
    from toh.cohort.lean_imports import skip_scipy_doc_notes
    skip_scipy_doc_notes()
    skip_scipy_doc_notes()  # twice: one finder
import scipy
from scipy import stats
from scipy.optimize import minimize
import scipy._lib._array_api as api
print(json.dumps({
    "version": scipy.__version__,
    "finders": sum(type(f).__name__ == "_Finder" for f in sys.meta_path),
    "patched": api.xp_capabilities.__module__ == "toh.cohort.lean_imports",
    "registered": len(api.xp_capabilities_table),
    "note": "Array API Standard Support" in (stats.ttest_ind.__doc__ or ""),
    "numbers": [stats.norm.ppf(0.975), stats.chi2.sf(3.2, 2), stats.beta.ppf(0.025, 3, 98),
                minimize(lambda x: (x[0] - 1.5) ** 2, [0.0], method="Nelder-Mead").x[0]],
}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_scipy_without_doc_notes_computes_the_same() -> None:
    plain, lean = _probe("plain"), _probe("lean")
    assert lean["numbers"] == plain["numbers"]  # bitwise: JSON keeps every digit of a float
    assert lean["registered"] == plain["registered"]  # every function still registered
    assert lean["finders"] == 0  # the finder leaves once scipy's module is found
    if plain["version"].startswith(("1.15.", "1.16.", "1.17.")):
        assert lean["patched"] and not lean["note"]
        assert plain["note"]  # what is skipped: the appended note
    else:  # a release not known: scipy left as it is
        assert not lean["patched"]
