"""The bearer token of a request, checked at the door (a clear 401 early; every service checks again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.errors import Unauthenticated
from services.common.sessions import ENDED, EndedSession, session_until
from services.common.tokens import CLOCK_SKEW_SECONDS, verified, verify
from services.gateway.refusals import authentication_refused, trace_refusal
from services.gateway.rpc import services


def client_address(request: Request) -> str:
    """Where the request came from (rate limits, login throttles, refusal traces). Behind the ingress,
    uvicorn's forwarded-headers handling puts the real client here."""
    return request.client.host if request.client else "unknown"


bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


def access_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an access token is required (Authorization: Bearer ...)")
    try:
        verify(credentials.credentials)
    except Unauthenticated as refused:
        # A token was presented and is forged, expired, unsigned, for another audience or of a refused kind.
        route = getattr(request.scope.get("route"), "path", "-")
        request_id = getattr(request.state, "request_id", "-")
        trace_refusal(authentication_refused(refused.message, route, request_id, client_address(request)))
        raise
    return credentials.credentials


Token = Annotated[str, Depends(access_token)]


def log_out(token: str, refresh_token: str | None) -> None:
    """End the session at identity, which tells every verifier; this gateway refuses its tokens at once,
    before the caller's next request can arrive."""
    session = verified(token)
    services().identity.logout(token, {"refresh_token": refresh_token} if refresh_token else {})
    ENDED.end([EndedSession(session.session_id, session_until(session.expires_at, 0, CLOCK_SKEW_SECONDS))])
