"""Playwright (sync API) driving Debian's chromium: Playwright's own browser download is not used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JOBCTL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Set to a folder (e.g. docs) to keep the screenshots the tests take.
SHOTS = os.environ.get("JOBCTL_SCREENSHOTS")


def _missing(problem: str):
    """Skip on a developer's machine; fail where the browser tests must run (JOBCTL_REQUIRE_BROWSER=1,
    set by .ci/run), so CI can never pass without them."""
    if os.environ.get("JOBCTL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"JOBCTL_REQUIRE_BROWSER=1 but {problem}")
    pytest.skip(problem)


def launch():
    """(playwright, browser), or skip when the browser stack is missing on this machine."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)")
    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def screenshot(page, name: str, tmp: Path, **kw) -> Path:
    path = tmp / name
    page.screenshot(path=str(path), **kw)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        from PIL import Image
        with Image.open(path) as img:  # 256 colours: a third of the bytes, no visible loss for a UI
            img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
                Path(SHOTS) / name, optimize=True)
    return path
