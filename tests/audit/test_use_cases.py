"""Every audit entrypoint, driven as the bus calls it (JSON-shaped arguments through the typed boundary) on
the in-memory store, with consent and dossier faked and real tokens and checkpoint keys: what the patient, a
professional or an operator would notice (the history shown or refused, the trail's verification)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.audit.memory import MemoryAuditStore
from services.audit.service import AuditService
from services.common.errors import AccessDenied, ConfigurationError, InvalidInput, Unauthenticated
from services.common.events import ActorRef, Event, EventType
from services.common.grants import Action
from services.common.keys import SigningKey
from tests.audit.fakes import FakeDossier
from tests.clocks import MORNING, SettableClock
from tests.fakes import FakeConsent, Tokens
from tests.identities import make_ins
from tests.live_settings import live_settings

PATIENT_ID = "pat_uc2"
RPPS, OTHER_RPPS = "10000000009", "10000000017"
DOCTOR = ActorRef(kind="professional", id=f"rpps:{RPPS}", profession="10")
HANDLERS = (
    "on_identity_event",
    "on_consent_event",
    "on_dossier_event",
    "on_gateway_event",
    "on_notify_event",
    "on_own_event",
)


@dataclass
class Audit:
    service: Any
    store: MemoryAuditStore
    clock: SettableClock
    consent: FakeConsent
    dossier: FakeDossier
    tokens: Tokens
    ins: str

    def event(self, event_type: EventType, **fields: Any) -> dict[str, Any]:
        """An event as it arrives from the bus, a second after the previous one."""
        self.clock.advance(timedelta(seconds=1))
        fields.setdefault("patient_id", PATIENT_ID)
        fields.setdefault("actor", DOCTOR)
        fields.setdefault("source", "dossier")
        happened = Event(type=event_type, occurred_at=self.clock.now(), **fields)
        return happened.model_dump(mode="json")

    def patient(self) -> str:
        return self.tokens.patient(PATIENT_ID, self.ins)


@pytest.fixture
def audit(monkeypatch: pytest.MonkeyPatch) -> Audit:
    key = SigningKey.generate("audit-use-cases")
    monkeypatch.setenv("DMP_AUDIT_SIGNING_KEY", key.serialise())
    monkeypatch.setenv("DMP_AUDIT_PUBLIC_KEYS", key.public())
    tokens, ins = Tokens(monkeypatch), make_ins()
    consent, dossier, clock, store = (
        FakeConsent(),
        FakeDossier(),
        SettableClock(MORNING),
        MemoryAuditStore(),
    )
    consent.allow(PATIENT_ID, ins, Action.READ_HISTORY, PATIENT_ID)
    service = worker_factory(
        AuditService,
        settings=live_settings(),
        store=store,
        clock=clock,
        consent=consent,
        dossier=dossier,
    )
    return Audit(service, store, clock, consent, dossier, tokens, ins)


def types_in(answer: dict[str, Any]) -> list[str]:
    return [trace["type"] for trace in answer["traces"]]


# Events


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_source_is_traced_once_and_the_patient_sees_it(audit: Audit, handler: str) -> None:
    opened = audit.event(EventType.DOSSIER_OPENED)
    getattr(audit.service, handler)(opened)
    getattr(audit.service, handler)(opened)  # the broker delivered it again
    answer = audit.service.history(audit.patient(), audit.ins)
    assert answer["total"] == 1 and answer["traces"][0]["event_id"] == opened["event_id"]
    assert audit.service.verify()["intact"] is True


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_malformed_event_is_parked_not_traced(audit: Audit, handler: str) -> None:
    malformed = {"event_id": "evt_bad", "type": "no_such_type", "patient_id": PATIENT_ID}
    getattr(audit.service, handler)(malformed)
    assert audit.store.parked == [malformed] and audit.store.chain_names() == []


def test_a_purge_dossier_confirms_erases_the_trail_and_what_comes_late(audit: Audit) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED, dossier_id="dos_1"))
    late = audit.event(EventType.DOCUMENT_READ, dossier_id="dos_1", document_id="doc_1")
    audit.dossier.purged["dos_1"] = PATIENT_ID
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_PURGED, dossier_id="dos_1"))
    audit.service.on_dossier_event(late)  # happened before the purge, arrived after it
    assert audit.store.chain_names() == []
    assert audit.service.history(audit.patient(), audit.ins)["total"] == 0
    assert audit.service.verify() == {
        "chains": 0,
        "traces": 0,
        "breaks": [],
        "checkpoint_mismatches": [],
        "intact": True,
    }


def test_a_purge_dossier_does_not_confirm_erases_nothing_and_is_traced(audit: Audit) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED, dossier_id="dos_1"))
    audit.dossier.purged["dos_1"] = "pat_someone_else"  # a lying peer's purge
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_PURGED, dossier_id="dos_1"))
    assert audit.service.history(audit.patient(), audit.ins)["total"] == 1
    [refusal] = [linked.trace for linked in audit.store.chain("system")]
    assert refusal.rule == "R-PURGE-UNCONFIRMED" and refusal.data["dossier_id"] == "dos_1"


# Verification and checkpoints


def test_verify_finds_an_edited_trace_and_a_whole_chain_rewritten_after_a_checkpoint(
    audit: Audit,
) -> None:
    for _ in range(3):
        audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED))
    receipt = audit.service.checkpoint()
    assert receipt["chains"] == 1
    second = next(t for t in audit.store.traces.values() if t.seq == 2)
    audit.store.traces[second.trace.event_id] = replace(
        second, trace=replace(second.trace, data={"forged": "yes"})
    )
    report = audit.service.verify()
    assert report["intact"] is False and report["traces"] == 1
    assert report["breaks"] == [{"chain": PATIENT_ID, "seq": 2, "problem": "altered"}]
    assert report["checkpoint_mismatches"] == []  # seq 3's hash is still what was signed


def test_verify_reports_a_checkpoint_signed_by_a_key_it_does_not_trust(
    audit: Audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED))
    at_ms = audit.service.checkpoint()["at_ms"]
    monkeypatch.setenv("DMP_AUDIT_PUBLIC_KEYS", SigningKey.generate("audit-use-cases").public())
    report = audit.service.verify()
    assert report["checkpoint_mismatches"] == [{"checkpoint": at_ms, "problem": "bad signature"}]
    assert report["intact"] is False


def test_without_its_signing_key_audit_signs_no_checkpoint(
    audit: Audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DMP_AUDIT_SIGNING_KEY")
    with pytest.raises(ConfigurationError, match="DMP_AUDIT_SIGNING_KEY"):
        audit.service.checkpoint()
    assert audit.store.checkpoints() == []


def test_verify_reports_a_trail_erased_while_its_dossier_is_still_there(audit: Audit) -> None:
    audit.dossier.purged["dos_1"] = PATIENT_ID
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_PURGED, dossier_id="dos_1"))
    assert audit.service.verify()["intact"] is True  # the dossier is gone too
    audit.dossier.dossiers[PATIENT_ID] = ("open", audit.clock.now() - timedelta(days=1))
    report = audit.service.verify()
    assert report["breaks"] == [
        {
            "chain": PATIENT_ID,
            "problem": "purged while its dossier is still there",
            "dossier_status": "open",
        }
    ]


# The history


def test_the_history_filters_pages_and_labels_for_the_patient(audit: Audit) -> None:
    for n in range(3):
        audit.service.on_dossier_event(audit.event(EventType.DOCUMENT_READ, document_id=f"doc_{n}"))
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED, actor=None))
    first = audit.service.history(audit.patient(), audit.ins, {"limit": 2, "language": "en"})
    assert first["total"] == 4 and first["audience"] == "dossier"
    assert types_in(first) == ["dossier_opened", "document_read"]
    rest = audit.service.history(audit.patient(), audit.ins, {"cursor": first["next_cursor"]})
    assert [t["document_id"] for t in rest["traces"]] == ["doc_1", "doc_0"]
    assert rest["next_cursor"] is None
    reads = audit.service.history(audit.patient(), audit.ins, {"action": "document_read"})
    assert reads["total"] == 3
    bundle = audit.service.history(audit.patient(), audit.ins, {"format": "fhir"})
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": 0}, "limit"), ({"action": "DROP TABLE"}, "action"), ({"x": 1}, "x")],
)
def test_a_malformed_history_query_is_refused_naming_the_field(
    audit: Audit, query: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit.service.history(audit.patient(), audit.ins, query)
    assert field in [detail["field"] for detail in refused.value.details]


def test_a_foreign_cursor_a_bad_ins_or_no_token_is_refused(audit: Audit) -> None:
    with pytest.raises(InvalidInput) as foreign:
        audit.service.history(audit.patient(), audit.ins, {"cursor": "forged"})
    assert foreign.value.details[0]["field"] == "cursor"
    with pytest.raises(InvalidInput) as malformed:
        audit.service.history(audit.patient(), "12345")
    assert malformed.value.details[0]["field"] == "ins"
    with pytest.raises(Unauthenticated):
        audit.service.history("not-a-token", audit.ins)


def test_a_professional_refused_is_told_so_and_the_refusal_is_traced(audit: Audit) -> None:
    stranger = audit.tokens.professional(OTHER_RPPS)
    audit.consent.refuse(
        f"rpps:{OTHER_RPPS}", audit.ins, Action.READ_HISTORY, "R-NO-CONSENT", PATIENT_ID
    )
    with pytest.raises(AccessDenied) as refused:
        audit.service.history(stranger, audit.ins)
    assert refused.value.details == [{"rule": "R-NO-CONSENT"}]
    [refusal] = audit.service.history(audit.patient(), audit.ins)["traces"]
    assert (refusal["type"], refusal["outcome"], refusal["rule"]) == (
        "access_denied",
        "denied",
        "R-NO-CONSENT",
    )


def test_an_author_without_the_whole_history_sees_the_traces_of_their_documents(
    audit: Audit,
) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOCUMENT_ADDED, document_id="doc_mine"))
    other = ActorRef(kind="professional", id=f"rpps:{OTHER_RPPS}", profession="10")
    audit.service.on_dossier_event(
        audit.event(EventType.DOCUMENT_ADDED, actor=other, document_id="doc_theirs")
    )
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED))
    audit.consent.refuse(DOCTOR.id, audit.ins, Action.READ_HISTORY, "R-HISTORY-HOLDER", PATIENT_ID)
    answer = audit.service.history(audit.tokens.professional(RPPS), audit.ins)
    assert answer["audience"] == "document_author"
    assert [t["document_id"] for t in answer["traces"]] == ["doc_mine"]


def test_a_masked_documents_traces_are_hidden_from_a_reader_it_is_masked_from(
    audit: Audit,
) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOCUMENT_ADDED, document_id="doc_1"))
    audit.service.on_dossier_event(audit.event(EventType.DOCUMENT_MASKED, document_id="doc_1"))
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_OPENED))
    reader = f"rpps:{OTHER_RPPS}"
    audit.consent.allow(
        reader, audit.ins, Action.READ_HISTORY, PATIENT_ID, hidden_visibility=("MASQUE_PS",)
    )
    answer = audit.service.history(audit.tokens.professional(OTHER_RPPS), audit.ins)
    assert types_in(answer) == ["dossier_opened"] and answer["total"] == 1
    assert audit.service.history(audit.patient(), audit.ins)["total"] == 3


def test_a_closed_dossiers_history_is_refused_to_professionals_not_to_the_patient(
    audit: Audit,
) -> None:
    audit.service.on_dossier_event(audit.event(EventType.DOSSIER_CLOSED, actor=None))
    audit.consent.allow(DOCTOR.id, audit.ins, Action.READ_HISTORY, PATIENT_ID)
    audit.clock.advance(timedelta(seconds=1))
    with pytest.raises(AccessDenied) as refused:
        audit.service.history(audit.tokens.professional(RPPS), audit.ins)
    assert refused.value.details == [{"rule": "R-DOSSIER-CLOSED"}]
    assert types_in(audit.service.history(audit.patient(), audit.ins)) == [
        "access_denied",
        "dossier_closed",
    ]
