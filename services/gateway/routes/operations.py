"""What the gateway says about itself: where things are, its health, the keys and the bus's contract."""

import json
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from services.common.settings import Secret
from services.common.tokens import jwks
from services.gateway import pages, responses
from services.gateway.app_settings import AppSettings
from services.gateway.routes import API

router = APIRouter()
CONTRACT: dict[str, Any] = json.loads(
    resources.files("services.gateway").joinpath("asyncapi.json").read_text()
)


@router.get("/", include_in_schema=False, response_model=None)
def index(request: Request) -> dict[str, str] | Response:
    if "text/html" in request.headers.get("accept", ""):  # a person's browser: the patient's pages
        return RedirectResponse(f"{pages.PAGES}/", status_code=303)
    return {
        "service": "Dossier Médical Partagé",
        "api_docs": f"{API}/docs",
        "openapi": f"{API}/openapi.json",
        "asyncapi": f"{API}/asyncapi.json",
        "patient_pages": f"{pages.PAGES}/",
    }


@router.get("/.well-known/jwks.json", tags=["login"])
def public_keys(settings: AppSettings) -> responses.PublicKeys:
    """The keys that verify access tokens (JWKS). Old keys stay listed until their tokens expire."""
    return responses.PublicKeys.model_validate(jwks(settings.public_keys(Secret.TOKEN_PUBLIC_KEYS)))


@router.get(f"{API}/asyncapi.json", tags=["operations"])
def asyncapi() -> dict[str, Any]:  # an AsyncAPI document: its own schema, not ours to restate
    """The bus's contract for other services (AsyncAPI 3.0): every RPC with who may call it, every event
    source and subscription (services/common/asyncapi.py)."""
    return dict(CONTRACT)


@router.get("/health", tags=["operations"])
def health() -> responses.Health:
    return responses.Health(status="ok")
