"""docs/walkthrough.md runs: every ```python block, in order, in one namespace (as a notebook would),
so the walkthrough cannot fall behind the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "walkthrough.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(WALKTHROUGH.read_text(encoding="utf-8"))


def test_the_walkthrough_has_its_sections() -> None:
    found = blocks()
    assert len(found) >= 20
    assert found[0].strip() == "import toh"
    text = "\n".join(found)
    for name in ("validate_export", "derive_cohort", "analyse_cohort", "kaplan_meier", "turnbull",
                 "cumulative_incidence", "gray_test", "clopper_pearson", "wilson", "poisson_rate"):
        assert f"toh.{name}(" in text, name


@pytest.mark.slow  # the walkthrough analyses the demo registry
def test_every_block_runs_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # a block that writes a file would write it here
    namespace: dict[str, object] = {"__name__": "__walkthrough__"}
    for number, source in enumerate(blocks(), start=1):
        code = compile(source, f"{WALKTHROUGH.name} block {number}", "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the point of the test
        except Exception as error:  # pragma: no cover - the message is the diagnosis
            pytest.fail(f"block {number} of {WALKTHROUGH.name} failed: {error!r}\n{source}")
