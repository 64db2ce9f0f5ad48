"""Issue 19: what the trail costs the store per event, counted on the wire (pymongo's command monitoring,
a figure no load on the machine moves), with the chain still whole in every case that makes it cost more."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.audit.chain import GENESIS, first_break, link
from services.audit.records import trace_of
from services.audit.store import AuditStore, trace_document
from services.common.actors import ActorKind
from services.common.clock import utcnow
from services.common.events import ActorRef, Event, EventType
from tests.store_commands import Commands, listening
from tests.store_contract import store_on

pytestmark = (
    pytest.mark.store
)  # the stores' contract: `make test-store MONGO_URI=...` runs it on any MongoDB


@pytest.fixture
def store(environment: dict[str, str]) -> Iterator[tuple[AuditStore, Commands]]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_audit"
    commands = Commands(name)
    with listening(commands):
        client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    database: Database[dict[str, Any]] = client[name]
    yield store_on(database, AuditStore), commands
    client.drop_database(
        name
    )  # run on an operator's MongoDB too (make test-store): leave nothing there
    client.close()


def event(
    patient_id: str,
    event_type: EventType = EventType.DOSSIER_OPENED,
    document_id: str | None = None,
) -> Event:
    actor = ActorRef(id="prof_10000000009", kind=ActorKind.PROFESSIONAL.value)
    return Event(
        type=event_type,
        source="dossier",
        occurred_at=utcnow(),
        actor=actor,
        patient_id=patient_id,
        document_id=document_id,
    )


def whole(store: AuditStore, chain: str) -> tuple[int, bool]:
    """(the chain's length, whether every link holds)."""
    broken, last, _ = first_break(chain, store.chain_traces(chain))
    return last, broken is None


def test_a_trace_costs_three_commands_once_its_chain_exists(
    store: tuple[AuditStore, Commands],
) -> None:
    audit, commands = store
    patient = f"pat_{uuid.uuid4().hex[:12]}"
    audit.append(trace_of(event(patient)), utcnow())
    sent = commands.during(lambda: audit.append(trace_of(event(patient)), utcnow()))
    assert [name for name, _ in sent] == ["find", "insert", "update"], (
        sent
    )  # the head, the trace, the head
    assert whole(audit, patient) == (2, True)


def test_a_deposits_document_is_remembered_in_one_command(
    store: tuple[AuditStore, Commands],
) -> None:
    audit, commands = store
    added = event(
        f"pat_{uuid.uuid4().hex[:12]}", EventType.DOCUMENT_ADDED, f"doc_{uuid.uuid4().hex[:12]}"
    )
    sent = commands.during(lambda: audit.remember_document(added))
    assert sent == [("insert", "documents")]
    # a later event of the same document still finds it and changes it (a look-up, then the change)
    masked = Event(
        type=EventType.DOCUMENT_MASKED,
        source="dossier",
        occurred_at=utcnow(),
        patient_id=added.patient_id,
        document_id=added.document_id,
    )
    assert [name for name, _ in commands.during(lambda: audit.remember_document(masked))] == [
        "find",
        "update",
    ]


def test_an_event_traced_twice_is_kept_once(store: tuple[AuditStore, Commands]) -> None:
    audit, _ = store
    patient = f"pat_{uuid.uuid4().hex[:12]}"
    repeated = trace_of(event(patient))
    assert audit.append(repeated, utcnow()) is True
    audit.append(trace_of(event(patient)), utcnow())
    assert audit.append(repeated, utcnow()) is False
    assert whole(audit, patient) == (2, True)


def test_a_head_left_behind_by_a_writer_that_died_is_caught_up(
    store: tuple[AuditStore, Commands],
) -> None:
    """A writer stored its trace, then died before moving the chain's head: the next one lands after it."""
    audit, _ = store
    patient = f"pat_{uuid.uuid4().hex[:12]}"
    audit.append(trace_of(event(patient)), utcnow())
    head = audit.db.chain_heads.find_one({"_id": patient})
    assert head is not None and head["seq"] == 1
    orphan = {
        **trace_document(trace_of(event(patient))),
        "chain": patient,
        "seq": 2,
        "prev_hash": head["hash"],
        "recorded_at": utcnow(),
    }
    orphan["hash"] = link(orphan)
    audit.db.traces.insert_one(orphan)  # and no head moved
    assert audit.append(trace_of(event(patient)), utcnow()) is True
    assert whole(audit, patient) == (3, True)


def test_writers_racing_on_one_chain_keep_it_whole(store: tuple[AuditStore, Commands]) -> None:
    audit, _ = store
    patient = f"pat_{uuid.uuid4().hex[:12]}"
    threads = [
        threading.Thread(
            target=lambda: [audit.append(trace_of(event(patient)), utcnow()) for _ in range(5)]
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert whole(audit, patient) == (20, True)
    assert audit.db.chain_heads.find_one({"_id": patient})["seq"] == 20  # type: ignore[index]
    assert audit.db.traces.find_one({"chain": patient, "seq": 1})["prev_hash"] == GENESIS  # type: ignore[index]
