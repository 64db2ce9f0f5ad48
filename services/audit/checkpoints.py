"""Signed checkpoints of the chain heads: a rewrite of a whole chain after a checkpoint is caught.

The audit service signs {chain: [seq, hash]} with its own Ed25519 key (DMP_AUDIT_SIGNING_KEY, the same
`kid:<base64url seed>` format as the token key); verifiers check with DMP_AUDIT_PUBLIC_KEYS.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature

from services.common.keys import SigningKey, parse_public_keys
from services.common.settings import required


def payload(heads: dict[str, list[Any]], at_ms: int) -> bytes:
    return json.dumps({"heads": heads, "at_ms": at_ms}, sort_keys=True, separators=(",", ":")).encode()


def sign(heads: dict[str, list[Any]], at_ms: int) -> dict[str, Any]:
    key = SigningKey.parse(required("DMP_AUDIT_SIGNING_KEY"))
    signature = key.private_key.sign(payload(heads, at_ms))
    return {"heads": heads, "at_ms": at_ms, "kid": key.kid, "signature": base64.urlsafe_b64encode(signature).decode()}


def signature_valid(checkpoint: dict[str, Any]) -> bool:
    key = parse_public_keys(required("DMP_AUDIT_PUBLIC_KEYS")).get(checkpoint["kid"])
    if key is None:
        return False
    try:
        key.verify(base64.urlsafe_b64decode(checkpoint["signature"]), payload(checkpoint["heads"], checkpoint["at_ms"]))
    except InvalidSignature:
        return False
    return True
