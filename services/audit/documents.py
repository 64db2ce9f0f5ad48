"""What the trail knows of the documents and the dossier it traces, from their events: pure.

The history hides every trace of a document its reader may not see (services/common/grants.py decides,
for documents and their traces alike), so audit keeps each document's visibility codes as its events
tell them; and it refuses professionals the history of a closed dossier, so it keeps the dossier's state.
"""

from __future__ import annotations

from services.audit.records import DossierState
from services.common.events import Event, EventType
from services.common.grants import visibility_codes

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
