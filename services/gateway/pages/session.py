"""A visit to the pages: language, login session and form protection, kept in cookies.

Two spaces share this machinery: the patient's pages (/patient) and the professionals' (/pro). The
session is the visitor's own access token (and a patient's refresh token), in HttpOnly cookies scoped
to their space's pages (the same tokens the API takes, verified by every service). An expired patient
access token is renewed once with the refresh token, which identity rotates; a professional logs in
again through their identity provider. Forms carry a token that must match a cookie (double submit),
on top of SameSite=Strict, so another site cannot post for the visitor.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from services.common.actors import Actor, ActorKind
from services.common.errors import DmpError, Unauthenticated
from services.common.tokens import verify
from services.gateway.app_settings import of_app
from services.gateway.auth import client_address
from services.gateway.pages.i18n import Language, choose, text
from services.gateway.rpc import services

PAGES = "/patient"
PRO = "/pro"
ACCESS_COOKIE = "dmp_access"
REFRESH_COOKIE = "dmp_refresh"
CSRF_COOKIE = "dmp_csrf"
LANGUAGE_COOKIE = "dmp_lang"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Space:
    """Whose pages: where they live (every cookie is scoped to it), who may hold a session there."""

    prefix: str
    kind: ActorKind
    base_template: str

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(f"{self.prefix}/")


PATIENT_SPACE = Space(PAGES, ActorKind.PATIENT, "base.html")
PRO_SPACE = Space(PRO, ActorKind.PROFESSIONAL, "pro_base.html")
SPACES = (PATIENT_SPACE, PRO_SPACE)


def space_of(path: str) -> Space | None:
    return next((space for space in SPACES if space.owns(path)), None)


class LoginRequired(Exception):
    """No valid session: the visitor goes to the login page."""


class FormExpired(Exception):
    """A form came back without the token this visit gave it."""


@dataclass
class Cookie:
    name: str
    value: str | None  # None: delete it
    max_age: int | None = None
    samesite: Literal["strict", "lax"] = (
        "strict"  # lax: must come back on the identity provider's redirect
    )


@dataclass
class Visit:
    request: Request
    language: Language
    csrf: str
    space: Space = PATIENT_SPACE
    actor: Actor | None = None
    token: str | None = None
    cookies: list[Cookie] = field(default_factory=list)

    def t(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)

    @property
    def patient(self) -> tuple[str, str]:
        """(token, ins) of the logged-in patient, or off to the login page."""
        if self.actor is None or self.token is None or self.actor.ins is None:
            raise LoginRequired
        return self.token, self.actor.ins

    @property
    def professional(self) -> str:
        """The logged-in professional's token, or off to the login page."""
        if (
            self.actor is None
            or self.token is None
            or self.actor.kind is not ActorKind.PROFESSIONAL
        ):
            raise LoginRequired
        return self.token

    def start_session(self, tokens: dict[str, Any]) -> None:
        self.cookies.append(
            Cookie(ACCESS_COOKIE, tokens["access_token"], int(tokens["expires_in"]))
        )
        if tokens.get("refresh_token"):
            self.cookies.append(
                Cookie(REFRESH_COOKIE, tokens["refresh_token"], tokens.get("refresh_expires_in"))
            )
        self.token, self.actor = (
            tokens["access_token"],
            verify(tokens["access_token"], of_app(self.request.app)),
        )

    def end_session(self) -> None:
        self.cookies += [Cookie(ACCESS_COOKIE, None), Cookie(REFRESH_COOKIE, None)]
        self.token = self.actor = None

    def check_form(self, form: dict[str, str]) -> None:
        if not hmac.compare_digest(form.get("csrf", ""), self.csrf):
            raise FormExpired

    def finish(self, response: Response) -> Response:
        """Set what this visit changed on the way out."""
        secure = (
            self.request.url.hostname not in LOOPBACK
        )  # a browser sends Secure cookies over https only
        path = self.space.prefix
        for cookie in self.cookies:
            if cookie.value is None:
                response.delete_cookie(
                    cookie.name, path=path, secure=secure, httponly=True, samesite=cookie.samesite
                )
            else:
                response.set_cookie(
                    cookie.name,
                    cookie.value,
                    max_age=cookie.max_age,
                    path=path,
                    secure=secure,
                    httponly=True,
                    samesite=cookie.samesite,
                )
        return response

    def redirect(self, to: str, done: str | None = None) -> Response:
        """After a successful action: back to a page (303, so a reload does not post again)."""
        target = f"{self.space.prefix}{to}" + (f"?done={done}" if done else "")
        return self.finish(RedirectResponse(target, status_code=303))


def language_of(request: Request) -> Language:
    return choose(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


def visit(request: Request) -> Visit:
    """Every page's first dependency: who is visiting, in which language, with which form token."""
    return start_visit(request, space_of(request.url.path) or PATIENT_SPACE)


def start_visit(request: Request, space: Space) -> Visit:
    asked = request.query_params.get("lang")
    language = language_of(request)
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    current = Visit(request, language, csrf, space)
    if asked == language:
        current.cookies.append(Cookie(LANGUAGE_COOKIE, language, 365 * 86400))
    if CSRF_COOKIE not in request.cookies:
        current.cookies.append(Cookie(CSRF_COOKIE, csrf))
    resume(current)
    request.state.visit = current  # for the error pages
    return current


def resume(current: Visit) -> None:
    """The visitor's session from the cookies, a patient's renewed with the refresh token if the access
    expired."""
    cookies = current.request.cookies
    token = cookies.get(ACCESS_COOKIE)
    if token:
        try:
            actor = verify(token, of_app(current.request.app))
        except Unauthenticated:
            actor = None
        if actor is not None and actor.kind is current.space.kind:
            current.token, current.actor = token, actor
            return
    refresh = cookies.get(REFRESH_COOKIE)
    if not refresh:
        if token:
            current.end_session()
        return
    try:
        tokens = services().identity.refresh(
            {"refresh_token": refresh}, client_address(current.request)
        )
    except DmpError:  # used up, expired or ended: log in again
        current.end_session()
        return
    current.start_session(tokens)
