"""Logging in (one-time codes, external issuers, cards), refreshing and logging out."""

from fastapi import APIRouter, Request, Response

from services.gateway.auth import Session, Token, client_address, end_session
from services.gateway.rpc import Services
from services.identity.schemas import (
    AccessToken,
    CardChallenge,
    CardChallengeRequest,
    CardLogin,
    ExternalLogin,
    LoginCodeCheck,
    LoginCodeRequest,
    LoginCodeSent,
    RefreshRequest,
)

router = APIRouter(tags=["login"])


@router.post("/login/patient/code", status_code=202)
def request_login_code(
    request: Request, body: LoginCodeRequest, services: Services
) -> LoginCodeSent:
    """Send a 6-digit one-time code to the patient's verified email. The answer is the same whether
    or not the INS is registered. Valid 5 minutes, 5 attempts; resends throttled; rate-limited."""
    sent = services.identity.request_login_code(
        body.model_dump(mode="json"), client_address(request)
    )
    return LoginCodeSent(**sent)


@router.post("/login/patient/token")
def login_with_code(request: Request, body: LoginCodeCheck, services: Services) -> AccessToken:
    """Exchange the one-time code for an access token (15 minutes)."""
    return AccessToken(
        **services.identity.login_with_code(body.model_dump(mode="json"), client_address(request))
    )


@router.post("/login/professional/external")
def login_with_external(request: Request, body: ExternalLogin, services: Services) -> AccessToken:
    """Exchange an ID token from a trusted OpenID Connect issuer (e.g. Pro Santé Connect) for an
    access token; the issuer is trusted through DMP_TRUSTED_ISSUERS."""
    return AccessToken(
        **services.identity.login_with_external(
            body.model_dump(mode="json"), client_address(request)
        )
    )


@router.post("/login/refresh")
def refresh(request: Request, body: RefreshRequest, services: Services) -> AccessToken:
    """A patient's refresh token for a new access token and a new refresh token (the old one is
    used up; presenting it again ends the session)."""
    return AccessToken(
        **services.identity.refresh(body.model_dump(mode="json"), client_address(request))
    )


# 204: no body, hence no response model.
@router.post("/logout", status_code=204)
def logout(token: Token, session: Session, body: RefreshRequest, services: Services) -> Response:
    """End the session: its refresh token and every access token issued in it stop working at once,
    at the gateway and at every service."""
    end_session(services.identity, token, session, body.refresh_token)
    return Response(status_code=204)


@router.post("/login/card/challenge")
def card_challenge(
    request: Request, body: CardChallengeRequest, services: Services
) -> CardChallenge:
    """A single-use nonce (2 minutes) for the card (professional, counter agent) or key (system) of
    `actor_id` to sign with ES256."""
    return CardChallenge(
        **services.identity.request_card_challenge(
            body.model_dump(mode="json"), client_address(request)
        )
    )


@router.post("/login/card/token")
def login_with_card(request: Request, body: CardLogin, services: Services) -> AccessToken:
    """Exchange the card's signature of the nonce for an access token (15 minutes)."""
    return AccessToken(
        **services.identity.login_with_card(body.model_dump(mode="json"), client_address(request))
    )
