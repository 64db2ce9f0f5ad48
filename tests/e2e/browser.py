"""Debian's Chromium, driven by Playwright (the PyPI package; it downloads no browser), and the checks
every patient page must pass: labels, names, language, one h1, contrast, and fitting a phone screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# The machine's network is closed: without these, Chromium keeps trying to reach Google's services.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]
ARTIFACTS = Path(__file__).parents[2] / "var" / "artifacts" / "pages"
PHONE: ViewportSize = {"width": 375, "height": 740}

PAGE_PROBLEMS = (Path(__file__).parent / "page_checks.js").read_text()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (deploy/local/prepare_tests.py)"
        )
    # Started, never stopped: under eventlet's monkey patching, stopping Playwright waits forever for
    # its driver's exit. Closing the browser is enough; the driver ends with the test process.
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    yield browser
    browser.close()


def problems(page: Page) -> list[str]:
    found: list[str] = page.evaluate(PAGE_PROBLEMS)
    return found


def check(page: Page, name: str) -> None:
    """Screenshot the page as a test artefact, then fail on anything a person would trip over."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert problems(page) == [], f"{name}: {page.url}"
