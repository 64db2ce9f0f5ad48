"""The HTTP gateway: REST for professional software and patients, in front of the services.

The gateway checks the token's signature early (a clear 401 without a round trip) but decides
nothing about access: every service verifies the token again and dossier asks consent.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Header, Path, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from services.common import schemas
from services.common.errors import DmpError, TooManyRequests
from services.common.sessions import EndedSession, SessionFeed
from services.common.settings import Settings, required
from services.common.tokens import jwks
from services.gateway import fhir, pages, problems
from services.gateway.auth import Token, client_address, log_out, verified_once
from services.gateway.bodies import BoundedBodies
from services.gateway.limits import RateLimiter
from services.gateway.rpc import services

API = "/api/v1"
log = logging.getLogger("dmp.gateway")
InsPath = Annotated[str, Path(description="the patient's INS (15 characters)", examples=["180012A00100161"])]



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
    feed = SessionFeed(Settings.from_env().amqp_uri, load_ended_sessions)
    feed.start()
    try:
        yield
    finally:
        feed.stop()


def create_app() -> FastAPI:
    settings = Settings.from_env()
    app = FastAPI(
        lifespan=following_ended_sessions,
        title="Dossier Médical Partagé API",
        version="1.0.0",
        description="REST API of the shared medical record. Errors are RFC 9457 problem details; "
        "every response carries X-Request-ID.",
        docs_url=f"{API}/docs",
        openapi_url=f"{API}/openapi.json",
        redoc_url=None,
    )
    problems.install(app)
    limit = body_limit(settings)

    limiter = RateLimiter(settings.rate_per_actor_per_minute)
    # inside request_context (added before it): its 413 and 422 get the request id and the headers
    app.add_middleware(BoundedBodies, limit=limit)

    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        wait = limiter.retry_after(rate_key(request))
        if wait:
            limited = TooManyRequests.retry_in(wait)
            response: Response = problems.problem(request, 429, limited.code, limited.message,
                                                  {"errors": limited.details})
        else:
            response = await call_next(request)
        # Route templates, not paths: paths carry INS, which is personal data.
        route = getattr(request.scope.get("route"), "path", "-")
        log.info("%s %s %s -> %s", request.state.request_id, request.method, route, response.status_code)
        response.headers["X-Request-ID"] = request.state.request_id
        for name, value in SECURITY_HEADERS.items():  # a route may have set a policy of its own (the pages)
            response.headers.setdefault(name, value)
        if not request.url.path.startswith(f"{API}/docs"):  # the interactive docs load their own scripts
            response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        return response

    app.add_middleware(
        CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Accept-Language", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )

    app.include_router(router(), prefix=API)
    app.include_router(fhir.router(), prefix="/fhir")

    pages.install(app)

    @app.get("/", include_in_schema=False, response_model=None)
    def index(request: Request) -> dict[str, str] | Response:
        if "text/html" in request.headers.get("accept", ""):  # a person's browser: the patient's pages
            return RedirectResponse(f"{pages.PAGES}/", status_code=303)
        return {"service": "Dossier Médical Partagé", "api_docs": f"{API}/docs", "openapi": f"{API}/openapi.json",
                "asyncapi": f"{API}/asyncapi.json", "patient_pages": f"{pages.PAGES}/"}

    @app.get("/.well-known/jwks.json", tags=["login"])
    def public_keys() -> dict[str, list[dict[str, str]]]:
        """The keys that verify access tokens (JWKS). Old keys stay listed until their tokens expire."""
        return jwks(required("DMP_TOKEN_PUBLIC_KEYS"))

    contract = json.loads(resources.files("services.gateway").joinpath("asyncapi.json").read_text())

    @app.get(f"{API}/asyncapi.json", tags=["operations"])
    def asyncapi() -> dict[str, Any]:
        """The bus's contract for other services (AsyncAPI 3.0): every RPC with who may call it, every event
        source and subscription (services/common/asyncapi.py)."""
        return dict(contract)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.Problem, "description": description,
             "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, description in [
        (401, "no token, or an expired or forged one"), (403, "refused: the rule is in errors"),
        (404, "not found (or hidden from the caller)"), (409, "conflict with the current state"),
        (413, "too large"), (422, "invalid input: each field and why"), (429, "rate limited: see Retry-After"),
        (503, "a dependency is unavailable; nothing was done"), (504, "a service did not answer in time"),
        (500, "an unexpected error, logged with the request id")]
}


def router() -> APIRouter:
    api = APIRouter(responses=PROBLEMS)

    @api.post("/patients", status_code=201, tags=["development enrolment"])
    def register_patient(registration: schemas.PatientRegistration) -> dict[str, str]:
        """Register a patient (development only, when DMP_DEV_LOGIN is on)."""
        return services().identity.register_patient(registration.model_dump(mode="json"))

    @api.post("/professionals", status_code=201, tags=["development enrolment"])
    def register_professional(registration: schemas.ProfessionalRegistration) -> dict[str, str]:
        """Register a professional (development only, when DMP_DEV_LOGIN is on)."""
        return services().identity.register_professional(registration.model_dump(mode="json"))

    @api.post("/agents", status_code=201, tags=["development enrolment"])
    def register_agent(registration: schemas.AgentRegistration) -> dict[str, str]:
        """Register an Assurance Maladie counter agent and their card's key (development only)."""
        return services().identity.register_agent(registration.model_dump(mode="json"))

    @api.post("/systems", status_code=201, tags=["development enrolment"])
    def register_system(registration: schemas.SystemRegistration) -> dict[str, str]:
        """Register a system client, e.g. the reimbursement feed, and its key (development only)."""
        return services().identity.register_system(registration.model_dump(mode="json"))

    @api.post("/patients/{ins}/representatives", status_code=201, tags=["development enrolment"])
    def add_representative(ins: InsPath, body: schemas.Representation) -> dict[str, str]:
        """Record an adult as legal representative of a minor (development only): they then act for the
        minor with their own login, until the minor's 18th birthday."""
        return services().identity.add_representative(ins, body.model_dump(mode="json"))

    @api.post("/dev/tokens", tags=["development enrolment"])
    def dev_token(request: schemas.DevTokenRequest) -> schemas.AccessToken:
        """A short-lived signed token for a registered actor (development only)."""
        return schemas.AccessToken(**services().identity.issue_dev_token(request.model_dump(mode="json")))

    @api.post("/login/patient/code", status_code=202, tags=["login"])
    def request_login_code(request: Request, body: schemas.LoginCodeRequest) -> schemas.LoginCodeSent:
        """Send a 6-digit one-time code to the patient's verified email. The answer is the same whether
        or not the INS is registered. Valid 5 minutes, 5 attempts; resends throttled; rate-limited."""
        sent = services().identity.request_login_code(body.model_dump(mode="json"), client_address(request))
        return schemas.LoginCodeSent(**sent)

    @api.post("/login/patient/token", tags=["login"])
    def login_with_code(request: Request, body: schemas.LoginCodeCheck) -> schemas.AccessToken:
        """Exchange the one-time code for an access token (15 minutes)."""
        return schemas.AccessToken(
            **services().identity.login_with_code(body.model_dump(mode="json"), client_address(request)))

    @api.post("/login/professional/external", tags=["login"])
    def login_with_external(request: Request, body: schemas.ExternalLogin) -> schemas.AccessToken:
        """Exchange an ID token from a trusted OpenID Connect issuer (e.g. Pro Santé Connect) for an
        access token; the issuer is trusted through DMP_TRUSTED_ISSUERS."""
        return schemas.AccessToken(
            **services().identity.login_with_external(body.model_dump(mode="json"), client_address(request)))

    @api.post("/login/refresh", tags=["login"])
    def refresh(request: Request, body: schemas.RefreshRequest) -> schemas.AccessToken:
        """A patient's refresh token for a new access token and a new refresh token (the old one is
        used up; presenting it again ends the session)."""
        return schemas.AccessToken(**services().identity.refresh(body.model_dump(mode="json"), client_address(request)))

    @api.post("/logout", status_code=204, tags=["login"])
    def logout(token: Token, body: schemas.RefreshRequest) -> Response:
        """End the session: its refresh token and every access token issued in it stop working at once,
        at the gateway and at every service."""
        log_out(token, body.refresh_token)
        return Response(status_code=204)

    @api.post("/login/card/challenge", tags=["login"])
    def card_challenge(request: Request, body: schemas.CardChallengeRequest) -> schemas.CardChallenge:
        """A single-use nonce (2 minutes) for the card (professional, counter agent) or key (system) of
        `actor_id` to sign with ES256."""
        return schemas.CardChallenge(
            **services().identity.request_card_challenge(body.model_dump(mode="json"), client_address(request)))

    @api.post("/login/card/token", tags=["login"])
    def login_with_card(request: Request, body: schemas.CardLogin) -> schemas.AccessToken:
        """Exchange the card's signature of the nonce for an access token (15 minutes)."""
        return schemas.AccessToken(
            **services().identity.login_with_card(body.model_dump(mode="json"), client_address(request)))

    @api.post("/patients/{ins}/contact", status_code=202, tags=["login"])
    def request_contact_change(token: Token, ins: InsPath, body: schemas.ContactChange) -> dict[str, Any]:
        """The patient asks to change their email: a code is sent to the new address."""
        return services().identity.request_contact_change(token, ins, body.model_dump(mode="json"))

    @api.post("/patients/{ins}/contact/verify", tags=["login"])
    def confirm_contact_change(token: Token, ins: InsPath, body: schemas.ContactCode) -> dict[str, str]:
        """The code from the new address confirms it; the old address is told of the change."""
        return services().identity.confirm_contact_change(token, ins, body.model_dump(mode="json"))

    @api.post("/dossiers", status_code=201, tags=["dossiers"])
    def open_dossier(token: Token, opening: schemas.DossierOpening) -> schemas.DossierOpened:
        """Open a patient's dossier: by the patient, or by a professional with the patient's consent."""
        return schemas.DossierOpened(**services().dossier.open(token, opening.model_dump(mode="json")))

    @api.get("/patients/{ins}/dossier", tags=["dossiers"])
    def dossier_status(token: Token, ins: InsPath) -> schemas.DossierStatus:
        """Where the dossier stands: open, closed (and until when it is kept) or being deleted. The
        patient's side only."""
        return schemas.DossierStatus(**services().dossier.status(token, ins))

    @api.post("/patients/{ins}/dossier/close", tags=["dossiers"])
    def close_dossier(token: Token, ins: InsPath) -> dict[str, str]:
        """Close the dossier (the patient or their representative): its content is inaccessible at once,
        it is archived and purged 10 years later unless reopened."""
        return services().dossier.close(token, ins)

    @api.post("/patients/{ins}/dossier/reopen", tags=["dossiers"])
    def reopen_dossier(token: Token, ins: InsPath) -> dict[str, str]:
        """Reopen a closed dossier: everything is restored as it was."""
        return services().dossier.reopen(token, ins)

    @api.post("/patients/{ins}/dossier/deletion", status_code=202, tags=["dossiers"])
    def request_deletion(token: Token, ins: InsPath) -> dict[str, str]:
        """Ask for deletion: the content becomes unreadable at once (its key is destroyed) and everything
        is purged within 3 months. This cannot be undone."""
        return services().dossier.request_deletion(token, ins)

    @api.get("/patients/{ins}/personal-space", tags=["personal space"])
    def personal_space(token: Token, ins: InsPath) -> schemas.PersonalSpaceView:
        """Blood group, allergies, pathologies, treatments, emergency contacts, trusted person, advance
        directives, organ-donation wishes. The patient's side, and professionals reading class 90."""
        return schemas.PersonalSpaceView(**services().dossier.personal_space(token, ins))

    @api.put("/patients/{ins}/personal-space", tags=["personal space"])
    def update_personal_space(
        token: Token, ins: InsPath, update: schemas.PersonalSpaceUpdate
    ) -> schemas.PersonalSpaceView:
        """Replace it (the patient or their representative), giving the version you read: 409 if it
        changed meanwhile, so that no edit is silently lost. Every version is kept."""
        result = services().dossier.update_personal_space(token, ins, update.model_dump(mode="json"))
        return schemas.PersonalSpaceView(**result)

    @api.get("/patients/{ins}/personal-space/history", tags=["personal space"])
    def personal_space_history(token: Token, ins: InsPath) -> list[schemas.PersonalSpaceView]:
        """Every version, newest first (the patient's side only)."""
        return [schemas.PersonalSpaceView(**v) for v in services().dossier.personal_space_history(token, ins)]

    @api.post("/reimbursements", tags=["reimbursement feed"])
    def add_reimbursements(token: Token, batch: schemas.ReimbursementBatch) -> schemas.ReimbursementReport:
        """The Assurance Maladie feed (a system token) sends up to 5,000 lines for many patients at once.
        Idempotent by `line_id`; each refused line is reported with its reason, the others are kept."""
        return schemas.ReimbursementReport(
            **services().dossier.add_reimbursements(token, batch.model_dump(mode="json")))

    @api.get("/patients/{ins}/reimbursements", tags=["reimbursement feed"])
    def reimbursements(
        token: Token, ins: InsPath, page: Annotated[schemas.ReimbursementSearch, Query()]
    ) -> schemas.ReimbursementLines:
        """The patient's reimbursed care ("données de remboursement", class 60), newest first, for those
        whose profession's matrix row includes class 60, and the patient."""
        return schemas.ReimbursementLines(**services().dossier.reimbursements(token, ins, page.model_dump(mode="json")))

    @api.get("/patients/{ins}/summary", tags=["documents"])
    def care_summary(token: Token, ins: InsPath) -> schemas.CareSummary:
        """The care summary, on one screen: medicines dispensed over the last 24 months grouped by substance (ATC
        class, else the drug code) with first and last dispensing and counts; exams and acts with their dates, a
        repeat within its kind's window flagged as possibly redundant (`redundancy_windows` says the windows);
        the latest document of each category; the allergies from the personal space. Under the same rules as the
        document list: the medicines and acts only for a matrix row reading class 60, the allergies for one
        reading class 90 (else listed in `withheld` with the rule); masked and invisible documents never appear.
        Traced like a list."""
        return schemas.CareSummary(**services().dossier.care_summary(token, ins))

    @api.post("/patients/{ins}/consents", status_code=201, tags=["consent"])
    def record_consent(
        token: Token, ins: InsPath, body: Annotated[schemas.Authorisation | None, Body()] = None
    ) -> schemas.ConsentRecorded:
        """The calling professional records the patient's (oral) consent to their access, optionally
        until a date."""
        payload = body.model_dump(mode="json") if body else {}
        return schemas.ConsentRecorded(**services().consent.record_consent(token, ins, payload))

    @api.post("/patients/{ins}/consents/withdrawal", tags=["consent"])
    def withdraw_consent(
        token: Token, ins: InsPath, body: Annotated[schemas.ProfessionalRef | None, Body()] = None
    ) -> dict[str, str]:
        """The patient withdraws a professional's consent (`professional_id`), or a professional their own."""
        payload = body.model_dump(mode="json") if body else {}
        return services().consent.withdraw_consent(token, ins, payload)

    @api.post("/patients/{ins}/care-team", status_code=201, tags=["consent"])
    def join_care_team(token: Token, ins: InsPath, body: schemas.CareTeamMembership) -> dict[str, Any]:
        """The calling professional joins the patient's care team, the patient having been informed."""
        return services().consent.join_care_team(token, ins, body.model_dump(mode="json"))

    @api.post("/patients/{ins}/care-team/objection", tags=["consent"])
    def object_to_care_team(token: Token, ins: InsPath, body: schemas.ProfessionalRef) -> dict[str, str]:
        """The patient objects to a care team member's access; it ends now."""
        return services().consent.object_to_care_team(token, ins, body.model_dump(mode="json"))

    @api.post("/patients/{ins}/medecin-traitant", status_code=202, tags=["consent"],
              responses={201: {"description": "declared by the Assurance Maladie feed (a system token)"}})
    def declare_medecin_traitant(
        token: Token, ins: InsPath, body: schemas.MedecinTraitantDeclaration, response: Response
    ) -> dict[str, Any]:
        """A médecin proposes themselves as médecin traitant: `202` with status `proposed`, which grants
        nothing until the patient confirms it (`.../medecin-traitant/confirm`). The Assurance Maladie feed
        declares the médecin the patient declared to their fund (`professional_id`): `201`, `declared`."""
        result: dict[str, Any] = services().consent.declare_medecin_traitant(
            token, ins, body.model_dump(mode="json", exclude_none=True))
        if result.get("status") == "declared":
            response.status_code = 201
        return result

    @api.post("/patients/{ins}/medecin-traitant/confirm", tags=["consent"])
    def confirm_medecin_traitant(token: Token, ins: InsPath, body: schemas.ProfessionalRef) -> dict[str, Any]:
        """The patient (or their legal representative) confirms a médecin's pending proposal: they become
        the médecin traitant now; the patient and the previous médecin traitant are told."""
        return services().consent.confirm_medecin_traitant(token, ins, body.model_dump(mode="json"))

    @api.delete("/patients/{ins}/medecin-traitant", tags=["consent"])
    def end_medecin_traitant(token: Token, ins: InsPath) -> dict[str, str]:
        """The patient ends the current médecin traitant (the history is kept)."""
        return services().consent.end_medecin_traitant(token, ins)

    @api.post("/patients/{ins}/blocks", tags=["consent"])
    def block(token: Token, ins: InsPath, body: schemas.ProfessionalRef) -> dict[str, Any]:
        """The patient blocks a professional: nothing is visible to them, emergency access included.
        Blocking the médecin traitant is refused (`409 R-BLOCK-MT`): change it first."""
        return services().consent.block(token, ins, body.model_dump(mode="json"))

    @api.delete("/patients/{ins}/blocks/{professional_id}", tags=["consent"])
    def unblock(token: Token, ins: InsPath, professional_id: str) -> dict[str, Any]:
        return services().consent.unblock(token, ins, {"professional_id": professional_id})

    @api.put("/patients/{ins}/emergency-oppositions", tags=["consent"])
    def emergency_oppositions(token: Token, ins: InsPath, body: schemas.EmergencyOppositions) -> dict[str, bool]:
        """The patient opposes (or allows) break-glass access and the SAMU regulator's, separately."""
        result: dict[str, bool] = services().consent.set_emergency_oppositions(
            token, ins, body.model_dump(mode="json"))
        return result

    @api.post("/patients/{ins}/occupational-consents", status_code=201, tags=["consent"])
    def authorise_occupational(token: Token, ins: InsPath, body: schemas.ProfessionalRef) -> dict[str, str]:
        """The patient's explicit consent to an occupational doctor (without it they see nothing)."""
        result: dict[str, str] = services().consent.authorise_occupational_doctor(
            token, ins, body.model_dump(mode="json"))
        return result

    @api.post("/patients/{ins}/emergency-access", status_code=201, tags=["consent"])
    def break_glass(token: Token, ins: InsPath, body: schemas.BreakGlass) -> dict[str, Any]:
        """Emergency access ("bris de glace"), with a reason: read and add for one hour (the SAMU
        regulator: read only), refused if the patient opposed it or blocked the caller. The patient is
        told at once; every response under it says `"emergency": true`."""
        return services().consent.break_glass(token, ins, body.model_dump(mode="json"))

    @api.get("/patients/{ins}/notification-preferences", tags=["notifications"])
    def notification_preferences(token: Token, ins: InsPath) -> schemas.NotificationPreferences:
        return schemas.NotificationPreferences(**services().notify.preferences(token, ins))

    @api.put("/patients/{ins}/notification-preferences", tags=["notifications"])
    def set_notification_preferences(
        token: Token, ins: InsPath, body: schemas.NotificationPreferences
    ) -> schemas.NotificationPreferences:
        """Email, SMS or both; routine events at once or in a daily digest (emergency access and a
        professional's first access are always sent at once); language."""
        return schemas.NotificationPreferences(
            **services().notify.set_preferences(token, ins, body.model_dump(mode="json")))

    @api.get("/patients/{ins}/access-settings", tags=["consent"])
    def access_settings(token: Token, ins: InsPath) -> dict[str, Any]:
        """For the patient's side: médecin traitant, blocks, oppositions, and who is authorised."""
        return services().consent.settings(token, ins)

    @api.post("/patients/{ins}/documents", status_code=201, tags=["documents"])
    def add_document(
        token: Token, ins: InsPath, submission: Annotated[schemas.DocumentSubmission, Body()], response: Response,
        idempotency_key: Annotated[str | None, Header(description="retry safely: same key and body, same document")]
        = None,
    ) -> schemas.DocumentMetadata:
        """Deposit a document (metadata and base64 content) in the patient's dossier. Send an
        `Idempotency-Key` so that a retried upload never creates a second document."""
        result = services().dossier.add_document(token, ins, submission.model_dump(mode="json"), idempotency_key)
        if result.pop("replayed", False):
            response.headers["Idempotent-Replayed"] = "true"
        return schemas.DocumentMetadata(**result)

    @api.get("/patients/{ins}/documents", tags=["documents"])
    def search_documents(
        token: Token, ins: InsPath, search: Annotated[schemas.DocumentSearch, Query()]
    ) -> schemas.DocumentList:
        """The documents the caller may see, newest first, filtered by category (repeat the parameter
        for several), type, author, date of care, deposit time, last change, security label, the document
        a version replaces and status (current by default; archived, replaced). `total` counts only what the
        caller may see; pass `next_cursor` back as `cursor` for more."""
        return schemas.DocumentList(**services().dossier.search(token, ins, search.model_dump(mode="json")))

    @api.post("/patients/{ins}/documents/{document_id}/replacement", status_code=201, tags=["documents"])
    def replace_document(
        token: Token, ins: InsPath, document_id: str, submission: Annotated[schemas.DocumentSubmission, Body()]
    ) -> schemas.DocumentMetadata:
        """A new version by the document's author; the old one stays in history as `replaced`."""
        result = services().dossier.replace_document(token, ins, document_id, submission.model_dump(mode="json"))
        return schemas.DocumentMetadata(**result)

    @api.post("/patients/{ins}/documents/{document_id}/archive", tags=["documents"])
    def archive_document(token: Token, ins: InsPath, document_id: str) -> schemas.DocumentMetadata:
        """Hide from default searches (the author or the patient); `/unarchive` brings it back."""
        return schemas.DocumentMetadata(**services().dossier.archive_document(token, ins, document_id, True))

    @api.post("/patients/{ins}/documents/{document_id}/unarchive", tags=["documents"])
    def unarchive_document(token: Token, ins: InsPath, document_id: str) -> schemas.DocumentMetadata:
        return schemas.DocumentMetadata(**services().dossier.archive_document(token, ins, document_id, False))

    @api.delete("/patients/{ins}/documents/{document_id}", tags=["documents"])
    def delete_document(token: Token, ins: InsPath, document_id: str) -> schemas.DocumentMetadata:
        """Delete (its author only; the patient deletes what they added and masks the rest)."""
        return schemas.DocumentMetadata(**services().dossier.delete_document(token, ins, document_id))

    @api.post("/patients/{ins}/documents/{document_id}/release", tags=["documents"])
    def release_document(token: Token, ins: InsPath, document_id: str) -> schemas.DocumentMetadata:
        """The author makes a document invisible to the patient visible (after the announcement
        consultation); without it, it becomes visible one month after its deposit."""
        return schemas.DocumentMetadata(**services().dossier.release_document(token, ins, document_id))

    @api.put("/patients/{ins}/documents/{document_id}/visibility", tags=["documents"])
    def set_visibility(
        token: Token, ins: InsPath, document_id: str, change: schemas.VisibilityChange
    ) -> schemas.DocumentMetadata:
        """The patient masks a document from professionals (all but its author) or unmasks it."""
        result = services().dossier.set_visibility(token, ins, document_id, change.model_dump(mode="json"))
        return schemas.DocumentMetadata(**result)

    @api.get("/patients/{ins}/documents/{document_id}", tags=["documents"])
    def read_document(token: Token, ins: InsPath, document_id: str) -> schemas.DocumentWithContent:
        """A document's metadata and content (base64). The read is traced before it is served."""
        return schemas.DocumentWithContent(**services().dossier.read_document(token, ins, document_id))

    @api.get("/patients/{ins}/documents/{document_id}/content", tags=["documents"],
             response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
    def read_content(token: Token, ins: InsPath, document_id: str) -> Response:
        """The document's bytes, with its format as content type."""
        result: dict[str, Any] = services().dossier.read_document(token, ins, document_id)
        return Response(base64.b64decode(result["content"]), media_type=result["document"]["format"])

    @api.get("/patients/{ins}/history", tags=["history"])
    def history(token: Token, ins: InsPath, query: Annotated[schemas.HistoryQuery, Query()]) -> schemas.History:
        """Who did what in the dossier, newest first, with plain labels: the whole history for the
        patient's side and the médecin traitant, the traces of their own documents for an author.
        Filters: dates, professional, action; `next_cursor` for more."""
        return schemas.History(**services().audit.history(token, ins, {**query.model_dump(mode="json"),
                                                                        "format": "json"}))

    @api.get("/patients/{ins}/history/fhir", tags=["history"])
    def history_fhir(token: Token, ins: InsPath, query: Annotated[schemas.HistoryQuery, Query()]) -> dict[str, Any]:
        """The same history as a FHIR R4 Bundle of AuditEvent resources."""
        result: dict[str, Any] = services().audit.history(token, ins, {**query.model_dump(mode="json"),
                                                                       "format": "fhir"})
        return result

    return api
