"""The web pages, served by the gateway: the patient's under /patient, the professionals' under /pro
(pro_routes.py): server-rendered HTML forms, no script, no asset from elsewhere. They call the same
services with the visitor's own token as the API does, so the same rules and the same refusals
apply; errors become pages, never stack traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from services.common.rulebook import explain
from services.gateway.pages import pro_routes, routes
from services.gateway.pages.session import (
    CSRF_COOKIE,
    PAGES,
    PATIENT_SPACE,
    PRO,
    FormExpired,
    LoginRequired,
    Visit,
    language_of,
    space_of,
)

__all__ = ["PAGES", "PRO", "error_page", "install"]


def install(app: FastAPI) -> None:
    app.include_router(routes.router(), prefix=PAGES)
    app.include_router(pro_routes.router(), prefix=PRO)
    app.mount(
        f"{PAGES}/static",
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="pages-static",
    )

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, _: LoginRequired) -> Response:
        return to_login(request)

    @app.exception_handler(pro_routes.PatientNotChecked)
    def patient_not_checked(request: Request, _: pro_routes.PatientNotChecked) -> Response:
        return pro_routes.back_to_search(current_visit(request))

    @app.exception_handler(FormExpired)
    def form_expired(request: Request, _: FormExpired) -> Response:
        return error_page(request, 403, "form_expired", "", {})


def to_login(request: Request) -> Response:
    """The session is over: its cookies go (as the visit set them) and the visitor logs in again."""
    current = current_visit(request)
    current.end_session()
    return current.redirect("/login")


def current_visit(request: Request) -> Visit:
    """The visit the page's dependency built, or a fresh one (the error came before it)."""
    known = getattr(request.state, "visit", None)
    if isinstance(known, Visit):
        return known
    return Visit(
        request,
        language_of(request),
        request.cookies.get(CSRF_COOKIE, ""),
        space_of(request.url.path) or PATIENT_SPACE,
    )


def error_page(
    request: Request, status: int, code: str, detail: str, extra: dict[str, Any]
) -> Response:
    """A refusal or failure as a page in the visitor's language, with the request id for support."""
    if status == 401:  # the session ended (logout elsewhere, account suspended): log in again
        return to_login(request)
    current = current_visit(request)
    index = 0 if current.language == "fr" else 1
    reasons = []
    for item in extra.get("errors", []):
        if "rule" in item:
            reasons.append(explain(item["rule"])[index])
        elif "field" in item and "reason" in item:
            reasons.append(f"{item['field']}: {item['reason']}")
    if status >= 500:
        summary = current.t("error.unavailable" if status in (503, 504) else "error.unexpected")
    elif code == "form_expired":
        summary = current.t("error.form")
    else:
        key = f"code.{code}"
        if code == "http_error" and status == 404:
            key = "code.not_found"
        summary = current.t(key) if key in routes.KNOWN_CODES else detail
        if not reasons and detail and current.language == "en":
            reasons.append(detail)
    return routes.render(
        current,
        "error.html",
        status,
        summary=summary,
        reasons=reasons,
        request_id=getattr(request.state, "request_id", None),
    )
