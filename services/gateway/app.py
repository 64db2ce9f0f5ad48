"""The HTTP gateway: REST for professional software and patients, in front of the services.

The gateway checks the token's signature early (a clear 401 without a round trip) but decides
nothing about access: every service verifies the token again and dossier asks consent.

This module builds the app (middleware, problem details, the routers); the REST routes are in
services/gateway/routes/, one module per resource, the FHIR facade in fhir.py, the pages in pages/.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from services.common.errors import DmpError, TooManyRequests
from services.common.sessions import EndedSession, SessionFeed
from services.common.settings import Secret, Settings
from services.gateway import docs, fhir, fhir_list_routes, pages, problems, rpc
from services.gateway.app_settings import keep, of_app
from services.gateway.auth import client_address, verified_once
from services.gateway.bodies import BoundedBodies
from services.gateway.fhir_xml import FhirXml
from services.gateway.limits import RateLimiter
from services.gateway.routes import (
    API,
    consent,
    contact,
    documents,
    dossiers,
    enrolment,
    history,
    login,
    notifications,
    operations,
    personal_space,
    reimbursements,
)
from services.gateway.rpc import services

log = logging.getLogger("dmp.gateway")
RESOURCES = (
    enrolment,
    login,
    contact,
    dossiers,
    personal_space,
    reimbursements,
    documents,
    consent,
    notifications,
    history,
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def rate_key(request: Request) -> str:
    """Whom a request counts against: the actor of a valid token, else the client's address."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        try:
            return f"actor:{verified_once(request, credentials).actor.id}"
        except DmpError:
            pass
    return f"address:{client_address(request)}"


def body_limit(settings: Settings) -> int:
    # base64 inflates by 4/3; leave room for the metadata around the content.
    return settings.max_document_bytes * 4 // 3 + 64 * 1024


def load_ended_sessions() -> list[EndedSession]:
    return [EndedSession.from_message(item) for item in services().identity.ended_sessions()]


@asynccontextmanager
async def following_ended_sessions(app: FastAPI) -> AsyncIterator[None]:
    """While the gateway runs, it refuses the tokens of ended sessions (services/common/sessions.py)."""
    settings = of_app(app)
    feed = SessionFeed(settings.amqp_uri, settings.bus_keys, load_ended_sessions)
    feed.start()
    try:
        yield
    finally:
        feed.stop()


def create_app() -> FastAPI:
    # read once for the process: a malformed setting or a missing key stops the gateway here, named
    settings = Settings.load()
    settings.require(Secret.TOKEN_PUBLIC_KEYS, Secret.BUS_PUBLIC_KEYS)
    rpc.use(settings)
    app = FastAPI(
        lifespan=following_ended_sessions,
        title="Dossier Médical Partagé API",
        version="1.0.0",
        description="REST API of the shared medical record. Errors are RFC 9457 problem details; "
        "every response carries X-Request-ID.",
        docs_url=None,  # served by services/gateway/docs, from this origin, under its own policy
        openapi_url=f"{API}/openapi.json",
        redoc_url=None,
    )
    keep(app, settings)
    problems.install(app)
    limit = body_limit(settings)

    limiter = RateLimiter(settings.rate_per_actor_per_minute)
    # inside request_context (added before it): its 413 and 422 get the request id and the headers
    app.add_middleware(FhirXml)  # inside BoundedBodies: an XML body is bounded before it is parsed
    app.add_middleware(BoundedBodies, limit=limit)

    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        wait = limiter.retry_after(rate_key(request))
        if wait:
            limited = TooManyRequests.retry_in(wait)
            response: Response = problems.problem(
                request, 429, limited.code, limited.message, {"errors": limited.details}
            )
        else:
            response = await call_next(request)
        # Route templates, not paths: paths carry INS, which is personal data.
        route = getattr(request.scope.get("route"), "path", "-")
        log.info(
            "%s %s %s -> %s", request.state.request_id, request.method, route, response.status_code
        )
        response.headers["X-Request-ID"] = request.state.request_id
        # A route may have set a policy of its own (the pages, the interactive docs).
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
        return response

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "Accept-Language",
            "X-Request-ID",
        ],
        expose_headers=["X-Request-ID", "Retry-After"],
    )

    for resource in RESOURCES:
        app.include_router(resource.router, prefix=API, responses=problems.DOCUMENTED)
    app.include_router(fhir.router(), prefix="/fhir")
    app.include_router(fhir_list_routes.router(), prefix="/fhir")
    app.include_router(docs.router(API))

    pages.install(app)
    app.include_router(operations.router)
    return app
