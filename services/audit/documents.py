"""What the trail knows of the documents and the dossier it traces, from their events: pure.

The history hides every trace of a document its reader may not see (services/common/grants.py decides,
for documents and their traces alike), so audit keeps each document's visibility codes as its events
tell them; and it refuses professionals the history of a closed dossier, so it keeps the dossier's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.audit.records import DossierState
from services.common.events import Event, EventType
from services.common.grants import Grant, visibility_codes

MASKED = "MASQUE_PS"
INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"

DOSSIER_STATES = {
    EventType.DOSSIER_OPENED: DossierState.OPEN,
    EventType.DOSSIER_REOPENED: DossierState.OPEN,
    EventType.DOSSIER_CLOSED: DossierState.CLOSED,
    EventType.DOSSIER_DELETION_REQUESTED: DossierState.DELETION_REQUESTED,
}


def visibility_after(event: Event, current: list[str]) -> list[str] | None:
    """A document's visibility codes after this event of it, or None when the event does not change
    them. Events say the codes they leave ("visibility" in their data); older ones only what changed."""
    if "visibility" in event.data:
        return visibility_codes(event.data["visibility"])
    if event.type is EventType.DOCUMENT_ADDED:
        return [INVISIBLE_TO_PATIENT] if event.data.get("invisible_to_patient") == "true" else []
    if event.type is EventType.DOCUMENT_MASKED:
        return [*[code for code in current if code != MASKED], MASKED]
    if event.type is EventType.DOCUMENT_UNMASKED:
        return [code for code in current if code != MASKED]
    if event.type is EventType.DOCUMENT_RELEASED:
        return [code for code in current if code != INVISIBLE_TO_PATIENT]
    return None


def dossier_state_after(event: Event) -> DossierState | None:
    return DOSSIER_STATES.get(event.type)


@dataclass(frozen=True)
class KnownDocument:
    """What the trail knows of one document: whose, who wrote it, its visibility codes and since when."""

    patient_id: str | None
    author: str | None
    visibility: tuple[str, ...]
    visibility_at: (
        datetime  # when the event that set them happened (a late, older event changes nothing)
    )


def author_of(event: Event) -> str | None:
    """The document's author, as its deposit tells it (no other event does)."""
    if event.type is EventType.DOCUMENT_ADDED and event.actor is not None:
        return event.actor.id
    return None


def new_document(event: Event) -> KnownDocument | None:
    """What the first event the trail hears of a document tells of it; None when it is not a document the
    trail knows (a refused guess of an id, say): only a deposit, or an event saying its codes, makes one."""
    visibility = visibility_after(event, [])
    if visibility is None and event.type is not EventType.DOCUMENT_ADDED:
        return None
    return KnownDocument(
        event.patient_id, author_of(event), tuple(visibility or []), event.occurred_at
    )


def document_after(event: Event, known: KnownDocument) -> KnownDocument:
    """A known document after a further event of it: the author once known stays, the newest codes win."""
    visibility = visibility_after(event, list(known.visibility))
    newer = visibility is not None and event.occurred_at >= known.visibility_at
    return KnownDocument(
        known.patient_id,
        known.author or author_of(event),
        tuple(visibility or ()) if newer else known.visibility,
        event.occurred_at if newer else known.visibility_at,
    )


def hidden(document: KnownDocument, grant: Grant, reader_id: str) -> bool:
    """Whether this document (and so every trace of it) is hidden from this reader: one of its codes hides
    it from them and they are not its author (grants.hidden_from, as a predicate)."""
    return bool(set(document.visibility) & set(grant.hidden_visibility)) and (
        document.author != reader_id
    )
