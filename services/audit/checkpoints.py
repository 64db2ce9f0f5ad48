"""Signed checkpoints of the chain heads: a rewrite of a whole chain after a checkpoint is caught.

The audit service signs {chain: [seq, hash]} with its own Ed25519 key (DMP_AUDIT_SIGNING_KEY, the same
`kid:<base64url seed>` format as the token key); verifiers check with DMP_AUDIT_PUBLIC_KEYS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit.records import Checkpoint, Head
from services.common.keys import SigningKey

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def signed_ms(at: datetime) -> int:
    """A checkpoint's moment as signed, and as operators name it: epoch milliseconds (exact, so that a moment
    read back signs the same)."""
    return (at - EPOCH) // MILLISECOND


def signed_at(at_ms: int) -> datetime:
    return EPOCH + at_ms * MILLISECOND


def payload(heads: Mapping[str, Head], at: datetime) -> bytes:
    signed = {name: [head.seq, head.hash] for name, head in heads.items()}
    return json.dumps(
        {"heads": signed, "at_ms": signed_ms(at)}, sort_keys=True, separators=(",", ":")
    ).encode()


def sign(key: SigningKey, heads: Mapping[str, Head], now: datetime) -> Checkpoint:
    """`key`: DMP_AUDIT_SIGNING_KEY."""
    at = signed_at(int(now.timestamp() * 1000))  # to the millisecond, as it always was
    signature = key.private_key.sign(payload(heads, at))
    return Checkpoint(
        at=at,
        heads=dict(heads),
        kid=key.kid,
        signature=base64.urlsafe_b64encode(signature).decode(),
    )


def signature_valid(public_keys: Mapping[str, Ed25519PublicKey], checkpoint: Checkpoint) -> bool:
    """`public_keys`: DMP_AUDIT_PUBLIC_KEYS, by key id."""
    key = public_keys.get(checkpoint.kid)
    if key is None:
        return False
    try:
        key.verify(
            base64.urlsafe_b64decode(checkpoint.signature), payload(checkpoint.heads, checkpoint.at)
        )
    except InvalidSignature:
        return False
    return True


def receipt(checkpoint: Checkpoint) -> dict[str, Any]:
    """What the checkpoint command answers."""
    return {"at_ms": signed_ms(checkpoint.at), "chains": len(checkpoint.heads)}


def mismatches(
    checkpoint: Checkpoint,
    signed: bool,
    purged: Mapping[str, datetime],
    hash_at: Callable[[str, int], str | None],
) -> list[dict[str, Any]]:
    """How this checkpoint no longer matches the trail: a bad signature, or each head (of a chain not purged
    since) whose trace is gone or hashes otherwise now. `hash_at(chain, seq)`: that trace's hash, if any."""
    at_ms = signed_ms(checkpoint.at)
    if not signed:
        return [{"checkpoint": at_ms, "problem": "bad signature"}]
    return [
        {
            "checkpoint": at_ms,
            "chain": name,
            "seq": head.seq,
            "problem": "chain rewritten since this checkpoint",
        }
        for name, head in checkpoint.heads.items()
        if name not in purged and hash_at(name, head.seq) != head.hash
    ]
