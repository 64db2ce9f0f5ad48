"""The REST API's interactive docs (Swagger UI), served by the gateway itself under a strict Content-Security-Policy:
its script and stylesheet come from the swagger-ui-py package installed with the gateway (no CDN), and it starts
from a script of ours (no inline script), so the page may run scripts of this origin only."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import swagger_ui
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.common.errors import NotFound

SWAGGER_UI = Path(swagger_ui.__file__).parent / "static"
OURS = resources.files(__package__)
ASSETS: dict[
    str, tuple[Path | Traversable, str]
] = {  # what the page loads, and nothing else is served from here
    "swagger-ui-bundle.js": (SWAGGER_UI / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css"),
    "start.js": (OURS / "start.js", "text/javascript"),
}
# Swagger UI sets style attributes and shows its logos as data: images; it fetches the OpenAPI document and,
# with "Try it out", the API itself, on this origin.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _read(name: str) -> bytes:
    return ASSETS[name][0].read_bytes()


def router(prefix: str) -> APIRouter:
    docs = APIRouter(include_in_schema=False)
    page = (OURS / "index.html").read_text(encoding="utf-8").replace("{prefix}", prefix)

    @docs.get(f"{prefix}/docs", response_class=HTMLResponse)
    def interactive_docs() -> HTMLResponse:
        return HTMLResponse(
            page, headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-store"}
        )

    @docs.get(f"{prefix}/docs/assets/{{name}}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise NotFound("no such asset of the docs", [{"field": "name"}])
        media_type = ASSETS[name][1]
        return Response(
            _read(name),
            media_type=media_type,
            headers={"Content-Security-Policy": POLICY, "Cache-Control": "public, max-age=3600"},
        )

    return docs
