"""The bearer token of a request, checked at the door (a clear 401 early; every service checks again).

Its signature is checked once per request: the rate limiter (which counts a request against its actor), the
routes' `Token` and `Session` dependencies and the credentials the services are handed (rpc.RequestCluster)
share the answer kept on `request.state`, refusals included.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.errors import Unauthenticated
from services.common.sessions import ENDED, EndedSession, session_until
from services.common.settings import Settings
from services.common.tokens import CLOCK_SKEW_SECONDS, Verified, verified
from services.gateway.app_settings import of_app
from services.gateway.refusals import authentication_refused, trace_refusal
from services.gateway.rpc import VERIFIED_TOKENS, services
from services.identity.client import IdentityClient


def client_address(request: Request) -> str:
    """Where the request came from (rate limits, login throttles, refusal traces). Behind the ingress,
    uvicorn's forwarded-headers handling puts the real client here."""
    return request.client.host if request.client else "unknown"


def verified_once(request: Request, token: str) -> Verified:
    """The session `token` speaks for, verified at its first use in this request and remembered after. A
    refusal is remembered too; not a ServiceUnavailable (the ended sessions not loaded yet), which the
    route's own use may find gone."""
    answers: dict[str, Verified | Unauthenticated] | None = getattr(
        request.state, VERIFIED_TOKENS, None
    )
    if answers is None:
        answers = {}
        setattr(request.state, VERIFIED_TOKENS, answers)
    if token not in answers:
        try:
            answers[token] = verified(token, of_app(request.app))
        except Unauthenticated as refused:
            answers[token] = refused
    answer = answers[token]
    if isinstance(answer, Unauthenticated):
        raise answer
    return answer


bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


def presented_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an access token is required (Authorization: Bearer ...)")
    return credentials.credentials


def verified_session(request: Request, token: Annotated[str, Depends(presented_token)]) -> Verified:
    try:
        return verified_once(request, token)
    except Unauthenticated as refused:
        # A token was presented and is forged, expired, unsigned, for another audience or of a refused kind.
        route = getattr(request.scope.get("route"), "path", "-")
        request_id = getattr(request.state, "request_id", "-")
        trace_refusal(
            of_app(request.app),
            authentication_refused(refused.message, route, request_id, client_address(request)),
        )
        raise


def access_token(
    token: Annotated[str, Depends(presented_token)],
    _: Annotated[Verified, Depends(verified_session)],
) -> str:
    """The token, once verified: the services are handed it (as credentials of their own) and check it again."""
    return token


Token = Annotated[str, Depends(access_token)]
Session = Annotated[Verified, Depends(verified_session)]


def log_out(settings: Settings, token: str, refresh_token: str | None) -> None:
    """End the session of `token` (the pages' logout, whose token comes from a cookie)."""
    end_session(services().identity, token, verified(token, settings), refresh_token)


def end_session(
    identity: IdentityClient, token: str, session: Verified, refresh_token: str | None
) -> None:
    """End the session at identity, which tells every verifier; this gateway refuses its tokens at once,
    before the caller's next request can arrive."""
    identity.logout(token, {"refresh_token": refresh_token} if refresh_token else {})
    ENDED.end(
        [EndedSession(session.session_id, session_until(session.expires_at, 0, CLOCK_SKEW_SECONDS))]
    )
