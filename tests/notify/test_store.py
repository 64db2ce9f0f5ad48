"""notify's store contract, on both stores (the embedded one and the in-memory one the fast tests use):
records read back as written, claims and leases, the retry schedule, dead letters; and, on the embedded
store, documents as the previous version wrote them (raw dicts, epoch milliseconds) still load."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.common.clock import utcnow
from services.common.events import ActorRef, Event, EventType
from services.notify.memory import MemoryNotifyStore
from services.notify.messages import PATIENT
from services.notify.records import (
    Channel,
    Channels,
    DeadLetter,
    Delivery,
    Digest,
    DigestItem,
    Preferences,
    Routine,
)
from services.notify.store import NotifyRecords, NotifyStore, ms
from tests.store_contract import store_on

LEASE = timedelta(seconds=60)


@pytest.fixture
def database(environment: dict[str, str]) -> Iterator[Database[dict[str, Any]]]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_notify_store_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()


@pytest.fixture
def mongo_store(database: Database[dict[str, Any]]) -> NotifyStore:
    return store_on(database, NotifyStore)


# The stores' contract: `make test-store MONGO_URI=...` runs the mongo variants on any MongoDB.
@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.store)])
def store(request: pytest.FixtureRequest) -> NotifyRecords:
    if request.param == "memory":
        return MemoryNotifyStore()
    found: NotifyStore = request.getfixturevalue("mongo_store")
    return found


def happened(event_id: str = "evt_1") -> Event:
    return Event(
        event_id=event_id,
        type=EventType.DOCUMENT_ADDED,
        source="dossier",
        occurred_at=utcnow(),
        patient_id="pat_1",
        actor=ActorRef(kind="professional", id="rpps:10000000008", profession="10"),
    )


def test_a_delivery_is_claimed_once_and_again_after_its_lease(store: NotifyRecords) -> None:
    now = utcnow()
    delivery = Delivery.of_event(happened(), PATIENT, "", Channel.SMS)
    first = store.add_delivery(delivery, now)
    assert (
        first is not None
        and first.delivery == delivery
        and first.attempts == 1
        and first.claimed_at == now
    )
    assert store.add_delivery(delivery, now) is None  # a redelivered event
    assert store.claim(delivery.delivery_id, now + LEASE / 2, LEASE) is None  # still its writer's
    assert store.due(now + LEASE / 2, LEASE) == []
    later = now + LEASE + timedelta(seconds=1)
    assert store.due(later, LEASE) == [delivery.delivery_id]  # abandoned
    second = store.claim(delivery.delivery_id, later, LEASE)
    assert second is not None and second.delivery == delivery and second.attempts == 2
    assert store.still_held(second) and not store.still_held(first)


def test_a_dead_letter_is_listed_and_replayed(store: NotifyRecords) -> None:
    now = utcnow()
    claim = store.add_delivery(Delivery.of_event(happened(), PATIENT, "", Channel.EMAIL), now)
    assert claim is not None
    store.dead_letter(claim, now, "recipient refused")
    assert store.dead_letters(10) == [
        DeadLetter(claim.delivery.delivery_id, Channel.EMAIL, PATIENT, 1, "recipient refused")
    ]
    assert store.replay(claim.delivery.delivery_id, now)
    assert store.due(now, LEASE) == [claim.delivery.delivery_id] and store.dead_letters(10) == []


def test_preferences_and_digest_items_read_back_as_written(store: NotifyRecords) -> None:
    assert store.preferences("pat_1") == Preferences()  # never set: the defaults
    chosen = Preferences(Channels.BOTH, Routine.DAILY_DIGEST, "en")
    store.set_preferences("pat_1", chosen)
    assert store.preferences("pat_1") == chosen
    item = DigestItem.of(happened(), "pat_1")
    store.add_digest_item(item)
    store.add_digest_item(item)  # a redelivered event
    assert store.digest_days_before(item.day) == []
    assert store.digest_days_before(item.day + timedelta(days=1)) == [item]


@pytest.mark.store
def test_documents_of_the_previous_version_load(
    mongo_store: NotifyStore, database: Database[dict[str, Any]]
) -> None:
    store = mongo_store
    now, event = utcnow(), happened().model_dump(mode="json")
    earlier = ms(now - timedelta(minutes=5))
    database.deliveries.insert_many(
        [  # as the previous version wrote them
            {
                "_id": "digest:pat_1:2026-03-01:sms",
                "event_id": "digest:2026-03-01",
                "whom": "patient",
                "patient_id": "pat_1",
                "professional_id": "",
                "channel": "sms",
                "digest": True,
                "events": [event],
                "next_ms": earlier,
                "status": "pending",
                "attempts": 1,
                "claimed_ms": earlier,
                "last_error": "OSError: x",
            },
            {
                "_id": "evt_2:author:email",
                "event_id": "evt_2",
                "whom": "author",
                "patient_id": None,
                "professional_id": "rpps:10000000008",
                "channel": "email",
                "events": [event],
                "next_ms": earlier,
                "status": "dead_letter",
                "attempts": 8,
                "claimed_ms": earlier,
                "outcome": {"at": now, "detail": "gave up after retries: OSError: x"},
            },
        ]
    )
    database.preferences.insert_one(
        {"_id": "pat_1", "channels": "sms", "routine": "daily_digest", "language": None}
    )
    database.digest_items.insert_one(
        {
            "_id": "evt_3:digest",
            "patient_id": "pat_1",
            "day": "2026-03-01",
            "at_ms": earlier,
            "event": event,
        }
    )
    claim = store.claim("digest:pat_1:2026-03-01:sms", now, LEASE)
    assert claim is not None and claim.attempts == 2 and claim.delivery.digest
    assert claim.delivery.channel is Channel.SMS and claim.delivery.events == (
        Event.model_validate(event),
    )
    assert store.dead_letters(10) == [
        DeadLetter(
            "evt_2:author:email", Channel.EMAIL, "author", 8, "gave up after retries: OSError: x"
        )
    ]
    assert store.preferences("pat_1") == Preferences(Channels.SMS, Routine.DAILY_DIGEST)
    [item] = store.digest_days_before(date(2026, 3, 2))
    assert (item.item_id, item.day.isoformat(), ms(item.at)) == (
        "evt_3:digest",
        "2026-03-01",
        earlier,
    )


def test_a_claim_is_refused_for_what_is_unknown_or_done(store: NotifyRecords) -> None:
    now = utcnow()
    assert store.claim("evt_unknown:patient:email", now, LEASE) is None
    claim = store.add_delivery(Delivery.of_event(happened(), PATIENT, "", Channel.EMAIL), now)
    assert claim is not None
    store.sent(claim.delivery.delivery_id, now, "<id@dmp>")
    later = now + 2 * LEASE
    assert store.claim(claim.delivery.delivery_id, later, LEASE) is None
    assert store.due(later, LEASE) == [] and not store.still_held(claim)
    assert store.replay(claim.delivery.delivery_id, later) is False  # sent is no dead letter
    assert store.replay("evt_unknown:patient:email", later) is False


def test_a_failed_attempt_waits_for_its_time_then_is_claimed_again(store: NotifyRecords) -> None:
    now = utcnow()
    claim = store.add_delivery(Delivery.of_event(happened(), PATIENT, "", Channel.SMS), now)
    assert claim is not None
    store.retry_later(claim, now + timedelta(seconds=30), "OSError: down")
    assert not store.still_held(claim)  # given back
    assert store.due(now + timedelta(seconds=29), LEASE) == []
    assert store.due(now + timedelta(seconds=30), LEASE) == [claim.delivery.delivery_id]
    # Pending is claimable at once (the retry job asks `due` first), and then held for its lease.
    again = store.claim(claim.delivery.delivery_id, now + timedelta(seconds=31), LEASE)
    assert again is not None and again.attempts == 2 and store.still_held(again)
    assert store.claim(claim.delivery.delivery_id, now + timedelta(seconds=32), LEASE) is None


def test_an_attempt_that_lost_its_claim_decides_nothing(store: NotifyRecords) -> None:
    """A stale attempt failing late (taken over after its lease, or its delivery recorded as sent from
    the journal meanwhile) neither gives the delivery back nor dead-letters it: either would have it
    sent again (found by reading: a send whose goodbye failed was retried over its own 'sent')."""
    now = utcnow()
    first = store.add_delivery(Delivery.of_event(happened(), PATIENT, "", Channel.EMAIL), now)
    assert first is not None
    delivery_id = first.delivery.delivery_id
    later = now + LEASE + timedelta(seconds=1)
    second = store.claim(delivery_id, later, LEASE)
    assert second is not None
    store.retry_later(first, later, "OSError: late")
    store.dead_letter(first, later, "SMTP 554")
    assert store.still_held(second) and store.dead_letters(10) == []
    store.sent(delivery_id, later, "<id@dmp>")  # recorded from the journal, whoever holds it
    store.retry_later(second, later, "OSError: late")
    store.dead_letter(second, later, "SMTP 554")
    much_later = later + 2 * LEASE
    assert store.due(much_later, LEASE) == [] and store.dead_letters(10) == []
    assert store.claim(delivery_id, much_later, LEASE) is None


def test_due_and_dead_letters_keep_to_their_limit(store: NotifyRecords) -> None:
    now = utcnow()
    ids = []
    for n in range(3):
        claim = store.add_delivery(
            Delivery.of_event(happened(f"evt_{n}"), PATIENT, "", Channel.EMAIL), now
        )
        assert claim is not None
        ids.append(claim.delivery.delivery_id)
        store.dead_letter(claim, now, f"refused {n}")
    letters = store.dead_letters(2)
    assert len(letters) == 2 and {letter.delivery_id for letter in letters} < set(ids)
    assert sorted(letter.reason for letter in store.dead_letters(10)) == [
        "refused 0",
        "refused 1",
        "refused 2",
    ]
    for delivery_id in ids:
        assert store.replay(delivery_id, now)
    assert len(store.due(now, LEASE, limit=2)) == 2
    assert sorted(store.due(now, LEASE)) == sorted(ids)
    replayed = store.claim(ids[0], now, LEASE)
    assert replayed is not None and replayed.attempts == 1  # a replay starts the count again


def test_preferences_are_replaced_and_kept_per_patient(store: NotifyRecords) -> None:
    store.set_preferences("pat_1", Preferences(Channels.SMS))
    store.set_preferences("pat_1", Preferences(Channels.BOTH, language="fr"))
    assert store.preferences("pat_1") == Preferences(Channels.BOTH, language="fr")
    assert store.preferences("pat_2") == Preferences()


def test_a_digest_lists_by_patient_then_time_and_goes_once_sent(store: NotifyRecords) -> None:
    now = utcnow()
    day = now.date()
    items = [
        DigestItem("evt_b:digest", "pat_2", day, now, happened("evt_b")),
        DigestItem("evt_c:digest", "pat_1", day, now + timedelta(seconds=1), happened("evt_c")),
        DigestItem("evt_a:digest", "pat_1", day, now, happened("evt_a")),
        DigestItem("evt_d:digest", "pat_1", day + timedelta(days=1), now, happened("evt_d")),
    ]
    for item in items:
        store.add_digest_item(item)
    found = store.digest_days_before(day + timedelta(days=1))
    assert [item.item_id for item in found] == ["evt_a:digest", "evt_c:digest", "evt_b:digest"]
    store.drop_digest(Digest("pat_1", day, (items[1], items[2])))
    assert [i.item_id for i in store.digest_days_before(day + timedelta(days=2))] == [
        "evt_d:digest",
        "evt_b:digest",
    ]


def test_a_malformed_event_is_refused_and_a_valid_one_read(store: NotifyRecords) -> None:
    event = happened()
    assert store.received_event(event.model_dump(mode="json")) == event
    assert store.received_event({"event_id": "evt_x", "type": "no_such_type"}) is None
