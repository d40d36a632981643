"""The wheel a user installs: one top-level name (``toh``), every data file of the rearranged
package inside it, and an install beside PyPI's ``schemas`` and ``reports`` that leaves their
files as they were (issue 11's "done when")."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: PyPI projects whose names toh-cohort once shadowed (pinned: the check must not move with them)
NEIGHBOURS = ("schemas==0.7.1", "reports==0.4.1")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project's tracked files (never a stale build/ folder)."""
    source = tmp_path_factory.mktemp("source") / "toh-cohort"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, capture_output=True)
    (built,) = out.glob("toh_cohort-*.whl")
    return built


@pytest.mark.slow  # builds the wheel
def test_the_wheel_installs_one_name_and_every_data_file(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"toh", wheel.name.split("-py3")[0] + ".dist-info"}
    for needed in ("toh/reports/render/templates/report.html.j2", "toh/analyses/claims.toml",
                   "toh/cohort/demo/patients.csv", "toh/docs/contract.md", "toh/docs/definitions.md",
                   "toh/py.typed", "toh/reports/sites/vantage6_algorithm.py", "toh/reports/figures/names.py"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith("toh/reports/templates/")]  # the template moved with render/


def _installed_files(python: Path, project: str) -> dict[str, str]:
    """SHA-256 of every file pip installed for ``project`` (read from its RECORD)."""
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (record,) = site.glob(f"{project}-*.dist-info/RECORD")
    with record.open(newline="") as handle:
        paths = [row[0] for row in csv.reader(handle) if row and not row[0].endswith(".pyc")]
    return {p: hashlib.sha256((site / p).read_bytes()).hexdigest() for p in paths if (site / p).is_file()}


@pytest.mark.slow  # a fresh venv and two projects from PyPI
def test_installing_beside_pypis_schemas_and_reports_leaves_them_alone(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *NEIGHBOURS], check=True, capture_output=True)
    before = {p: _installed_files(python, p) for p in ("schemas", "reports")}
    assert all(before.values())
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True)
    assert {p: _installed_files(python, p) for p in ("schemas", "reports")} == before
    done = subprocess.run([str(python), "-c", "import reports, toh, toh.reports; "
                           "print(reports.__file__); print(toh.reports.__file__); print(toh.__version__)"],
                          capture_output=True, text=True, cwd=tmp_path)  # not the project folder: its toh/
    assert done.returncode == 0, done.stderr
    theirs, ours, version = done.stdout.split()
    assert theirs.endswith("site-packages/reports/__init__.py") and ours.endswith("site-packages/toh/reports/__init__.py")
    assert version == wheel.name.split("-")[1]
