"""Every notify entrypoint, driven as the bus calls it (JSON-shaped arguments through the typed boundary) on
the in-memory store, with identity, consent and the mail and SMS gateways faked: what the patient, the
professional or the operator would notice (the message sent, the refusal, what a later read shows)."""

from __future__ import annotations

import base64
import os
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.common.errors import AccessDenied, InvalidInput, NotFound
from services.common.events import ActorRef, Event, EventType
from services.common.grants import Action
from services.common.sealing import seal_json
from services.common.settings import Secret, Settings
from services.notify.contacts import Contacts
from services.notify.exceptions import PermanentFailure
from services.notify.journal import SentJournal
from services.notify.memory import MemoryNotifyStore
from services.notify.records import Channels, Preferences, Routine, Status
from services.notify.schemas import IDENTITY_MESSAGE
from services.notify.service import NotifyService
from tests.clocks import MORNING, SettableClock
from tests.fakes import FakeConsent, Tokens
from tests.identities import make_ins
from tests.live_settings import live_settings
from tests.notify.fakes import FakeIdentity, Gateways

PATIENT_ID = "pat_uc1"
EMAIL, MOBILE = "patient@patients.dmp-test.fr", "+33611223344"
DOCTOR = ActorRef(kind="professional", id="rpps:10000000008", profession="10")
MEDECIN = "rpps:10000000009"


@dataclass
class Notify:
    service: Any
    store: MemoryNotifyStore
    clock: SettableClock
    consent: FakeConsent
    gateways: Gateways
    tokens: Tokens
    ins: str
    journal: Path

    def event(self, event_type: EventType, **fields: Any) -> dict[str, Any]:
        """An event as it arrives from the bus."""
        fields.setdefault("patient_id", PATIENT_ID)
        fields.setdefault("actor", DOCTOR)
        happened = Event(type=event_type, source="dossier", occurred_at=self.clock.now(), **fields)
        return happened.model_dump(mode="json")

    def patient_token(self) -> str:
        return self.tokens.patient(PATIENT_ID, self.ins)


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Notify:
    monkeypatch.setenv("DMP_NOTIFY_JOURNAL_DIR", str(tmp_path / "journal"))
    monkeypatch.setenv(
        "DMP_IDENTITY_MESSAGE_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    tokens, ins = Tokens(monkeypatch), make_ins()
    consent, clock, store = FakeConsent(), SettableClock(MORNING), MemoryNotifyStore()
    consent.allow(PATIENT_ID, ins, Action.MANAGE, PATIENT_ID)
    identity = FakeIdentity(
        patients={PATIENT_ID: {"email": EMAIL, "mobile": MOBILE, "language": "fr"}},
        professionals={
            MEDECIN: {"email": "mt@pro.dmp-test.fr", "language": "en", "profession": "10"}
        },
    )
    service = worker_factory(
        NotifyService,
        settings=live_settings(),
        store=store,
        clock=clock,
        identity=identity,
        consent=consent,
        contacts=Contacts(),  # not following identity's feed: every look-up asks identity
    )
    gateways = Gateways().install(monkeypatch)
    return Notify(service, store, clock, consent, gateways, tokens, ins, tmp_path / "journal")


def sealed(message: dict[str, Any]) -> dict[str, str]:
    key = Settings.load().key(Secret.IDENTITY_MESSAGE_KEY)
    return {"sealed": seal_json(key, message, IDENTITY_MESSAGE)}


# Identity's messages


def test_a_login_code_goes_out_at_once_by_the_channel_identity_asks(notify: Notify) -> None:
    notify.service.deliver_identity_message(
        sealed({"to": EMAIL, "kind": "login_code", "code": "123456", "valid_minutes": 10})
    )
    notify.service.deliver_identity_message(
        sealed({"channel": "sms", "to": MOBILE, "kind": "login_code", "code": "654321"})
    )
    [mail], [text] = notify.gateways.to(EMAIL), notify.gateways.to(MOBILE)
    assert mail.subject == "Votre code de connexion" and "123456" in mail.body
    assert "654321" in text.body
    assert notify.store.deliveries == {}  # codes are never stored


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sealed": base64.urlsafe_b64encode(b"forged by someone").decode()}, "sealed"),
        ({}, "sealed"),
    ],
)
def test_an_identity_message_not_sealed_by_identity_is_refused(
    notify: Notify, payload: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        notify.service.deliver_identity_message(payload)
    assert str(refused.value).startswith(f"{field}:") or refused.value.details[0]["field"] == field
    assert notify.gateways.sent == []


def test_a_sealed_message_of_an_unknown_kind_is_refused_naming_the_field(notify: Notify) -> None:
    with pytest.raises(InvalidInput) as refused:
        notify.service.deliver_identity_message(sealed({"to": EMAIL, "kind": "lottery_win"}))
    assert [d["field"] for d in refused.value.details] == ["kind"] and notify.gateways.sent == []


# Events


def test_a_new_document_is_told_to_the_patient_once_whatever_the_redeliveries(
    notify: Notify,
) -> None:
    added = notify.event(EventType.DOCUMENT_ADDED, document_id="doc_1")
    notify.service.on_dossier_event(added)
    notify.service.on_dossier_event(added)  # the broker delivered it again
    [mail] = notify.gateways.to(EMAIL)
    assert mail.subject.startswith("Nouveau document")
    assert notify.service.retry_due() == {"attempted": 0}  # its fate is recorded: nothing to retry
    assert notify.store.dead_letters(10) == []


@pytest.mark.parametrize("handler", ["on_dossier_event", "on_consent_event"])
def test_the_patients_own_action_and_a_malformed_event_tell_nobody(
    notify: Notify, handler: str
) -> None:
    own = ActorRef(kind="patient", id=PATIENT_ID)
    getattr(notify.service, handler)(notify.event(EventType.DOCUMENT_ADDED, actor=own))
    getattr(notify.service, handler)({"event_id": "evt_bad", "type": "no_such_type"})
    assert notify.gateways.sent == [] and notify.store.deliveries == {}
    assert notify.store.parked == [{"event_id": "evt_bad", "type": "no_such_type"}]


def test_a_consent_recorded_by_a_professional_is_told_on_both_channels_when_chosen(
    notify: Notify,
) -> None:
    notify.service.set_preferences(notify.patient_token(), notify.ins, {"channels": "both"})
    notify.service.on_consent_event(notify.event(EventType.CONSENT_RECORDED))
    assert [m.channel for m in notify.gateways.sent] == ["email", "sms"]
    # by the patient's side: not told (they did it)
    notify.service.on_consent_event(
        notify.event(EventType.CONSENT_RECORDED, actor=ActorRef(kind="patient", id=PATIENT_ID))
    )
    assert len(notify.gateways.sent) == 2


def test_an_emergency_access_is_told_to_the_medecin_traitant_too(notify: Notify) -> None:
    notify.service.on_consent_event(
        notify.event(EventType.EMERGENCY_ACCESS_STARTED, data={"medecin_traitant": MEDECIN})
    )
    assert sorted(m.to for m in notify.gateways.sent) == sorted([EMAIL, "mt@pro.dmp-test.fr"])


def test_routine_events_wait_for_the_digest_and_go_in_one_message_the_next_day(
    notify: Notify,
) -> None:
    notify.store.set_preferences(PATIENT_ID, Preferences(routine=Routine.DAILY_DIGEST))
    for n in range(2):
        notify.service.on_dossier_event(
            notify.event(EventType.DOCUMENT_ADDED, document_id=f"doc_{n}")
        )
    notify.service.on_dossier_event(notify.event(EventType.FIRST_ACCESS))  # never waits
    assert len(notify.gateways.sent) == 1
    assert notify.service.send_digests() == {"digests": 0}  # the day is not over
    notify.clock.advance(timedelta(days=1))
    assert notify.service.send_digests() == {"digests": 1}
    assert notify.service.send_digests() == {"digests": 0}  # sent once
    digest = notify.gateways.sent[-1]
    assert len(notify.gateways.sent) == 2 and digest.to == EMAIL and "résumé" in digest.subject


# Retries and the operators' tools


def test_a_failed_send_is_retried_with_backoff_then_goes_out(notify: Notify) -> None:
    notify.gateways.failing = OSError("connection refused")
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    assert notify.gateways.sent == []
    notify.gateways.failing = None
    assert notify.service.retry_due() == {"attempted": 0}  # not before its time (30 s)
    notify.clock.advance(timedelta(seconds=30))
    assert notify.service.retry_due() == {"attempted": 1}
    assert len(notify.gateways.to(EMAIL)) == 1
    notify.clock.advance(timedelta(hours=1))
    assert notify.service.retry_due() == {"attempted": 0}


def test_a_message_sent_before_notify_died_is_recorded_not_sent_again(notify: Notify) -> None:
    notify.gateways.failing = OSError("down")
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    [delivery_id] = notify.store.deliveries
    # It went out on another attempt whose worker died before telling the store.
    SentJournal(notify.journal).record(delivery_id, "<id@dmp>", 0)
    notify.gateways.failing = None
    notify.clock.advance(timedelta(minutes=5))
    assert notify.service.retry_due() == {"attempted": 0}
    assert notify.gateways.sent == []
    assert notify.store.deliveries[delivery_id].status is Status.SENT


@pytest.mark.parametrize(
    ("channels", "address", "refusal"),
    [
        (Channels.EMAIL, EMAIL, smtplib.SMTPDataError(451, b"4.3.0 try again later")),
        (Channels.SMS, MOBILE, ConnectionError("SMS gateway answered 503")),
    ],
    ids=["mail", "sms"],
)
def test_a_message_refused_once_handed_over_is_not_recorded_as_sent_but_retried(
    notify: Notify, channels: Channels, address: str, refusal: Exception
) -> None:
    notify.store.set_preferences(PATIENT_ID, Preferences(channels))
    notify.gateways.refusing = refusal
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    [delivery_id] = notify.store.deliveries
    assert SentJournal(notify.journal).entries() == []  # noted as it was handed over, withdrawn
    assert notify.store.deliveries[delivery_id].status is Status.PENDING
    notify.gateways.refusing = None
    notify.clock.advance(timedelta(seconds=30))
    assert notify.service.retry_due() == {"attempted": 1}
    assert len(notify.gateways.to(address)) == 1
    assert notify.store.deliveries[delivery_id].status is Status.SENT


def test_the_retry_job_leaves_a_mail_in_the_servers_hands_to_its_attempt(notify: Notify) -> None:
    """While the server holds a mail and has not answered, even past the lease (the attempt stalled),
    the retry job neither records it as sent (the server may yet refuse it) nor sends it again."""
    jobs: list[dict[str, int]] = []

    def retry_job_runs() -> None:
        notify.clock.advance(timedelta(hours=1))
        jobs.append(notify.service.retry_due())

    notify.gateways.meanwhile = retry_job_runs
    notify.gateways.refusing = smtplib.SMTPDataError(451, b"4.3.0 try again later")
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    [delivery_id] = notify.store.deliveries
    assert jobs == [{"attempted": 1}] and notify.gateways.sent == []  # found abandoned, left alone
    assert notify.store.deliveries[delivery_id].status is Status.PENDING  # not taken for sent
    notify.gateways.meanwhile = notify.gateways.refusing = None
    notify.clock.advance(timedelta(hours=1))
    assert notify.service.retry_due() == {"attempted": 1}
    assert len(notify.gateways.to(EMAIL)) == 1
    assert notify.service.retry_due() == {"attempted": 0}


def test_an_address_refused_for_good_is_a_dead_letter_operators_replay(notify: Notify) -> None:
    notify.gateways.failing = PermanentFailure("recipient refused")
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    [letter] = notify.service.dead_letters()
    assert (letter["channel"], letter["whom"], letter["attempts"], letter["reason"]) == (
        "email",
        "patient",
        1,
        "recipient refused",
    )
    assert notify.service.dead_letters(0) == [letter]  # the limit is kept to at least one
    notify.gateways.failing = None
    assert notify.service.replay(letter["delivery_id"]) == {
        "delivery_id": letter["delivery_id"],
        "status": "replayed",
    }
    assert len(notify.gateways.to(EMAIL)) == 1 and notify.service.dead_letters() == []


def test_a_patient_with_no_mobile_on_file_gets_a_dead_letter_not_a_retry(notify: Notify) -> None:
    notify.store.set_preferences(PATIENT_ID, Preferences(Channels.SMS))
    notify.service.identity.patients[PATIENT_ID] = {"email": EMAIL, "mobile": "", "language": "fr"}
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    [letter] = notify.service.dead_letters()
    assert letter["reason"] == "no sms address on file" and notify.gateways.sent == []
    notify.clock.advance(timedelta(hours=1))
    assert notify.service.retry_due() == {"attempted": 0}


def test_replaying_what_is_no_dead_letter_is_refused(notify: Notify) -> None:
    with pytest.raises(NotFound) as unknown:
        notify.service.replay("evt_unknown:patient:email")
    assert unknown.value.details == [{"field": "delivery_id"}]
    with pytest.raises(InvalidInput) as missing:
        notify.service.replay("")
    assert missing.value.details[0]["field"] == "delivery_id"


def test_a_transient_failure_that_outlasts_every_attempt_becomes_a_dead_letter(
    notify: Notify, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_NOTIFY_MAX_ATTEMPTS", "2")
    notify.gateways.failing = OSError("down")
    notify.service.on_dossier_event(notify.event(EventType.DOCUMENT_ADDED))
    assert notify.service.dead_letters() == []
    notify.clock.advance(timedelta(seconds=30))
    assert notify.service.retry_due() == {"attempted": 1}
    [letter] = notify.service.dead_letters()
    assert letter["attempts"] == 2 and letter["reason"].startswith("gave up after retries")


# The patient's preferences


def test_the_patient_sets_and_reads_their_preferences(notify: Notify) -> None:
    token = notify.patient_token()
    chosen = {"channels": "sms", "routine": "daily_digest", "language": "en"}
    assert notify.service.set_preferences(token, notify.ins, chosen) == chosen
    assert notify.service.preferences(token, notify.ins) == chosen
    assert notify.consent.asked[-1] == (PATIENT_ID, notify.ins, "manage")


def test_preferences_never_set_read_as_the_defaults(notify: Notify) -> None:
    assert notify.service.preferences(notify.patient_token(), notify.ins) == {
        "channels": "email",
        "routine": "immediate",
        "language": None,
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"channels": "fax"}, "channels"), ({"routine": "weekly"}, "routine"), ({"x": 1}, "x")],
)
def test_invalid_preferences_are_refused_naming_the_field(
    notify: Notify, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        notify.service.set_preferences(notify.patient_token(), notify.ins, payload)
    assert field in [detail["field"] for detail in refused.value.details]
    assert notify.store.preferences(PATIENT_ID) == Preferences()


def test_someone_else_may_neither_set_nor_read_the_patients_preferences(notify: Notify) -> None:
    other = notify.tokens.professional("10000000008")
    with pytest.raises(AccessDenied) as refused:
        notify.service.set_preferences(other, notify.ins, {"channels": "sms"})
    assert refused.value.details == [{"rule": "R-NO-CONSENT"}]
    with pytest.raises(AccessDenied):
        notify.service.preferences(other, notify.ins)
    assert notify.store.preferences(PATIENT_ID) == Preferences()


def test_a_malformed_ins_is_refused_naming_the_field(notify: Notify) -> None:
    with pytest.raises(InvalidInput) as refused:
        notify.service.preferences(notify.patient_token(), "12345")
    assert refused.value.details[0]["field"] == "ins" and notify.consent.asked == []
