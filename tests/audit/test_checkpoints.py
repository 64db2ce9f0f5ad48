"""Signed checkpoints (services/audit/checkpoints.py): what is signed is what the previous version signed, a
checkpoint read back still verifies, and what a checkpoint no longer matching says."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.audit import checkpoints
from services.audit.records import Checkpoint, Head
from services.common.keys import SigningKey

AT = datetime(2026, 12, 2, 9, 30, 12, 345678, tzinfo=UTC)
HEADS = {"pat_1": Head(3, "a" * 64), "system": Head(7, "b" * 64)}


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate("audit-unit")


def public(key: SigningKey) -> dict[str, Ed25519PublicKey]:
    return {key.kid: key.private_key.public_key()}


def test_a_checkpoint_signs_what_the_previous_version_signed(key: SigningKey) -> None:
    signed = checkpoints.sign(key, HEADS, AT)
    at_ms = int(AT.timestamp() * 1000)
    old_payload = json.dumps(
        {"heads": {"pat_1": [3, "a" * 64], "system": [7, "b" * 64]}, "at_ms": at_ms},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    key.private_key.public_key().verify(base64.urlsafe_b64decode(signed.signature), old_payload)
    assert checkpoints.receipt(signed) == {"at_ms": at_ms, "chains": 2}


@pytest.mark.parametrize("at_ms", [1_764_667_812_345, 1_764_667_812_999, 1_700_000_000_123, 1])
def test_a_checkpoints_moment_reads_back_to_the_millisecond_it_was_signed_at(at_ms: int) -> None:
    assert checkpoints.signed_ms(checkpoints.signed_at(at_ms)) == at_ms


def test_a_checkpoint_read_back_still_verifies_and_a_changed_one_does_not(key: SigningKey) -> None:
    signed = checkpoints.sign(key, HEADS, AT)
    read_back = Checkpoint(
        at=checkpoints.signed_at(checkpoints.signed_ms(signed.at)),
        heads=dict(signed.heads),
        kid=signed.kid,
        signature=signed.signature,
    )
    assert checkpoints.signature_valid(public(key), read_back)
    later = Checkpoint(
        at=signed.at + timedelta(milliseconds=1),
        heads=signed.heads,
        kid=signed.kid,
        signature=signed.signature,
    )
    assert not checkpoints.signature_valid(public(key), later)
    unknown = Checkpoint(
        at=signed.at, heads=signed.heads, kid="another", signature=signed.signature
    )
    assert not checkpoints.signature_valid(public(key), unknown)


def test_a_badly_signed_checkpoint_is_reported_once() -> None:
    checkpoint = Checkpoint(at=AT, heads=HEADS, kid="audit-unit", signature="")
    assert checkpoints.mismatches(checkpoint, False, {}, lambda name, seq: None) == [
        {"checkpoint": checkpoints.signed_ms(AT), "problem": "bad signature"}
    ]


def test_each_head_rewritten_or_gone_since_a_checkpoint_is_reported_except_purged_chains() -> None:
    checkpoint = Checkpoint(
        at=AT,
        heads={**HEADS, "pat_2": Head(1, "c" * 64), "pat_3": Head(2, "d" * 64)},
        kid="audit-unit",
        signature="",
    )
    now = {
        ("pat_1", 3): "a" * 64,
        ("system", 7): "e" * 64,
    }  # system's rewritten, pat_2's and pat_3's gone
    found = checkpoints.mismatches(
        checkpoint, True, {"pat_3": AT}, lambda name, seq: now.get((name, seq))
    )
    at_ms = checkpoints.signed_ms(AT)
    assert found == [
        {
            "checkpoint": at_ms,
            "chain": "system",
            "seq": 7,
            "problem": "chain rewritten since this checkpoint",
        },
        {
            "checkpoint": at_ms,
            "chain": "pat_2",
            "seq": 1,
            "problem": "chain rewritten since this checkpoint",
        },
    ]
