"""Audit follows a document's visibility from the events dossier emits (services/audit/documents.py)."""

from datetime import UTC, datetime

from services.audit.documents import visibility_after
from services.common.events import Event, EventType
from services.common.grants import visibility_codes, visibility_data

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def event(kind: EventType, **data: str) -> Event:
    return Event(type=kind, source="dossier", occurred_at=NOW, document_id="doc_1", data=data)


def test_audit_follows_a_documents_visibility_from_its_events() -> None:
    assert visibility_codes(visibility_data(["MASQUE_PS", "INVISIBLE_REPRESENTANTS_LEGAUX"])) == [
        "MASQUE_PS",
        "INVISIBLE_REPRESENTANTS_LEGAUX",
    ]
    assert visibility_codes(visibility_data([])) == []
    secret = event(EventType.DOCUMENT_ADDED, visibility="INVISIBLE_REPRESENTANTS_LEGAUX")
    assert visibility_after(secret, []) == ["INVISIBLE_REPRESENTANTS_LEGAUX"]
    # What the event says wins over what was known; older events (no codes) say what changed.
    assert visibility_after(event(EventType.DOCUMENT_MASKED, visibility="MASQUE_PS"), ["X"]) == [
        "MASQUE_PS"
    ]
    assert visibility_after(event(EventType.DOCUMENT_ADDED, invisible_to_patient="true"), []) == [
        "INVISIBLE_PATIENT"
    ]
    assert visibility_after(
        event(EventType.DOCUMENT_MASKED), ["INVISIBLE_REPRESENTANTS_LEGAUX"]
    ) == ["INVISIBLE_REPRESENTANTS_LEGAUX", "MASQUE_PS"]
    assert visibility_after(event(EventType.DOCUMENT_UNMASKED), ["MASQUE_PS"]) == []
    assert visibility_after(event(EventType.DOCUMENT_RELEASED), ["INVISIBLE_PATIENT"]) == []
    assert visibility_after(event(EventType.DOCUMENT_READ), ["MASQUE_PS"]) is None
