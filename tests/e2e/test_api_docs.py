"""The REST API's interactive docs in Debian's Chromium: Swagger UI, from the gateway itself, renders every
operation under the page's policy (no script of another origin, no inline script), and the console stays clean
of policy violations."""

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import ARTIFACTS
from tests.system import Running

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_the_api_from_this_origin_under_its_policy(
    system: Running, chromium: Browser
) -> None:
    page = chromium.new_page()
    complaints: list[str] = []
    page.on(
        "console",
        lambda message: complaints.append(message.text) if message.type == "error" else None,
    )
    elsewhere: list[str] = []
    gateway = system.stack.gateway_url
    page.on(
        "request",
        lambda request: None if request.url.startswith(gateway) else elsewhere.append(request.url),
    )
    page.goto(f"{gateway}/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert (
        page.locator(".opblock").count() > 40
    )  # every REST route, from the gateway's own OpenAPI document
    expect(
        page.get_by_text(re.compile(r"^/api/v1/patients/\{ins\}/documents$")).first
    ).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert elsewhere == []
    assert not [text for text in complaints if "Content Security Policy" in text], complaints
    page.close()
