"""identity's store, the Mongo one and the in-memory one the fast tests use: the same answers to the same
calls (each test runs on both), and documents written by the version before records (the same layout) still
load on the Mongo one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from services.common.actors import Role
from services.common.clock import utcnow
from services.common.events import Event, EventType
from services.common.sessions import EndedSession
from services.identity.memory import MemoryIdentityStore
from services.identity.records import (
    Account,
    AccountStatus,
    CardNonce,
    Channel,
    CounterAgent,
    LegalRepresentation,
    LoginCode,
    Patient,
    Professional,
    Purpose,
    RefreshToken,
    SystemClient,
)
from services.identity.store import IdentityRecords, IdentityStore
from tests.store_contract import STORES, mongo_store, published


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[IdentityRecords]:
    if request.param == "memory":
        yield MemoryIdentityStore()
        return
    with mongo_store(request, IdentityStore) as mongo:
        yield mongo


@pytest.fixture
def mongo(request: pytest.FixtureRequest) -> Iterator[IdentityStore]:
    with mongo_store(request, IdentityStore) as store:
        yield store


def registered(kind: EventType = EventType.PATIENT_REGISTERED) -> Event:
    return Event.of(kind, "identity", utcnow(), None, patient_id="pat_1")


def test_a_patient_reads_back_as_registered_and_a_verified_contact_with_its_time(
    store: IdentityRecords,
) -> None:
    now = utcnow().replace(microsecond=0)
    patient = Patient(
        id="pat_1",
        ins="280017512345678",
        given_name="Camille",
        family_name="Martin",
        sex="F",
        birth_date=date(1980, 1, 15),
        email="camille@patients.dmp-test.fr",
        registered_at=now,
        mobile="+33612345678",
    )
    assert store.add_patient(patient, registered())
    assert not store.add_patient(patient, registered())  # the INS is taken
    assert store.patient_by_ins(patient.ins) == store.patient("pat_1") == patient
    store.set_contact("pat_1", Channel.SMS, "+33698765432", now)
    changed = store.patient("pat_1")
    assert (
        changed is not None
        and changed.mobile == "+33698765432"
        and changed.mobile_verified_at == now
    )
    assert not changed.verified(Channel.EMAIL)


@pytest.mark.store
def test_documents_of_the_earlier_version_load(mongo: IdentityStore) -> None:
    store = mongo
    now = utcnow().replace(microsecond=0)
    store.db.patients.insert_one(
        {
            "_id": "pat_2",
            "ins": "180017512345678",
            "given_name": "Luc",
            "family_name": "Martin",
            "sex": "M",
            "birth_date": "1975-06-01",
            "birth_place_code": None,
            "email": "luc@patients.dmp-test.fr",
            "mobile": None,
            "language": "fr",
            "registered_at": now,
            "email_verified": {"at": now},
        }
    )
    store.db.professionals.insert_one(
        {
            "_id": "rpps:10000000009",
            "rpps": "10000000009",
            "profession": "10",
            "given_name": "Jeanne",
            "family_name": "Durand",
            "specialty": None,
            "organisation": None,
            "email": None,
            "roles": ["samu_regulator"],
            "card_public_key": None,
            "status": "suspended",
            "registered_at": now,
        }
    )
    store.db.login_codes.insert_one(
        {  # made before codes had a channel
            "_id": "otp_1",
            "patient_id": "pat_2",
            "purpose": "login",
            "address": "luc@patients.dmp-test.fr",
            "created_at": now,
            "expires_at": now + timedelta(minutes=5),
            "attempts": 0,
            "consumed": False,
            "digest": "d",
        }
    )
    patient = store.patient("pat_2")
    assert (
        patient is not None
        and patient.birth_date == date(1975, 6, 1)
        and patient.email_verified_at == now
    )
    professional = store.account("rpps:10000000009")
    assert isinstance(professional, Professional) and professional.roles == (Role.SAMU_REGULATOR,)
    assert (
        professional.status is AccountStatus.SUSPENDED
        and store.professional("10000000009") == professional
    )
    code = store.latest_code("pat_2", Purpose.LOGIN)
    assert (
        code is not None
        and code.channel is Channel.EMAIL
        and code.address == "luc@patients.dmp-test.fr"
    )


def test_a_code_counts_its_attempts_and_is_consumed_once(store: IdentityRecords) -> None:
    now = utcnow().replace(microsecond=0)
    code = LoginCode(
        id="otp_2",
        subject_id="decoy:abc",
        purpose=Purpose.CONTACT,
        channel=Channel.SMS,
        address=None,
        created_at=now,
        expires_at=now + timedelta(minutes=5),
        attempts=0,
        consumed=False,
        digest="d",
    )
    store.add_code(code)
    assert store.latest_code("decoy:abc", Purpose.CONTACT) == code
    assert store.latest_code("decoy:abc", Purpose.LOGIN) is None
    counted = store.count_attempt("otp_2", 1)
    assert counted is not None and counted.attempts == 1
    assert store.count_attempt("otp_2", 1) is None  # the last attempt was counted
    assert store.consume_code("otp_2") and not store.consume_code("otp_2")


def test_a_refresh_token_reads_back_and_its_family_is_revoked_at_once(
    store: IdentityRecords,
) -> None:
    now = utcnow().replace(microsecond=0)
    first = RefreshToken(
        digest="r1",
        family="ses_1",
        patient_id="pat_1",
        ins="280017512345678",
        created_at=now,
        expires_at=now + timedelta(hours=12),
        consumed=False,
    )
    store.add_refresh(first)
    store.add_refresh(replace(first, digest="r2"))
    assert store.refresh_token("r1") == first
    store.revoke_family("ses_1")
    assert not store.consume_refresh("r1") and not store.consume_refresh("r2")


def a_patient(number: int = 1, ins: str = "280017512345678") -> Patient:
    return Patient(
        id=f"pat_{number}",
        ins=ins,
        given_name="Camille",
        family_name="Martin",
        sex="F",
        birth_date=date(1980, 1, 15),
        email=f"camille{number}@patients.dmp-test.fr",
        registered_at=utcnow(),
    )


def event(kind: EventType = EventType.LOGGED_IN, at: datetime | None = None) -> Event:
    return Event.of(kind, "identity", at or utcnow(), None)


def test_a_patient_is_registered_once_by_ins_with_one_event(store: IdentityRecords) -> None:
    first, again = registered(), registered()
    assert store.add_patient(a_patient(1), first)
    assert not store.add_patient(a_patient(2), again)  # another id, the same INS
    assert store.patient("pat_2") is None and store.patient_by_ins("180017512345678") is None
    assert published(store) == Counter([first.event_id])


def test_each_kind_of_account_reads_back_by_its_id_and_only_a_professional_by_rpps(
    store: IdentityRecords,
) -> None:
    now = utcnow()
    doctor = Professional(
        id="rpps:10000000009",
        rpps="10000000009",
        profession="10",
        given_name="Jeanne",
        family_name="Durand",
        status=AccountStatus.ACTIVE,
        registered_at=now,
        roles=(Role.SAMU_REGULATOR,),
    )
    agent = CounterAgent(
        id="agent:A1",
        agent_id="A1",
        organisation="751",
        given_name="Léa",
        family_name="Roy",
        card_public_key="k",
        status=AccountStatus.ACTIVE,
        registered_at=now,
    )
    feed = SystemClient(
        id="system:feed",
        client_id="feed",
        card_public_key="k",
        status=AccountStatus.ACTIVE,
        registered_at=now,
    )
    kept = [registered(EventType.PROFESSIONAL_REGISTERED) for _ in range(3)]
    accounts: tuple[Account, ...] = (doctor, agent, feed)
    for account, registration_event in zip(accounts, kept, strict=True):
        assert store.add_account(account, registration_event)
        assert store.account(account.id) == account
    assert not store.add_account(replace(doctor, given_name="Other"), registered())
    assert store.professional("10000000009") == doctor and store.professional("A1") is None
    assert store.account("rpps:19999999999") is None
    assert published(store) == Counter(e.event_id for e in kept)


def test_a_status_change_is_kept_and_an_unknown_account_is_not_changed(
    store: IdentityRecords,
) -> None:
    feed = SystemClient(
        id="system:feed",
        client_id="feed",
        card_public_key="k",
        status=AccountStatus.ACTIVE,
        registered_at=utcnow(),
    )
    store.add_account(feed, registered(EventType.SYSTEM_REGISTERED))
    assert store.set_status("system:feed", AccountStatus.SUSPENDED)
    account = store.account("system:feed")
    assert account is not None and account.status is AccountStatus.SUSPENDED
    assert not store.set_status("system:other", AccountStatus.SUSPENDED)
    assert store.account("system:other") is None


def test_an_event_kept_as_a_trace_is_published_once_and_its_id_is_not_reused(
    store: IdentityRecords,
) -> None:
    login, refusal, change = (
        event(),
        event(EventType.ACCESS_DENIED),
        event(EventType.ACCOUNT_STATUS_CHANGED),
    )
    store.record_login(login)
    store.record_refusal(refusal)
    store.record_account_change(change)
    with pytest.raises(DuplicateKeyError):
        store.record_login(login)
    assert published(store) == Counter([login.event_id, refusal.event_id, change.event_id])


def test_a_contact_change_publishes_its_event_and_a_missing_patient_changes_nothing(
    store: IdentityRecords,
) -> None:
    store.add_patient(a_patient(1), registered())
    now = utcnow()
    changed, lost = event(EventType.CONTACT_CHANGED), event(EventType.CONTACT_CHANGED)
    store.set_contact("pat_1", Channel.EMAIL, "new@patients.dmp-test.fr", now, changed)
    store.set_contact("pat_9", Channel.EMAIL, "new@patients.dmp-test.fr", now, lost)
    patient = store.patient("pat_1")
    assert patient is not None and patient.email == "new@patients.dmp-test.fr"
    assert patient.email_verified_at == now and not patient.verified(Channel.SMS)
    assert store.patient("pat_9") is None
    assert changed.event_id in published(store) and lost.event_id not in published(store)


def test_a_representation_is_recorded_once(store: IdentityRecords) -> None:
    now = utcnow()
    first, again = (
        registered(EventType.REPRESENTATIVE_ADDED),
        registered(EventType.REPRESENTATIVE_ADDED),
    )
    representation = LegalRepresentation("pat_1", "pat_2", now)
    assert store.add_representation(representation, first)
    assert not store.add_representation(replace(representation, added_at=now + timedelta(1)), again)
    assert store.representation("pat_1", "pat_2") == representation
    assert store.representation("pat_2", "pat_1") is None
    assert published(store) == Counter([first.event_id])


def test_a_bucket_counts_each_request(store: IdentityRecords) -> None:
    assert [store.count("address:1"), store.count("address:1"), store.count("address:2")] == [
        1,
        2,
        1,
    ]


def test_the_latest_code_is_the_newest_and_a_code_id_is_not_reused(store: IdentityRecords) -> None:
    now = utcnow()
    older = LoginCode(
        id="otp_1",
        subject_id="pat_1",
        purpose=Purpose.LOGIN,
        channel=Channel.EMAIL,
        address="a@patients.dmp-test.fr",
        created_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(minutes=4),
        attempts=0,
        consumed=False,
        digest="d1",
    )
    newer = replace(older, id="otp_2", created_at=now, digest="d2")
    store.add_code(newer)
    store.add_code(older)
    assert store.latest_code("pat_1", Purpose.LOGIN) == newer
    with pytest.raises(DuplicateKeyError):
        store.add_code(replace(older, digest="d3"))
    assert store.consume_code("otp_2")
    assert store.count_attempt("otp_2", 5) is None  # a consumed code takes no attempt
    assert store.count_attempt("otp_9", 5) is None and not store.consume_code("otp_9")


def test_a_card_nonce_reads_back_and_is_consumed_once(store: IdentityRecords) -> None:
    nonce = CardNonce("n1", "rpps:10000000009", utcnow() + timedelta(minutes=2), consumed=False)
    store.add_nonce(nonce)
    with pytest.raises(DuplicateKeyError):
        store.add_nonce(nonce)
    assert store.nonce("n1") == nonce and store.nonce("n2") is None
    assert store.consume_nonce("n1") and not store.consume_nonce("n1")
    assert not store.consume_nonce("n2")
    consumed = store.nonce("n1")
    assert consumed is not None and consumed.consumed


def test_revoking_a_family_leaves_the_other_sessions_tokens(store: IdentityRecords) -> None:
    now = utcnow()
    mine = RefreshToken(
        digest="r1",
        family="ses_1",
        patient_id="pat_1",
        ins="280017512345678",
        created_at=now,
        expires_at=now + timedelta(hours=12),
        consumed=False,
    )
    store.add_refresh(mine)
    store.add_refresh(replace(mine, digest="r2", family="ses_2"))
    with pytest.raises(DuplicateKeyError):
        store.add_refresh(mine)
    store.revoke_family("ses_1")
    revoked = store.refresh_token("r1")
    assert revoked is not None and revoked.consumed
    assert store.consume_refresh("r2") and store.refresh_token("r9") is None


def test_a_session_ends_once_and_is_listed_until_its_tokens_expire(store: IdentityRecords) -> None:
    now = utcnow()
    first, again, other = (event(EventType.SESSION_ENDED) for _ in range(3))
    store.end_session(EndedSession("ses_1", now + timedelta(minutes=15)), first)
    store.end_session(EndedSession("ses_1", now + timedelta(minutes=20)), again)
    store.end_session(EndedSession("ses_2", now + timedelta(minutes=5)), other)
    assert store.ended_sessions(now) == [
        EndedSession("ses_1", now + timedelta(minutes=15)),
        EndedSession("ses_2", now + timedelta(minutes=5)),
    ]
    assert store.ended_sessions(now + timedelta(minutes=10)) == [
        EndedSession("ses_1", now + timedelta(minutes=15))
    ]
    assert published(store) == Counter([first.event_id, other.event_id])


def test_a_received_event_is_read_and_a_malformed_one_is_parked(store: IdentityRecords) -> None:
    sent = event(EventType.DOSSIER_OPENED)
    assert store.received_event(sent.model_dump(mode="json")) == sent
    assert store.received_event({"event_id": "e1", "type": "nonsense"}) is None
