"""Dossier rules that need no I/O: no broker, no store, no clock reads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.common.actors import Actor, ActorKind
from services.common.errors import AccessDenied, Conflict, InvalidInput, PayloadTooLarge
from services.dossier.formats import PATIENT_ONLY_FORMATS
from services.dossier.records import Channel, Document, IdempotencyClaim, OpeningFee, Visibility

PHARMACIST = "21"
PATIENT_CATEGORY = "90"
FEED_CATEGORY = "60"
MASKED = Visibility.MASKED
INVISIBLE_TO_PATIENT = Visibility.INVISIBLE_TO_PATIENT


def opening_channel(actor: Actor) -> Channel:
    """The channel is who opened it, not something the caller can claim."""
    if actor.kind is ActorKind.PATIENT:
        return Channel.PATIENT_ONLINE
    if actor.kind is ActorKind.COUNTER_AGENT:
        return Channel.COUNTER
    if actor.profession == PHARMACIST:
        return Channel.PHARMACY
    return Channel.PROFESSIONAL


def opening_fee(
    actor: Actor, channel: Channel, patient_id: str, dossier_id: str, now: datetime
) -> OpeningFee | None:
    """A pharmacy is paid for opening a dossier, once per patient, ever (the ledger is keyed by patient): a
    reopened or re-created dossier earns no second fee. Other channels earn none."""
    if channel is not Channel.PHARMACY:
        return None
    return OpeningFee(
        patient_id=patient_id,
        dossier_id=dossier_id,
        pharmacist_id=actor.id,
        organisation=actor.organisation or "",
        month=now.strftime("%Y-%m"),
        opened_at=now,
    )


def tells_first_access(actor: Actor) -> bool:
    """The patient is told of each professional's first access to their dossier (not of their own side's)."""
    return actor.kind is ActorKind.PROFESSIONAL


def decode_content(encoded: str, max_bytes: int) -> bytes:
    # Refuse before decoding: base64 is 4 characters for 3 bytes.
    if len(encoded) * 3 // 4 > max_bytes + 3:
        raise PayloadTooLarge(
            f"content exceeds the {max_bytes} byte limit",
            [{"field": "content", "limit": str(max_bytes)}],
        )
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.for_field("content", "is not valid base64") from None
    if not content:
        raise InvalidInput.for_field("content", "is empty; an empty document is refused")
    if len(content) > max_bytes:
        raise PayloadTooLarge(
            f"content exceeds the {max_bytes} byte limit",
            [{"field": "content", "limit": str(max_bytes)}],
        )
    return content


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,100}$")


def check_idempotency_key(key: object) -> str:
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput.for_field(
            "Idempotency-Key", "must be 8 to 100 letters, digits or - _ . :"
        )
    return key


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_format_for(category: str, declared: str) -> None:
    """Images are accepted only among the patient's own documents (class 90)."""
    if declared in PATIENT_ONLY_FORMATS and category != PATIENT_CATEGORY:
        raise InvalidInput.for_field(
            "format", "images (JPEG, PNG) are accepted only in class 90, from the patient"
        )


def check_change(actor: Actor, document: Document, change: str) -> None:
    """Replace and delete belong to the author (a patient deletes what they added and masks the rest);
    archiving to the author or the patient's side."""
    is_author = document.author_id == actor.id
    if change == "archive" and (is_author or actor.kind is ActorKind.PATIENT):
        return
    if not is_author:
        raise AccessDenied.by_rule("R-AUTHOR-ONLY", f"only the document's author may {change} it")


INVISIBLE_TO_REPRESENTATIVES = Visibility.INVISIBLE_TO_REPRESENTATIVES
INVISIBLE_FOR = timedelta(days=30)  # "one month after deposit" the patient sees it anyway
REMIND_AFTER = timedelta(days=14)  # the author is reminded if it is still invisible


def check_visibility_at_deposit(actor: Actor, visibility: Sequence[str]) -> None:
    """Invisibility is a professional's decision at deposit, never the patient's own."""
    if visibility and actor.kind is not ActorKind.PROFESSIONAL:
        raise InvalidInput.for_field(
            "visibility", "only a professional makes a document invisible, at deposit"
        )


# Restrictions a new version inherits from the one it replaces: the patient's mask is theirs to lift, a
# minor's secret and a result awaiting its announcement are lifted only by the acts made for that.
CARRIED_OVER = (MASKED, INVISIBLE_TO_REPRESENTATIVES, INVISIBLE_TO_PATIENT)


def carried_over(old_visibility: Sequence[str], submitted: Sequence[str]) -> list[str]:
    """The restrictions of the replaced version that the new one keeps, beyond those submitted with it."""
    carried = [code for code in old_visibility if code in CARRIED_OVER and code not in submitted]
    if MASKED in [*carried, *submitted] and INVISIBLE_TO_PATIENT in [*carried, *submitted]:
        raise Conflict(
            "the patient masked this document: its new version cannot be made invisible to the patient",
            [{"field": "visibility"}],
        )
    return carried


def masked(visibility: Sequence[str], mask: bool) -> list[str]:
    """The visibility codes after (un)masking. A document invisible to the patient cannot be masked."""
    codes = [code for code in visibility if code != MASKED]
    if not mask:
        return codes
    if INVISIBLE_TO_PATIENT in codes:
        raise Conflict(
            "a document invisible to the patient cannot also be masked", [{"field": "masked"}]
        )
    return [*codes, MASKED]


def invisibility_schedule(
    submitted: Sequence[str], carried: Sequence[str], replaced: Document | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """(when a new document invisible to the patient becomes visible anyway, when its author is reminded).
    A new version does not push the announcement back: the patient sees it when the old one was due."""
    if INVISIBLE_TO_PATIENT in carried and replaced is not None:
        return replaced.release_at, replaced.remind_at
    if INVISIBLE_TO_PATIENT in submitted:
        return now + INVISIBLE_FOR, now + REMIND_AFTER
    return None, None


def released(document: Document) -> Document:
    """The document once its month invisible to the patient is over: visible to them, nothing more due."""
    visible = tuple(
        code for code in document.visibility if code is not Visibility.INVISIBLE_TO_PATIENT
    )
    return replace(document.with_visibility(visible), release_at=None)


# The idempotency protocol of deposits: a retried request (same key, same body) answers the document of the
# first one instead of creating a second; the key of another request, or of one under way, is refused.


@dataclass(frozen=True)
class Replay:
    """An earlier request's document to answer again: `document` when already read, else its id."""

    document_id: str
    document: Document | None
    complete_claim: bool  # the earlier request stored it but died before it completed its claim


# What a retry of a request still under way is told to wait (Retry-After): the first usually ends within it.
RETRY_SHORTLY = "1"


def replayed(
    fingerprint: str, claim: IdempotencyClaim | None, stored: Document | None
) -> Replay | None:
    """What a request with an idempotency key answers: None when it is the first (it stores the document),
    else the earlier one's document. `stored`: a document already deposited under the key."""
    if stored is not None:
        # Stored by an earlier request that died before it could say so (or before the claim was completed):
        # answer that document, never store a second.
        if stored.idempotency_fingerprint != fingerprint:
            raise _other_request()
        return Replay(stored.id, stored, complete_claim=True)
    if claim is None:
        return None
    if claim.fingerprint != fingerprint:
        raise _other_request()
    if claim.document_id is None:
        raise Conflict(
            "a request with this Idempotency-Key is in progress; retry shortly",
            [{"field": "Idempotency-Key"}, {"retry_after": RETRY_SHORTLY}],
        )
    return Replay(claim.document_id, None, complete_claim=False)


# A deposit cut short (services/dossier/service.py _deposit_together) is completed by a retry within the
# window; one left longer is abandoned: the hourly job discards it, and a later retry starts afresh. The gap
# between the two keeps a retry under way from being discarded half-way.
DEPOSIT_RETRY_WINDOW = timedelta(hours=23)
DEPOSIT_ABANDONED_AFTER = timedelta(hours=24)


def retry_completes(started_at: datetime, now: datetime) -> bool:
    """Does a retry of a deposit started then complete it (else the deposit is discarded and made anew)?"""
    return now - started_at < DEPOSIT_RETRY_WINDOW


def deposit_under_way(claimed_at: datetime | None, now: datetime, claim: timedelta) -> bool:
    """Is an unfinished deposit still in the hands of the attempt that claimed it (its first, or a retry that
    took it over)? Then another attempt waits: taking it over would write and discard what the first is
    writing. None: given up by an attempt that failed."""
    return claimed_at is not None and now - claimed_at < claim


def deposit_in_progress() -> Conflict:
    return Conflict(
        "a deposit of this submission set is in progress; retry shortly",
        [{"field": "submission_set.unique_id"}, {"retry_after": RETRY_SHORTLY}],
    )


def request_fingerprint(ins: str, payload: object) -> str:
    """What tells a retry from another request under the same key: the INS and the body, canonically."""
    return sha256(json.dumps([ins, payload], sort_keys=True).encode())


def _other_request() -> Conflict:
    return Conflict(
        "this Idempotency-Key was used for a different request", [{"field": "Idempotency-Key"}]
    )
