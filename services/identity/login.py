"""Login rules without I/O: one-time codes for patients, card challenges for professionals.

One-time code: 6 digits from the OS's CSPRNG, stored only as an HMAC under a server key (a leaked
database does not give the codes, and 10^6 guesses need the key), valid 5 minutes, 5 attempts.
Card challenge: a random nonce the professional's card signs (ES256), single-use, valid 2 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.identity.records import CardNonce, LoginCode, RefreshToken

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
NONCE_TTL = timedelta(minutes=2)
REFRESH_TTL = timedelta(hours=12)  # a patient's session; each refresh token is single use


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `window` for one key."""

    limit: int
    window: timedelta

    def bucket(self, key: str, now: datetime) -> str:
        seconds = int(self.window.total_seconds())
        return f"{key}|{int(now.timestamp()) // seconds}"

    def exceeded(self, count: int) -> bool:
        """`count` is the bucket's count with this request."""
        return count > self.limit

    def retry_after(self, now: datetime) -> int:
        seconds = int(self.window.total_seconds())
        return seconds - int(now.timestamp()) % seconds


CODES_PER_PATIENT = RateLimit(limit=5, window=timedelta(minutes=15))


def logins_per_address(limit: int) -> RateLimit:
    """Per client address; generous by default because a hospital's staff share one NAT address."""
    return RateLimit(limit=limit, window=timedelta(minutes=15))


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(key: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(key, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, challenge_id: str, code: str, digest: str) -> bool:
    return hmac.compare_digest(code_digest(key, challenge_id, code), digest)


def ins_reference(key: bytes, ins: str) -> str:
    """A keyed hash of the INS: rate-limit counters must not hold the number itself."""
    return hmac.new(key, f"ins:{ins}".encode(), hashlib.sha256).hexdigest()[:32]


def resend_throttled(latest: LoginCode | None, address: str | None, now: datetime) -> bool:
    """No new code while the one sent moments ago to the same address is still valid."""
    return (
        latest is not None
        and not latest.consumed
        and latest.created_at > now - RESEND_AFTER
        and latest.address == address
    )


def code_open(code: LoginCode | None, now: datetime) -> bool:
    """A code that may still be tried: not used, not locked, not expired."""
    return code is not None and not code.consumed and code.expires_at > now


def locks(attempts: int) -> bool:
    """A wrong code at the last attempt locks the code: a new one is needed."""
    return attempts >= CODE_MAX_ATTEMPTS


def nonce_open(nonce: CardNonce | None, actor_id: str, now: datetime) -> bool:
    """A card challenge issued to this actor, not expired (it is consumed once this holds)."""
    return nonce is not None and nonce.actor_id == actor_id and nonce.expires_at > now


def refresh_open(token: RefreshToken | None, now: datetime) -> bool:
    """A refresh token not expired. A used one is not refused here: presenting it again is a replay,
    which ends its session (services/identity/service.py)."""
    return token is not None and token.expires_at > now


def ends_with_logout(token: RefreshToken | None, actor_id: str, session_id: str) -> bool:
    """The refresh token presented at logout is the caller's own and of another session: that session
    ends too (a token of someone else's ends nothing)."""
    return token is not None and token.patient_id == actor_id and token.family != session_id


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_digest(token: str) -> str:
    """Refresh tokens are 256 random bits: a plain hash is enough to keep the stored form useless."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_nonce() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def card_signature_valid(pem: str, nonce: str, signature_b64url: str) -> bool:
    """ES256 as in JOSE: the raw 64-byte r||s signature of the nonce, base64url."""
    key = load_pem_public_key(pem.encode())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False  # no ES256 signature verifies with a key of another kind
    try:
        raw = base64.urlsafe_b64decode(signature_b64url + "=" * (-len(signature_b64url) % 4))
    except ValueError:
        return False
    if len(raw) != 64:
        return False
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    try:
        key.verify(signature, nonce.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
