"""How a trace is shown (services/audit/labels.py): the history's entries and the FHIR AuditEvent."""

from datetime import UTC, datetime, timedelta, timezone

from services.audit.labels import audit_event, fhir_bundle, public
from services.audit.records import Trace
from services.common.events import ActorRef, EventType, Outcome

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
DOCTOR = ActorRef(kind="professional", id="rpps:10000000009", profession="10", organisation=None)
READ = Trace(
    event_id="evt_1",
    type=EventType.DOCUMENT_READ,
    source="dossier",
    occurred_at=AT,
    actor=DOCTOR,
    patient_id="pat_1",
    document_id="doc_1",
    rule="R-EMERGENCY",
    emergency=True,
)


def test_a_history_entry_has_a_plain_label_in_the_readers_language() -> None:
    assert public(READ, "fr") == {
        "event_id": "evt_1",
        "type": "document_read",
        "label": "Consultation d'un document",
        "occurred_at": "2026-12-02T09:30:00+00:00",
        "actor": {
            "kind": "professional",
            "id": "rpps:10000000009",
            "profession": "10",
            "organisation": None,
        },
        "document_id": "doc_1",
        "outcome": "success",
        "rule": "R-EMERGENCY",
        "emergency": True,
    }
    assert public(READ, "en")["label"] == "Document read"


def test_a_history_entry_shows_the_actor_as_the_trace_was_written() -> None:
    older = Trace(
        event_id="evt_2",
        type=EventType.DOSSIER_OPENED,
        source="dossier",
        occurred_at=AT,
        actor=ActorRef.model_validate({"kind": "patient", "id": "pat_1"}),
    )
    assert public(older, "fr")["actor"] == {"kind": "patient", "id": "pat_1"}
    assert (
        public(
            Trace(event_id="evt_3", type=EventType.LOGGED_IN, source="identity", occurred_at=AT),
            "fr",
        )["actor"]
        is None
    )


def test_a_trace_is_a_fhir_audit_event_of_identifiers_only() -> None:
    event = audit_event(READ)
    assert event["id"] == "evt-1" and event["action"] == "R" and event["outcome"] == "0"
    assert event["agent"][0]["who"]["identifier"] == {
        "system": "urn:oid:1.2.250.1.71.4.2.1",
        "value": "10000000009",
    }
    assert (
        event["outcomeDesc"] == "R-EMERGENCY"
        and event["purposeOfEvent"][0]["coding"][0]["code"] == "ETREAT"
    )
    assert [entity["what"]["identifier"]["value"] for entity in event["entity"]] == [
        "pat_1",
        "doc_1",
    ]


def test_a_refused_systems_trace_is_a_failed_audit_event_recorded_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    refused = Trace(
        event_id="evt_4",
        type=EventType.ACCESS_DENIED,
        source="audit",
        occurred_at=datetime(2026, 12, 2, 10, 30, tzinfo=paris),
        outcome=Outcome.DENIED,
    )
    event = audit_event(refused)
    assert event["outcome"] == "4" and event["recorded"] == "2026-12-02T09:30:00+00:00"
    assert event["agent"][0]["who"]["identifier"] == {"system": "urn:dmp:actor", "value": "system"}
    assert (
        "purposeOfEvent" not in event and event["entity"][0]["what"]["identifier"]["value"] == "-"
    )
    assert fhir_bundle([refused], 9)["total"] == 9
