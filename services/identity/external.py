"""Trusted external OpenID Connect issuers (the national professional identity provider, Pro Santé
Connect, works this way): an ID token they signed is exchanged for our access token.

Configured by DMP_TRUSTED_ISSUERS, a JSON list of
    {"issuer": "...", "jwks_url": "...", "audience": "...", "rpps_claim": "SubjectNameID"}
The RPPS is read from `rpps_claim`; PSC's national identifier is "8" + RPPS, which is accepted too.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

import jwt

from services.common.errors import Unauthenticated
from services.common.issuers import TrustedIssuer

ALGORITHMS = ["RS256", "ES256", "PS256", "EdDSA"]


@lru_cache(maxsize=16)
def _keys(jwks_url: str) -> jwt.PyJWKClient:
    # Cached per issuer: keys are fetched once and again only for an unknown kid (issuer rotation).
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=10)


def rpps_from_id_token(
    trusted: dict[str, TrustedIssuer], id_token: str, nonce: str | None = None
) -> str:
    """The RPPS an external ID token vouches for, or Unauthenticated saying why not. A web login
    (authorization-code flow) passes the nonce it started with: the signed token must carry it."""
    try:
        issuer_name = jwt.decode(id_token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise Unauthenticated("the ID token is malformed") from None
    issuer = trusted.get(issuer_name) if isinstance(issuer_name, str) else None
    if issuer is None:
        raise Unauthenticated("the ID token comes from an issuer this service does not trust")
    try:
        key = _keys(issuer.jwks_url).get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token,
            key.key,
            algorithms=ALGORITHMS,
            audience=issuer.audience,
            issuer=issuer.issuer,
            options={"require": ["exp", "iat", "iss", "aud"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the ID token has expired") from None
    except jwt.PyJWKClientError:
        raise Unauthenticated("the ID token's signing key is not published by its issuer") from None
    except jwt.PyJWTError:
        raise Unauthenticated("the ID token is not valid") from None
    if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise Unauthenticated("the ID token was not issued for this login (its nonce differs)")
    value = str(claims.get(issuer.rpps_claim, ""))
    if len(value) == 12 and value.startswith("8"):
        value = value[1:]  # national identifier of a health professional: "8" + RPPS
    if len(value) != 11 or not value.isdigit():
        raise Unauthenticated(f"the ID token carries no RPPS in {issuer.rpps_claim}")
    return value
