"""Signed access tokens (JWT, EdDSA over Ed25519).

identity signs with the private key in DMP_TOKEN_SIGNING_KEY; every service verifies locally with
the public keys in DMP_TOKEN_PUBLIC_KEYS, so no service ever trusts a bare user id. Keys carry a
key id (`kid`) so that a new key can be published before it is used and an old one kept until its
last token expires.

Key formats: services/common/keys.py. `python -m services.common.devsecrets` prints a set.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from services.common.actors import Actor
from services.common.clock import utcnow
from services.common.errors import ServiceUnavailable, Unauthenticated
from services.common.ids import new_id
from services.common.keys import SigningKey, b64e
from services.common.principals import Kind, kind_of
from services.common.sessions import ENDED
from services.common.settings import Secret, Settings
from services.common.signatures import BusKeys, principal_of_kid

ALGORITHM = "EdDSA"
CLOCK_SKEW_SECONDS = 30  # tolerated difference between the issuer's clock and a verifier's


def jwks(public_keys: dict[str, Ed25519PublicKey]) -> dict[str, list[dict[str, str]]]:
    """The public keys as a JSON Web Key Set (RFC 7517/8037), for verifiers outside this system."""
    keys = []
    for kid, key in public_keys.items():
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        keys.append(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64e(raw),
                "kid": kid,
                "alg": ALGORITHM,
                "use": "sig",
            }
        )
    return {"keys": keys}


def issue(
    actor: Actor, key: SigningKey, settings: Settings, now: datetime, session_id: str | None = None
) -> str:
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


def verify(token: object, settings: Settings) -> Actor:
    """Return the actor a token speaks for, or raise Unauthenticated saying why."""
    return verified(token, settings).actor


def verified(token: object, settings: Settings) -> Verified:
    """The actor a token speaks for, with its session; Unauthenticated saying why it is refused. Inside a
    service's worker, an internal credential addressed to that service is taken too (see `credential`)."""
    if not isinstance(token, str) or not token:
        raise Unauthenticated("an access token is required")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthenticated("the access token is malformed") from None
    if header.get("typ") == CREDENTIAL_TYPE:
        return _credential_verified(token, header.get("kid"), settings.bus_keys())
    keys = settings.public_keys(Secret.TOKEN_PUBLIC_KEYS)
    kid = header.get("kid")
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
    return _session(claims, "the access token", "the access token is not valid")


def _session(claims: dict[str, Any], what: str, invalid: str) -> Verified:
    """The actor and live session that verified claims speak for (of an access token or a credential)."""
    try:
        actor = Actor.model_validate(claims.get("act"))
    except ValidationError:
        raise Unauthenticated(f"{what} speaks for an actor of a refused kind") from None
    if actor.id != claims["sub"] or not isinstance(claims["sid"], str):
        raise Unauthenticated(invalid)
    ENDED.check(claims["sid"])
    return Verified(actor, claims["sid"], datetime.fromtimestamp(claims["exp"], UTC))


# Internal credentials. The user's access token stops at the gateway: what a service receives is a
# credential of a minute, naming the actor and the session, signed by the caller (the gateway, or a service
# calling on) with its bus key (services/common/signatures.py) and addressed to one service. It is worthless
# at the gateway, which takes identity's tokens only, and at any other service: whoever copies one off the
# bus can replay it nowhere but where it was going, for the minute it lasts, and not past a logout.

CREDENTIAL_TYPE = "dmp-credential"
CREDENTIAL_SECONDS = 60
_receiver: ContextVar[str | None] = ContextVar("dmp_credential_receiver", default=None)


def receiving(service: str) -> None:
    """Said by each worker of `service` before it runs (services/common/health.py): whom credentials it
    verifies must be addressed to."""
    _receiver.set(service)


@contextlib.contextmanager
def received_by(service: str) -> Iterator[None]:
    """`receiving(service)` for the duration of a block (outside a worker: the tests)."""
    token = _receiver.set(service)
    try:
        yield
    finally:
        _receiver.reset(token)


def audience(service: str) -> str:
    return f"dmp-bus:{service}"


def credential(
    session: Verified, caller: str, callee: str, settings: Settings, now: datetime | None = None
) -> str:
    """A credential for `callee`, from `caller`, speaking for the session's actor; it ends with the session's
    access token if that comes first."""
    key = settings.bus_keys().signer(caller)
    now = now or utcnow()
    expires = min(session.expires_at, now + timedelta(seconds=CREDENTIAL_SECONDS))
    claims = {
        "iss": audience(caller),
        "aud": audience(callee),
        "sub": session.actor.id,
        "sid": session.session_id,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
        "act": session.actor.model_dump(mode="json", exclude_none=True),
    }
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": CREDENTIAL_TYPE},
    )


def _credential_verified(token: str, kid: object, keys: BusKeys) -> Verified:
    receiver = _receiver.get()
    if receiver is None:
        raise Unauthenticated("an internal credential is not an access token")
    key = keys.public.get(kid) if isinstance(kid, str) else None
    caller = principal_of_kid(kid) if isinstance(kid, str) else ""
    if key is None or kind_of(caller) not in (Kind.SERVICE, Kind.GATEWAY):
        raise Unauthenticated("the credential was signed by an unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience(receiver),
            issuer=audience(caller),
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud", "jti", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("the credential is not valid here") from None
    return _session(claims, "the credential", "the credential is not valid here")


def onward(args: tuple[Any, ...], caller: str, callee: str, settings: Settings) -> tuple[Any, ...]:
    """`args` of a call from `caller` to `callee`, each access token or credential `caller` may act on
    replaced by a credential for `callee`; anything else (a token that does not verify included: the callee
    refuses it as before) goes as it is."""
    replaced = []
    for arg in args:
        if isinstance(arg, str) and arg.count(".") == 2 and len(arg) > 64:
            with contextlib.suppress(Unauthenticated, ServiceUnavailable):
                arg = credential(verified(arg, settings), caller, callee, settings)
        replaced.append(arg)
    return tuple(replaced)
