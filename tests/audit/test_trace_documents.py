"""A trace as the store writes it and reads it back (services/audit/store.py): the stored form is the one the
previous version wrote, so that chains written before still verify and old traces still read."""

from datetime import UTC, datetime
from typing import Any

from services.audit import chain
from services.audit.records import trace_of
from services.audit.store import trace_document, trace_from_document
from services.common.events import ActorRef, Event, EventType

AT = datetime(2026, 12, 2, 9, 30, 12, 345678, tzinfo=UTC)
DOCTOR = ActorRef(
    kind="professional", id="rpps:10000000009", profession="10", organisation="750000001"
)


def written_the_old_way(event: Event, document_author: str | None = None) -> dict[str, Any]:
    """What audit wrote before its records (services/audit/service.py's trace_of, then its document_author)."""
    trace = event.model_dump(mode="json", exclude={"event_id"})
    trace["occurred_at"] = event.occurred_at
    trace["occurred_ms"] = int(event.occurred_at.timestamp() * 1000)
    document = {"_id": event.event_id, **trace}
    if event.document_id:
        document["document_author"] = document_author
    return document


def linked(document: dict[str, Any], seq: int, previous: str) -> dict[str, Any]:
    trace = {
        **document,
        "chain": chain.chain_of(document),
        "seq": seq,
        "prev_hash": previous,
        "recorded_at": AT,
    }
    trace["hash"] = chain.link(trace)
    return trace


EVENTS = [
    Event(
        type=EventType.DOCUMENT_READ,
        source="dossier",
        occurred_at=AT,
        actor=DOCTOR,
        patient_id="pat_1",
        dossier_id="dos_1",
        document_id="doc_1",
        rule="R-CONSENT",
        emergency=True,
        data={"category": "11488-4"},
    ),
    Event(type=EventType.DOSSIER_OPENED, source="dossier", occurred_at=AT, patient_id="pat_1"),
    Event(type=EventType.LOGGED_IN, source="identity", occurred_at=AT),  # the system chain
]


def test_a_trace_is_stored_as_the_previous_version_stored_it() -> None:
    for event in EVENTS:
        author = DOCTOR.id if event.document_id else None
        assert trace_document(trace_of(event, author)) == written_the_old_way(event, author)


def test_a_chain_written_the_old_way_still_verifies_and_hashes_alike() -> None:
    previous, old = chain.GENESIS, []
    for seq, event in enumerate(EVENTS, start=1):
        old.append(linked(written_the_old_way(event), seq, previous))
        previous = old[-1]["hash"]
    new = [
        linked(trace_document(trace_of(event)), trace["seq"], trace["prev_hash"])
        for event, trace in zip(EVENTS, old, strict=True)
    ]
    assert [t["hash"] for t in new] == [t["hash"] for t in old]
    assert chain.first_break("pat_1", old)[0] is None


def test_a_stored_trace_with_the_stores_zero_or_one_still_verifies_and_reads_as_a_boolean() -> None:
    trace = linked(written_the_old_way(EVENTS[0]), 1, chain.GENESIS)
    answered = {**trace, "emergency": 1}  # nx-27017 answers booleans as 0/1
    assert chain.first_break("pat_1", [answered])[0] is None
    assert trace_from_document(answered).emergency is True
    assert trace_from_document({**answered, "emergency": 0}).emergency is False


def test_a_trace_reads_back_as_the_record_it_was() -> None:
    for event in EVENTS:
        record = trace_of(event, DOCTOR.id if event.document_id else None)
        assert trace_from_document(trace_document(record)) == record


def test_a_trace_written_before_actors_had_an_organisation_keeps_it_unset() -> None:
    document = written_the_old_way(EVENTS[0])
    document["actor"] = {"kind": "professional", "id": DOCTOR.id, "profession": "10"}
    del document["emergency"]  # and before traces said whether an emergency access was used
    trace = trace_from_document(document)
    assert trace.actor is not None and trace.actor.model_fields_set == {"kind", "id", "profession"}
    assert trace.emergency is False
