"""The external OpenID Connect issuers this system trusts (Pro Santé Connect works this way), from
DMP_TRUSTED_ISSUERS: identity checks their ID tokens, the professional pages send browsers to them.

A JSON list of {"issuer": "...", "jwks_url": "...", "audience": "...", "rpps_claim": "SubjectNameID"}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from services.common.errors import ConfigurationError


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    jwks_url: str
    audience: str
    rpps_claim: str = "SubjectNameID"


def parse_issuers(text: str) -> dict[str, TrustedIssuer]:
    try:
        return {item["issuer"]: TrustedIssuer(**item) for item in json.loads(text)}
    except (ValueError, TypeError, KeyError):
        raise ConfigurationError(
            "DMP_TRUSTED_ISSUERS must be a JSON list of {issuer, jwks_url, audience[, rpps_claim]}"
        ) from None
