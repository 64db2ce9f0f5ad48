"""What the trail knows of a document (services/audit/documents.py), which both stores keep: its author once
known, its newest codes, and whom it is hidden from, by the one visibility rule of documents and their traces
(Grant.for_document and grants.hidden_from)."""

from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from services.audit import documents
from services.audit.documents import KnownDocument
from services.common.events import ActorRef, Event, EventType
from services.common.grants import Action, Grant, hidden_from
from services.common.matching import matches

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CODES = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")
SUBSETS = [tuple(c) for n in range(len(CODES) + 1) for c in combinations(CODES, n)]


@pytest.mark.parametrize("hidden_visibility", SUBSETS)
@pytest.mark.parametrize("visibility", SUBSETS)
@pytest.mark.parametrize("reader", ["rpps:A", "rpps:B"])
def test_a_document_is_hidden_exactly_when_the_dossier_hides_it(
    hidden_visibility: tuple[str, ...], visibility: tuple[str, ...], reader: str
) -> None:
    grant = Grant(
        allowed=True,
        action=Action.READ_HISTORY,
        rule="R-X",
        reason="",
        categories=("10",),
        hidden_visibility=hidden_visibility,
        decided_at=AT,
    )
    known = KnownDocument("pat_1", "rpps:A", visibility, AT)
    query = hidden_from(grant, reader)
    as_queried = query is not None and matches(
        {"visibility": list(visibility), "author": {"id": "rpps:A"}}, query
    )
    refused = not grant.for_document(reader, "10", list(visibility), "rpps:A").allowed
    assert documents.hidden(known, grant, reader) == as_queried == refused


def test_a_documents_author_stays_and_its_newest_codes_win() -> None:
    doctor = ActorRef(kind="professional", id="rpps:A")
    added = Event(
        type=EventType.DOCUMENT_ADDED,
        source="dossier",
        occurred_at=AT,
        actor=doctor,
        patient_id="pat_1",
        document_id="doc_1",
        data={"invisible_to_patient": "true"},
    )
    created = documents.new_document(added)
    assert created == KnownDocument("pat_1", "rpps:A", ("INVISIBLE_PATIENT",), AT)
    later = AT + timedelta(seconds=1)
    masked = added.model_copy(
        update={"type": EventType.DOCUMENT_MASKED, "actor": None, "data": {}, "occurred_at": later}
    )
    after = documents.document_after(masked, created)
    assert after == KnownDocument("pat_1", "rpps:A", ("INVISIBLE_PATIENT", "MASQUE_PS"), later)
    released_earlier = masked.model_copy(
        update={
            "type": EventType.DOCUMENT_RELEASED,
            "occurred_at": AT + timedelta(milliseconds=500),
        }
    )
    assert documents.document_after(released_earlier, after) == after  # older: no change
    read = masked.model_copy(update={"type": EventType.DOCUMENT_READ})
    assert documents.new_document(read) is None  # not a document the trail knows
