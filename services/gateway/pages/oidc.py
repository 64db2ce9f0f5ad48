"""The professionals' web login: OpenID Connect's authorization-code flow with PKCE (S256), state and
nonce, against a trusted issuer of DMP_TRUSTED_ISSUERS (Pro Santé Connect, or deploy/local/oidc.py).

The gateway is only the flow's client: it starts the login (a flow cookie holds state, nonce and code
verifier), checks the answer that comes back (state, issuer), exchanges the code at the issuer's token
endpoint, and hands the ID token with its nonce to identity, which verifies it exactly as for the API
(services/identity/external.py) and issues the same access token as the card login. Every refusal is a
`LoginRefused` naming why; none is a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx

from services.common.issuers import TrustedIssuer
from services.common.settings import Settings

FLOW_COOKIE = "dmp_pro_login"
FLOW_SECONDS = 600  # a login left at the identity provider longer than this starts again
CALLBACK = "/login/callback"
REFUSALS = (
    "no_login",
    "state",
    "issuer",
    "provider",
    "code",
    "token",
    "unavailable",
    "misconfigured",
)


class LoginRefused(Exception):
    """The login cannot go on; `reason` is one of REFUSALS (the page says it in the visitor's words)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Flow:
    """One login in progress, kept in the visitor's browser (an HttpOnly cookie) until the answer comes back."""

    issuer: str
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    started: float

    @classmethod
    def start(cls, issuer: str, redirect_uri: str, now: float) -> Flow:
        return cls(
            issuer,
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(48),
            redirect_uri,
            now,
        )

    @property
    def challenge(self) -> str:
        return s256(self.verifier)

    def cookie(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode()

    @classmethod
    def from_cookie(cls, value: str | None, now: float) -> Flow:
        if not value or len(value) > 2048:
            raise LoginRefused("no_login")
        try:
            flow = cls(**json.loads(base64.urlsafe_b64decode(value.encode())))
        except (ValueError, TypeError):
            raise LoginRefused("no_login") from None
        if not isinstance(flow.started, int | float) or not 0 <= now - flow.started <= FLOW_SECONDS:
            raise LoginRefused("no_login")
        return flow


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier (RFC 7636 §4.2)."""
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


def login_issuer(settings: Settings) -> TrustedIssuer:
    """The issuer the pages log in with: DMP_PRO_OIDC_ISSUER, else the first trusted one; always a trusted one."""
    trusted = settings.trusted_issuers
    chosen = settings.pro_oidc_issuer or next(iter(trusted), "")
    if chosen not in trusted:
        raise LoginRefused(
            "misconfigured", "DMP_PRO_OIDC_ISSUER must be one of DMP_TRUSTED_ISSUERS"
        )
    return trusted[chosen]


@lru_cache(maxsize=8)
def _discovery(issuer: str) -> dict[str, Any]:
    try:
        answer = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError):
        raise LoginRefused("unavailable") from None
    if document.get("issuer") != issuer or not all(
        isinstance(document.get(k), str) for k in ("authorization_endpoint", "token_endpoint")
    ):
        raise LoginRefused("misconfigured", "the issuer's discovery document does not name it")
    return document


def discovery(issuer: str) -> dict[str, Any]:
    """The issuer's discovery document (cached once fetched; a failure is not cached)."""
    return _discovery(issuer)


def authorization_url(issuer: TrustedIssuer, flow: Flow) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": issuer.audience,
            "redirect_uri": flow.redirect_uri,
            "scope": "openid",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": flow.challenge,
            "code_challenge_method": "S256",
            "acr_values": "eidas1",
        }
    )
    endpoint = str(discovery(issuer.issuer)["authorization_endpoint"])
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def check_answer(flow: Flow, answer: dict[str, str]) -> str:
    """The authorization code from the issuer's answer, once it is known to answer this login: the state
    must be this browser's, the issuer (RFC 9207 `iss`) the one asked. An error answer says why."""
    if not hmac.compare_digest(answer.get("state", ""), flow.state):
        raise LoginRefused("state")
    if "iss" in answer and answer["iss"] != flow.issuer:
        raise LoginRefused("issuer")
    if answer.get("error"):
        raise LoginRefused("provider", answer.get("error_description") or answer["error"])
    code = answer.get("code", "")
    if not code or len(code) > 512:
        raise LoginRefused("code")
    return code


def exchange(settings: Settings, issuer: TrustedIssuer, flow: Flow, code: str) -> str:
    """The ID token for the code, from the issuer's token endpoint (with the PKCE verifier)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "client_id": issuer.audience,
        "code_verifier": flow.verifier,
    }
    secret = settings.pro_oidc_client_secret
    auth = (issuer.audience, secret) if secret else None
    try:
        answer = httpx.post(
            str(discovery(issuer.issuer)["token_endpoint"]), data=form, auth=auth, timeout=10
        )
    except httpx.HTTPError:
        raise LoginRefused("unavailable") from None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    if answer.status_code != 200:
        raise LoginRefused(
            "code", str(body.get("error_description") or body.get("error") or answer.status_code)
        )
    id_token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(id_token, str) or not id_token:
        raise LoginRefused("token", "the token endpoint gave no ID token")
    return id_token


def now() -> float:
    return time.time()
