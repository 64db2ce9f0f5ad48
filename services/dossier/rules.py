"""Dossier rules that need no I/O."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from services.common.actors import Actor, ActorKind
from services.common.errors import AccessDenied, Conflict, InvalidInput, PayloadTooLarge
from services.dossier.formats import PATIENT_ONLY_FORMATS

PHARMACIST = "21"
PATIENT_CATEGORY = "90"
FEED_CATEGORY = "60"
MASKED = "MASQUE_PS"
INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"


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


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,100}$")


def check_idempotency_key(key: object) -> str:
    if not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput.for_field("Idempotency-Key", "must be 8 to 100 letters, digits or - _ . :")
    return key


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def check_format_for(category: str, declared: str) -> None:
    """Images are accepted only among the patient's own documents (class 90)."""
    if declared in PATIENT_ONLY_FORMATS and category != PATIENT_CATEGORY:
        raise InvalidInput.for_field("format", "images (JPEG, PNG) are accepted only in class 90, from the patient")


def check_change(actor: Actor, document: dict[str, Any], change: str) -> None:
    """Replace and delete belong to the author (a patient deletes what they added and masks the rest);
    archiving to the author or the patient's side."""
    is_author = document["author"]["id"] == actor.id
    if change == "archive" and (is_author or actor.kind is ActorKind.PATIENT):
        return
    if not is_author:
        raise AccessDenied.by_rule("R-AUTHOR-ONLY", f"only the document's author may {change} it")


INVISIBLE_TO_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"
INVISIBLE_FOR = timedelta(days=30)  # "one month after deposit" the patient sees it anyway
REMIND_AFTER = timedelta(days=14)  # the author is reminded if it is still invisible


def check_visibility_at_deposit(actor: Actor, visibility: Sequence[str]) -> None:
    """Invisibility is a professional's decision at deposit, never the patient's own."""
    if visibility and actor.kind is not ActorKind.PROFESSIONAL:
        raise InvalidInput.for_field("visibility", "only a professional makes a document invisible, at deposit")


# Restrictions a new version inherits from the one it replaces: the patient's mask is theirs to lift, a
# minor's secret and a result awaiting its announcement are lifted only by the acts made for that.
CARRIED_OVER = (MASKED, INVISIBLE_TO_REPRESENTATIVES, INVISIBLE_TO_PATIENT)


def carried_over(old_visibility: Sequence[str], submitted: Sequence[str]) -> list[str]:
    """The restrictions of the replaced version that the new one keeps, beyond those submitted with it."""
    carried = [code for code in old_visibility if code in CARRIED_OVER and code not in submitted]
    if MASKED in [*carried, *submitted] and INVISIBLE_TO_PATIENT in [*carried, *submitted]:
        raise Conflict("the patient masked this document: its new version cannot be made invisible to the patient",
                       [{"field": "visibility"}])
    return carried


def masked(visibility: list[str], mask: bool) -> list[str]:
    """The visibility codes after (un)masking. A document invisible to the patient cannot be masked."""
    codes = [code for code in visibility if code != MASKED]
    if not mask:
        return codes
    if INVISIBLE_TO_PATIENT in codes:
        raise Conflict("a document invisible to the patient cannot also be masked", [{"field": "masked"}])
    return [*codes, MASKED]
