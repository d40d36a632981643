"""The installed package finds its own files from any working folder (not only the project's,
where the bare folder names ``reports`` and ``cohort`` happen to be importable)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_report_template_loads_outside_the_project_folder(tmp_path: Path) -> None:
    probe = ("from toh.reports.render.html import _environment\n"
             "print(len(_environment().get_template('report.html.j2').render(doc=None, images={}, version='x',"
             " figure_css_width='1mm')) > 0)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
