"""The REST API's interactive docs come from the gateway itself, under a policy that runs its own scripts only."""

from __future__ import annotations

import re

from tests.gateway.conftest import Gateway


def test_the_docs_page_loads_nothing_from_elsewhere_and_no_inline_script(gateway: Gateway) -> None:
    page = gateway.client.get("/api/v1/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # no CDN, no other origin
    assert not re.search(r"<script>[^<]", page.text)  # every script is a file the policy allows
    assets = re.findall(r"(?:src|href)=\"(/api/v1/docs/assets/[^\"]+)\"", page.text)
    assert len(assets) == 3
    for asset in assets:
        served = gateway.client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
        assert served.headers["content-type"].startswith(("text/javascript", "text/css")), asset
    assert 'data-openapi="/api/v1/openapi.json"' in page.text
    assert gateway.client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.")


def test_only_the_pages_own_assets_are_served(gateway: Gateway) -> None:
    for name in ("swagger-editor-bundle.js", "..%2F..%2Fpyproject.toml", "LICENSE", "index.css"):
        assert gateway.client.get(f"/api/v1/docs/assets/{name}").status_code == 404, name
