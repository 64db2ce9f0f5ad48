"""identity's store on the embedded store: records read back as written, and documents written by the
version before records (the same layout) still load."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.common.actors import Role
from services.common.clock import utcnow
from services.common.events import Event, EventType
from services.common.outbox import OutboxRelay
from services.common.settings import Settings
from services.identity.records import (
    AccountStatus,
    Channel,
    LoginCode,
    Patient,
    Professional,
    Purpose,
    RefreshToken,
)
from services.identity.store import IdentityStore

pytestmark = (
    pytest.mark.store
)  # the stores' contract: `make test-store MONGO_URI=...` runs it on any MongoDB


@pytest.fixture
def store(environment: dict[str, str]) -> Iterator[IdentityStore]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_identity_store_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    database: Database[dict[str, Any]] = client[name]
    IdentityStore.prepare(database)
    relay = OutboxRelay(
        database, IdentityStore.outbox_collections, "amqp://unused", 1.0, "identity"
    )  # not started
    yield IdentityStore(database, relay, Settings.load())
    client.drop_database(name)
    client.close()


def registered(kind: EventType = EventType.PATIENT_REGISTERED) -> Event:
    return Event.of(kind, "identity", utcnow(), None, patient_id="pat_1")


def test_a_patient_reads_back_as_registered_and_a_verified_contact_with_its_time(
    store: IdentityStore,
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


def test_documents_of_the_earlier_version_load(store: IdentityStore) -> None:
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


def test_a_code_counts_its_attempts_and_is_consumed_once(store: IdentityStore) -> None:
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


def test_a_refresh_token_reads_back_and_its_family_is_revoked_at_once(store: IdentityStore) -> None:
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
