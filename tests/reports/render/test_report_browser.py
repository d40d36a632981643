"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright).

The browser must be installed (``apt-get install chromium``; ``.ci/run`` does it).  Without it
these tests fail, unless ``TOH_SKIP_BROWSER=1`` says on purpose that this machine has none.
A screenshot of each report is written to ``TOH_SCREENSHOT_DIR`` (default: pytest's temp folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a headless chromium per test

from report_builders import HOSTILE_COLUMN

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _browser_path() -> str:
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("TOH_SKIP_BROWSER") == "1":
        pytest.skip("TOH_SKIP_BROWSER=1: no browser on this machine")
    pytest.fail("no chromium found: install it (apt-get install chromium) or set TOH_SKIP_BROWSER=1")


def _open(report: Path, shot: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    seen: dict[str, Any] = {"console": [], "errors": [], "requests": [], "dialogs": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=_browser_path(),
            args=["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-quic", "--disable-component-update", "--disable-sync", "--disable-extensions",
                  "--no-first-run", "--disable-dev-shm-usage"])  # no network: nothing may try to reach out
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(report.resolve().as_uri(), wait_until="load")
            seen["images"] = page.eval_on_selector_all(
                "img", "els => els.map(e => ({name: e.dataset.figure, complete: e.complete, "
                "natural: e.naturalWidth, shown: e.getBoundingClientRect().width, "
                "visible: getComputedStyle(e).display !== 'none' && getComputedStyle(e).visibility !== 'hidden'}))")
            seen["text"] = page.inner_text("body")
            seen["title"] = page.title()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return seen


def _shot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TOH_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_report_opens_offline_with_every_figure_and_no_console_error(demo_report: tuple[Path, list[str]],
                                                                      tmp_path: Path) -> None:
    out, _ = demo_report
    shot = _shot_dir(tmp_path) / "toh-report.png"
    seen = _open(out / "report.html", shot)
    assert seen["errors"] == [] and [c for c in seen["console"] if c[0] in ("error", "warning")] == []
    assert seen["requests"] == [(out / "report.html").resolve().as_uri()]  # nothing else is fetched
    assert len(seen["images"]) == 10
    for image in seen["images"]:
        assert image["complete"] and image["natural"] > 0 and image["shown"] > 100 and image["visible"], image
    assert "Claims check" in seen["text"] and "Table 1. Baseline characteristics" in seen["text"]
    assert shot.stat().st_size > 100_000  # a full-page screenshot of a drawn report


def test_hostile_export_runs_no_script(hostile_report: Path, tmp_path: Path) -> None:
    seen = _open(hostile_report / "report.html", _shot_dir(tmp_path) / "toh-report-hostile.png")
    assert seen["dialogs"] == [] and seen["errors"] == []
    assert HOSTILE_COLUMN in seen["text"]  # shown as text
    assert seen["title"].startswith("Report <img src=x")  # the title, as text
    assert all(i["natural"] > 0 for i in seen["images"])
