"""Dossier rules that need no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib

from services.common.actors import Actor, ActorKind
from services.common.errors import InvalidInput, PayloadTooLarge

PHARMACIST = "21"


def opening_channel(actor: Actor) -> str:
    """The channel is who opened it, not something the caller can claim."""
    if actor.kind is ActorKind.PATIENT:
        return "patient_online"
    if actor.kind is ActorKind.COUNTER_AGENT:
        return "counter"
    if actor.profession == PHARMACIST:
        return "pharmacy"
    return "professional"


def decode_content(encoded: str, max_bytes: int) -> bytes:
    # Refuse before decoding: base64 is 4 characters for 3 bytes.
    if len(encoded) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(
            f"content exceeds the {max_bytes} byte limit", [{"field": "content", "limit": str(max_bytes)}]
        )
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.for_field("content", "is not valid base64") from None
    if not content:
        raise InvalidInput.for_field("content", "is empty; an empty document is refused")
    if len(content) > max_bytes:
        raise PayloadTooLarge(
            f"content exceeds the {max_bytes} byte limit", [{"field": "content", "limit": str(max_bytes)}]
        )
    return content


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
