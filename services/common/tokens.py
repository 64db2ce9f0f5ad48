"""Signed access tokens (JWT, EdDSA over Ed25519).

identity signs with the private key in DMP_TOKEN_SIGNING_KEY; every service verifies locally with
the public keys in DMP_TOKEN_PUBLIC_KEYS, so no service ever trusts a bare user id. Keys carry a
key id (`kid`) so that a new key can be published before it is used and an old one kept until its
last token expires.

Key formats: services/common/keys.py. `python -m services.common.devsecrets` prints a set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from services.common.actors import Actor
from services.common.errors import Unauthenticated
from services.common.ids import new_id
from services.common.keys import SigningKey, b64e, parse_public_keys
from services.common.sessions import ENDED
from services.common.settings import Settings, required

ALGORITHM = "EdDSA"
CLOCK_SKEW_SECONDS = 30  # tolerated difference between the issuer's clock and a verifier's


@lru_cache(maxsize=4)
def _public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    return parse_public_keys(text)


def jwks(text: str) -> dict[str, list[dict[str, str]]]:
    """The public keys as a JSON Web Key Set (RFC 7517/8037), for verifiers outside this system."""
    keys = []
    for kid, key in parse_public_keys(text).items():
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        keys.append({"kty": "OKP", "crv": "Ed25519", "x": b64e(raw), "kid": kid, "alg": ALGORITHM, "use": "sig"})
    return {"keys": keys}


def issue(actor: Actor, key: SigningKey, settings: Settings, now: datetime, session_id: str | None = None) -> str:
    """An access token for `actor`, in session `session_id` (a new session unless given): ending the
    session refuses every access token issued in it (services/common/sessions.py)."""
    claims = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": actor.id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.token_ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
        "sid": session_id or new_id("ses"),
        "act": actor.model_dump(mode="json", exclude_none=True),
    }
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


@dataclass(frozen=True)
class Verified:
    actor: Actor
    session_id: str
    expires_at: datetime


def verify(token: object, settings: Settings | None = None) -> Actor:
    """Return the actor a token speaks for, or raise Unauthenticated saying why."""
    return verified(token, settings).actor


def verified(token: object, settings: Settings | None = None) -> Verified:
    """The actor a token speaks for, with its session; Unauthenticated saying why it is refused."""
    settings = settings or Settings.from_env()
    if not isinstance(token, str) or not token:
        raise Unauthenticated("an access token is required")
    keys = _public_keys(required("DMP_TOKEN_PUBLIC_KEYS"))
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise Unauthenticated("the access token is malformed") from None
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise Unauthenticated("the access token was signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "sid"]},
            leeway=CLOCK_SKEW_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired") from None
    except jwt.ImmatureSignatureError:
        raise Unauthenticated("the access token is not valid yet") from None
    except jwt.PyJWTError:
        raise Unauthenticated("the access token is not valid") from None
    try:
        actor = Actor.model_validate(claims.get("act"))
    except ValidationError:
        raise Unauthenticated("the access token speaks for an actor of a refused kind") from None
    if actor.id != claims["sub"] or not isinstance(claims["sid"], str):
        raise Unauthenticated("the access token is not valid")
    ENDED.check(claims["sid"])
    return Verified(actor, claims["sid"], datetime.fromtimestamp(claims["exp"], UTC))


def signing_key_from_env() -> SigningKey:
    return SigningKey.parse(required("DMP_TOKEN_SIGNING_KEY"))
