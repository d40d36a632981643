"""The bundled demo registry: a synthetic TOH registry export, not real patients.

``patients.csv``, ``episodes.csv``, ``imaging.csv`` and ``events.csv`` (the canonical export
columns of docs/contract.md) and ``truth.json`` (the parameters used and the true values an analysis
should recover) were written by ``toh.cohort.simulate.make_demo("cohort/demo")``: 400 patients, seed
20240229, the default ``SimulationParameters`` (export date 2025-12-31), CSV.  Regenerate them with
that call after any change to the generator; ``tests/cohort/test_simulate.py`` checks that these
files are byte for byte what ``make_demo`` writes.
"""

from pathlib import Path

__all__ = ["demo_export"]


def demo_export() -> Path:
    """The folder of the bundled demo export (400 synthetic patients), for ``toh.analyse_export``,
    ``toh.validate_export`` or a report."""
    from importlib.resources import files

    return Path(str(files("toh.cohort.demo")))
