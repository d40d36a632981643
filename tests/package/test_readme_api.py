"""The README's Python examples run as written (against the bundled demo registry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@pytest.mark.slow  # the demo analysed with the default 1,000 bootstrap draws
def test_every_python_example_of_the_readme_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks and any("toh.analyse_export(" in b for b in blocks)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for number, source in enumerate(blocks, start=1):
        exec(compile(source, f"README.md python block {number}", "exec"), namespace)  # noqa: S102
    run = namespace["run"]
    assert len(run.derived.index) == 400 and "Patients, n" in set(namespace["toh"].table_one(run.analysis).iloc[:, 0])
