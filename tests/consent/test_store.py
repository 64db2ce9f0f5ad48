"""consent's store, the Mongo one and the in-memory one the fast tests use: each fact read back as recorded,
with the same answers to the same calls (those tests run on both); on the Mongo one, a decision's facts in
one command (issue 19: it was six on every request) and records of the earlier layout moved without losing
any."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.errors import Conflict
from services.common.events import Event, EventType
from services.consent.memory import MemoryConsentStore
from services.consent.records import Authorisation, EmergencyRecord, Kind, PatientSettings
from services.consent.rules import Facts
from services.consent.store import FACTS, ConsentRecords, ConsentStore, fact_id, ms
from tests.store_commands import Commands, listening
from tests.store_contract import STORES, mongo_store, published, store_on

MILLISECOND = timedelta(milliseconds=1)
DOCTOR = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000009", rpps="10000000009", profession="10"
)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[ConsentRecords]:
    if request.param == "memory":
        yield MemoryConsentStore()
        return
    with mongo_store(request, ConsentStore) as mongo:
        yield mongo


@pytest.fixture
def database(environment: dict[str, str]) -> Iterator[tuple[Database[dict[str, Any]], Commands]]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_consent_store_{uuid.uuid4().hex[:8]}"
    commands = Commands(name)
    with listening(commands):
        client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    yield client[name], commands
    client.drop_database(name)
    client.close()


def opened(database: Database[dict[str, Any]]) -> ConsentStore:
    return store_on(database, ConsentStore)


def recorded(
    kind: Kind, ins: str, professional_id: str, until_days: int | None = None
) -> Authorisation:
    now = utcnow()
    return Authorisation(
        kind=kind,
        ins=ins,
        patient_id="pat_1",
        professional_id=professional_id,
        recorded_at=now,
        recorded_by=professional_id,
        until=now + timedelta(days=until_days) if until_days is not None else None,
    )


def happened(kind: EventType = EventType.CONSENT_RECORDED) -> Event:
    return Event.of(kind, "consent", utcnow(), DOCTOR, patient_id="pat_1")


def ins_() -> str:
    return f"2{uuid.uuid4().int % 10**14:014d}"


@pytest.mark.store
def test_a_decision_reads_its_facts_in_one_command(
    database: tuple[Database[dict[str, Any]], Commands],
) -> None:
    db, commands = database
    store, ins = opened(db), ins_()
    store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), happened())
    store.authorise(
        recorded(Kind.CARE_TEAM, ins, DOCTOR.id, until_days=30),
        happened(EventType.CARE_TEAM_JOINED),
    )
    store.save_settings(
        PatientSettings(ins, "pat_1").with_medecin_traitant(DOCTOR.id, utcnow()),
        happened(EventType.MEDECIN_TRAITANT_DECLARED),
    )
    facts: list[Facts] = []
    sent = commands.during(lambda: facts.append(store.facts_for(ins, "pat_1", DOCTOR.id, utcnow())))
    assert sent == [("find", FACTS)]
    assert facts[0] == Facts(
        ins=ins, patient_id="pat_1", has_consent=True, in_care_team=True, is_medecin_traitant=True
    )


def test_each_fact_decides_as_recorded(store: ConsentRecords) -> None:
    ins, now = ins_(), utcnow()
    store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), happened())
    assert store.withdraw(
        Kind.CONSENT, ins, DOCTOR.id, "pat_1", utcnow(), happened(EventType.CONSENT_WITHDRAWN)
    )
    store.authorise(
        recorded(Kind.OCCUPATIONAL_CONSENT, ins, DOCTOR.id),
        happened(EventType.OCCUPATIONAL_CONSENT_GIVEN),
    )
    store.save_settings(
        store.patient_settings(ins).with_block(DOCTOR.id, True),
        happened(EventType.PROFESSIONAL_BLOCKED),
    )
    store.apply_status(DOCTOR.id, "suspended", now)
    store.apply_status(
        DOCTOR.id, "active", now - MILLISECOND
    )  # older news arriving late changes nothing
    now = utcnow()
    facts = store.facts_for(ins, "pat_1", DOCTOR.id, now)
    assert facts == Facts(
        ins=ins, patient_id="pat_1", occupational_consent=True, blocked=True, suspended=True
    )
    # another professional, another patient: none of it
    assert store.facts_for(ins, "pat_1", "rpps:10000000017", now) == Facts(
        ins=ins, patient_id="pat_1"
    )
    assert store.facts_for(
        ins_(), "pat_2", DOCTOR.id, now
    ).suspended  # the account's status follows its holder
    # the patient's side lists only active authorisations of the kind asked
    assert store.authorisations(Kind.CONSENT, ins, now) == []
    assert [
        r.professional_id for r in store.authorisations(Kind.OCCUPATIONAL_CONSENT, ins, now)
    ] == [DOCTOR.id]


def test_settings_changed_meanwhile_are_not_overwritten(store: ConsentRecords) -> None:
    ins = ins_()
    store.save_settings(
        PatientSettings(ins, "pat_1").with_block("rpps:10000000017", True),
        happened(EventType.PROFESSIONAL_BLOCKED),
    )
    read_once, read_twice = store.patient_settings(ins), store.patient_settings(ins)
    store.save_settings(
        read_once.with_block(DOCTOR.id, True), happened(EventType.PROFESSIONAL_BLOCKED)
    )
    with pytest.raises(Conflict):  # an unblock computed from what was there before the block
        unblocked = read_twice.with_block("rpps:10000000017", False)
        store.save_settings(unblocked, happened(EventType.PROFESSIONAL_UNBLOCKED))
    assert store.patient_settings(ins).blocked == (DOCTOR.id, "rpps:10000000017")
    with pytest.raises(Conflict):  # two first settings at once: the second is refused, not merged
        store.save_settings(
            PatientSettings(ins, "pat_1"), happened(EventType.EMERGENCY_OPPOSITIONS_SET)
        )


def emergency(ins: str, started: datetime, reason: str) -> EmergencyRecord:
    return EmergencyRecord(
        event_id=f"evt_{reason}",
        ins=ins,
        patient_id="pat_1",
        professional_id=DOCTOR.id,
        regulator=False,
        reason=reason,
        started_at=started,
        until=started + timedelta(hours=1),
    )


def test_an_emergency_counts_until_it_ends_and_each_start_is_published(
    store: ConsentRecords,
) -> None:
    ins, now = ins_(), utcnow()
    first, second = (happened(EventType.EMERGENCY_ACCESS_STARTED) for _ in range(2))
    store.start_emergency(emergency(ins, now - timedelta(hours=3), "first"), first)
    assert store.facts_for(ins, "pat_1", DOCTOR.id, now).emergency is None  # ended two hours ago
    store.start_emergency(emergency(ins, now, "second"), second)
    running = store.facts_for(ins, "pat_1", DOCTOR.id, now).emergency
    assert running is not None and not running.regulator and running.expires_at > now
    assert store.facts_for(ins, "pat_1", "rpps:10000000017", now).emergency is None
    # both starts' events, for the patient's trail and their mail
    assert published(store) == Counter([first.event_id, second.event_id])


@pytest.mark.store
def test_earlier_emergencies_are_kept_inside_the_latest(
    database: tuple[Database[dict[str, Any]], Commands],
) -> None:
    db, _ = database
    store, ins, now = opened(db), ins_(), utcnow()
    store.start_emergency(
        emergency(ins, now - timedelta(hours=3), "first"),
        happened(EventType.EMERGENCY_ACCESS_STARTED),
    )
    store.start_emergency(
        emergency(ins, now, "second"), happened(EventType.EMERGENCY_ACCESS_STARTED)
    )
    record = db[FACTS].find_one({"_id": fact_id(Kind.EMERGENCY, DOCTOR.id, ins)})
    assert record is not None and record["reason"] == "second"
    assert [e["reason"] for e in record["earlier"]] == ["first"]


@pytest.mark.store
def test_records_of_the_earlier_layout_are_moved_once_events_included(
    database: tuple[Database[dict[str, Any]], Commands],
) -> None:
    db, _ = database
    ins, now = ins_(), utcnow()
    pending = {"_outbox": [{"event_id": "evt_x"}], "_outbox_pending": True}
    db.consents.insert_one(
        {
            "_id": f"{DOCTOR.id}|{ins}",
            "ins": ins,
            "patient_id": "pat_1",
            "professional_id": DOCTOR.id,
            "recorded": {"at": now, "by": DOCTOR.id, "ms": ms(now)},
            "from_ms": ms(now),
            "until_ms": None,
            "withdrawn": None,
            **pending,
        }
    )
    db.patient_settings.insert_one(
        {
            "_id": ins,
            "patient_id": "pat_1",
            "medecin_traitant": DOCTOR.id,
            "mt_history": [],
            "mt_proposals": [],
            "blocked": [],
            "oppose_emergency": True,
            "oppose_regulator": False,
        }
    )
    db.account_status.insert_one({"_id": DOCTOR.id, "status": "suspended", "changed_ms": ms(now)})
    for hours_ago, reason in ((5, "older"), (0, "latest")):
        started = now - timedelta(hours=hours_ago)
        db.emergencies.insert_one(
            {
                "_id": f"evt_{reason}",
                "ins": ins,
                "patient_id": "pat_1",
                "professional_id": DOCTOR.id,
                "regulator": False,
                "reason": reason,
                "started": {"at": started, "until": started + timedelta(hours=1)},
                "expires_ms": ms(started + timedelta(hours=1)),
            }
        )
    store = opened(db)
    opened(db)  # a second start moves nothing twice
    assert not {"consents", "patient_settings", "account_status", "emergencies"} & set(
        db.list_collection_names()
    )
    facts = store.facts_for(ins, "pat_1", DOCTOR.id, now)
    assert (facts.has_consent, facts.is_medecin_traitant, facts.suspended) == (True, True, True)
    assert facts.emergency is not None
    assert store.patient_settings(ins).oppose_emergency
    consent = db[FACTS].find_one({"_id": fact_id(Kind.CONSENT, DOCTOR.id, ins)})
    assert (
        consent is not None
        and consent["_outbox_pending"]
        and consent["_outbox"] == [{"event_id": "evt_x"}]
    )
    emergency = db[FACTS].find_one({"_id": fact_id(Kind.EMERGENCY, DOCTOR.id, ins)})
    assert emergency is not None and emergency["event_id"] == "evt_latest"
    assert [(e["event_id"], e["reason"]) for e in emergency["earlier"]] == [("evt_older", "older")]
    assert (
        db[FACTS].count_documents({"ins": ins}) == 3
    )  # consent, settings, emergency (the status has no INS)


@pytest.mark.store
def test_the_outbox_publishing_a_change_is_not_a_change_of_the_settings(
    database: tuple[Database[dict[str, Any]], Commands],
) -> None:
    """The relay marks the events published (moving the document's version) between a read and its write:
    the write still lands."""
    db, _ = database
    store, ins = opened(db), ins_()
    store.save_settings(
        PatientSettings(ins, "pat_1").proposed_by(DOCTOR.id, utcnow()),
        happened(EventType.MEDECIN_TRAITANT_PROPOSED),
    )
    read = store.patient_settings(ins)
    db[FACTS].update_one(
        {"_id": fact_id(Kind.SETTINGS, ins)},  # what the relay does once it has published
        {"$set": {"_outbox": [], "_outbox_pending": False}, "$inc": {"_version": 1}},
    )
    store.save_settings(
        read.with_medecin_traitant(DOCTOR.id, utcnow()),
        happened(EventType.MEDECIN_TRAITANT_DECLARED),
    )
    assert store.patient_settings(ins).medecin_traitant == DOCTOR.id


def test_an_authorisation_reads_back_as_recorded(store: ConsentRecords) -> None:
    ins = ins_()
    member = replace(
        recorded(Kind.CARE_TEAM, ins, DOCTOR.id, until_days=30),
        organisation="750000001",
        patient_informed=True,
    )
    assert store.authorise(member, happened(EventType.CARE_TEAM_JOINED))
    assert store.authorisation(Kind.CARE_TEAM, ins, DOCTOR.id) == member
    assert store.authorisation(Kind.CONSENT, ins, DOCTOR.id) is None
    assert store.authorisation(Kind.CARE_TEAM, ins_(), DOCTOR.id) is None


def test_an_active_authorisation_is_not_renewed_and_a_withdrawn_one_is(
    store: ConsentRecords,
) -> None:
    ins = ins_()
    first, again, withdrawn, renewed = (happened() for _ in range(4))
    assert store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), first)
    assert not store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), again)
    assert store.withdraw(Kind.CONSENT, ins, DOCTOR.id, "pat_1", utcnow(), withdrawn)
    assert not store.withdraw(Kind.CONSENT, ins, DOCTOR.id, "pat_1", utcnow(), happened())
    renewal = recorded(Kind.CONSENT, ins, DOCTOR.id, until_days=10)
    assert store.authorise(renewal, renewed)
    assert store.authorisation(Kind.CONSENT, ins, DOCTOR.id) == renewal
    assert published(store) == Counter([first.event_id, withdrawn.event_id, renewed.event_id])


def test_an_expired_authorisation_is_renewed_and_nothing_unrecorded_is_withdrawn(
    store: ConsentRecords,
) -> None:
    ins, now = ins_(), utcnow()
    expired = replace(
        recorded(Kind.CONSENT, ins, DOCTOR.id),
        recorded_at=now - timedelta(days=20),
        until=now - timedelta(days=10),
    )
    store.authorise(expired, happened())
    assert not store.facts_for(ins, "pat_1", DOCTOR.id, now).has_consent
    assert store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), happened())
    assert store.facts_for(ins, "pat_1", DOCTOR.id, utcnow()).has_consent
    lost = happened(EventType.CARE_TEAM_OBJECTED)
    assert not store.withdraw(Kind.CARE_TEAM, ins, DOCTOR.id, "pat_1", now, lost)
    assert lost.event_id not in published(store)


def test_a_patients_authorisations_are_the_active_ones_of_the_kind(store: ConsentRecords) -> None:
    ins, other = ins_(), "rpps:10000000017"
    store.authorise(recorded(Kind.CONSENT, ins, DOCTOR.id), happened())
    store.authorise(recorded(Kind.CONSENT, ins, other, until_days=1), happened())
    store.authorise(recorded(Kind.CONSENT, ins_(), "rpps:10000000025"), happened())
    store.authorise(recorded(Kind.CARE_TEAM, ins, "rpps:10000000033", 5), happened())
    now = utcnow()
    listed = store.authorisations(Kind.CONSENT, ins, now)
    assert sorted(a.professional_id for a in listed) == sorted([DOCTOR.id, other])
    later = store.authorisations(Kind.CONSENT, ins, now + timedelta(days=2))
    assert [a.professional_id for a in later] == [DOCTOR.id]


def test_settings_read_back_as_saved_each_save_counting_once(store: ConsentRecords) -> None:
    ins, now = ins_(), utcnow()
    assert store.patient_settings(ins) == PatientSettings(ins)  # never stored
    proposed = PatientSettings(ins, "pat_1").proposed_by("rpps:10000000017", now)
    store.save_settings(proposed, happened(EventType.MEDECIN_TRAITANT_PROPOSED))
    read = store.patient_settings(ins)
    assert read == replace(proposed, version=0)
    changed = replace(
        read.with_medecin_traitant(DOCTOR.id, now).without_medecin_traitant(now),
        oppose_emergency=True,
    ).with_block("rpps:10000000017", True)
    store.save_settings(changed, happened(EventType.EMERGENCY_OPPOSITIONS_SET))
    assert store.patient_settings(ins) == replace(changed, version=1)
    assert len(published(store)) == 2


def test_a_refusal_is_published_once_and_its_event_is_not_recorded_twice(
    store: ConsentRecords,
) -> None:
    refusal = happened(EventType.ACCESS_DENIED)
    store.record_refusal(refusal)
    with pytest.raises(DuplicateKeyError):
        store.record_refusal(refusal)
    assert published(store) == Counter([refusal.event_id])


def test_an_accounts_newest_status_decides(store: ConsentRecords) -> None:
    now = utcnow()
    assert not store.suspended(DOCTOR.id)
    store.apply_status(DOCTOR.id, "suspended", now)
    store.apply_status(DOCTOR.id, "suspended", now)  # heard twice
    assert store.suspended(DOCTOR.id) and not store.suspended("rpps:10000000017")
    store.apply_status(DOCTOR.id, "active", now + MILLISECOND)
    assert not store.suspended(DOCTOR.id)


def test_a_received_event_is_read_and_a_malformed_one_is_parked(store: ConsentRecords) -> None:
    sent = happened(EventType.ACCOUNT_STATUS_CHANGED)
    assert store.received_event(sent.model_dump(mode="json")) == sent
    assert store.received_event({"event_id": "e1"}) is None
