"""audit's store contract, on both stores (the embedded one and the in-memory one the fast tests use): the
hash chain and its checks (an edited, deleted or rewritten trace is found on either), checkpoints, what the
trail knows of documents and dossiers, purges, and the history's selection and pages."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from services.audit import chain, checkpoints
from services.audit.chain import Break
from services.audit.memory import MemoryAuditStore
from services.audit.records import Checkpoint, Head, HistorySelection, Trace, trace_of
from services.audit.store import AuditRecords, AuditStore
from services.common.clock import utcnow
from services.common.errors import InvalidInput
from services.common.events import ActorRef, Event, EventType
from services.common.grants import Action, Grant
from services.common.keys import SigningKey
from services.common.settings import PublicKeys, Secret, Settings
from services.common.store import equal
from tests.store_contract import store_on

DOCTOR = ActorRef(kind="professional", id="rpps:10000000009", profession="10")
OTHER = ActorRef(kind="professional", id="rpps:10000000017", profession="10")
START = utcnow()


@dataclass
class Trail:
    """A store under test, and how an intruder with write access to it would tamper with a trace."""

    store: AuditRecords
    alter: Callable[[str, int], None]  # changes what trace `seq` says, its hash kept
    delete: Callable[[str, int], None]
    rewrite: Callable[[str], None]  # changes every trace of the chain, every hash recomputed


def in_memory() -> Trail:
    store = MemoryAuditStore()

    def at(name: str, seq: int) -> str:
        return next(
            key for key, linked in store.traces.items() if (linked.chain, linked.seq) == (name, seq)
        )

    def alter(name: str, seq: int) -> None:
        key = at(name, seq)
        linked = store.traces[key]
        store.traces[key] = replace(linked, trace=replace(linked.trace, data={"forged": "yes"}))

    def delete(name: str, seq: int) -> None:
        del store.traces[at(name, seq)]

    def rewrite(name: str) -> None:
        previous = chain.GENESIS
        for linked in store.chain(name):
            forged = replace(
                linked, trace=replace(linked.trace, data={"forged": "yes"}), prev_hash=previous
            )
            forged = replace(forged, hash=chain.link(forged.stored()))
            store.traces[linked.trace.event_id] = forged
            previous = forged.hash
        store.chain_heads[name] = Head(len(store.chain(name)), previous)

    return Trail(store, alter, delete, rewrite)


def on_the_store(environment: dict[str, str]) -> Iterator[Trail]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_audit_store_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    database = client[name]
    store = store_on(database, AuditStore)

    def alter(chain_name: str, seq: int) -> None:
        database.traces.update_one(
            {"chain": equal(chain_name), "seq": seq}, {"$set": {"data": {"forged": "yes"}}}
        )

    def delete(chain_name: str, seq: int) -> None:
        database.traces.delete_one({"chain": equal(chain_name), "seq": seq})

    def rewrite(chain_name: str) -> None:
        previous = chain.GENESIS
        for document in list(store.chain_traces(chain_name)):
            forged = {**document, "data": {"forged": "yes"}, "prev_hash": previous}
            forged["hash"] = chain.link(forged)
            database.traces.replace_one({"_id": document["_id"]}, forged)
            previous = forged["hash"]
        database.chain_heads.update_one({"_id": chain_name}, {"$set": {"hash": previous}})

    yield Trail(store, alter, delete, rewrite)
    client.drop_database(
        name
    )  # run on an operator's MongoDB too (make test-store): leave nothing there
    client.close()


# The stores' contract: `make test-store MONGO_URI=...` runs the mongo variants on any MongoDB.
@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.store)])
def trail(request: pytest.FixtureRequest) -> Iterator[Trail]:
    if request.param == "memory":
        yield in_memory()
        return
    yield from on_the_store(request.getfixturevalue("environment"))


def audit_key() -> SigningKey:
    return Settings.load().signing_key(Secret.AUDIT_SIGNING_KEY)


def audit_public_keys() -> PublicKeys:
    return Settings.load().public_keys(Secret.AUDIT_PUBLIC_KEYS)


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.generate("audit-contract")
    monkeypatch.setenv("DMP_AUDIT_SIGNING_KEY", key.serialise())
    monkeypatch.setenv("DMP_AUDIT_PUBLIC_KEYS", key.public())


def event(
    patient_id: str | None,
    event_type: EventType = EventType.DOSSIER_OPENED,
    seconds: int = 0,
    actor: ActorRef | None = DOCTOR,
    **fields: Any,
) -> Event:
    return Event(
        type=event_type,
        source="dossier",
        occurred_at=START + timedelta(seconds=seconds),
        actor=actor,
        patient_id=patient_id,
        **fields,
    )


def traced(store: AuditRecords, patient_id: str | None, count: int) -> list[Trace]:
    traces = [trace_of(event(patient_id, seconds=n)) for n in range(count)]
    for trace in traces:
        assert store.append(trace, utcnow())
    return traces


def patient() -> str:
    return f"pat_{uuid.uuid4().hex[:12]}"


# The chain


def test_traces_are_linked_in_one_chain_per_patient_and_kept_once(trail: Trail) -> None:
    store, first, second = trail.store, patient(), patient()
    [once, *_] = traced(store, first, 3)
    traced(store, second, 1)
    traced(store, None, 2)  # about no patient: the system chain
    assert store.append(once, utcnow()) is False  # a redelivery
    assert sorted(store.chain_names()) == sorted([first, second, chain.SYSTEM_CHAIN])
    heads = store.heads()
    assert {name: head.seq for name, head in heads.items()} == {first: 3, second: 1, "system": 2}
    for name, head in heads.items():
        assert store.first_break(name) == (None, head.seq, head.hash)
        assert store.hash_at(name, head.seq) == head.hash
    assert store.hash_at(first, 4) is None and store.hash_at("pat_unknown", 1) is None
    assert store.first_break("pat_unknown") == (None, 0, chain.GENESIS)


def test_an_edited_trace_breaks_the_chain_where_it_was_edited(trail: Trail) -> None:
    name = patient()
    traced(trail.store, name, 3)
    trail.alter(name, 2)
    problem, last, _ = trail.store.first_break(name)
    assert problem == Break(name, 2, "altered") and last == 1


def test_a_deleted_trace_is_a_missing_link(trail: Trail) -> None:
    name = patient()
    traced(trail.store, name, 3)
    trail.delete(name, 2)
    problem, last, _ = trail.store.first_break(name)
    assert problem == Break(name, 2, "missing") and last == 1


def test_a_whole_chain_rewritten_is_caught_by_the_checkpoint_signed_before(
    trail: Trail, signing: None
) -> None:
    store, name = trail.store, patient()
    traced(store, name, 2)
    store.add_checkpoint(checkpoints.sign(audit_key(), store.heads(), utcnow()))
    [signed] = store.checkpoints()
    assert checkpoints.signature_valid(audit_public_keys(), signed)
    assert checkpoints.mismatches(signed, True, {}, store.hash_at) == []
    trail.rewrite(name)
    assert store.first_break(name)[0] is None  # every link recomputed: the chain alone looks whole
    assert checkpoints.mismatches(signed, True, store.purged_chains(), store.hash_at) == [
        {
            "checkpoint": checkpoints.signed_ms(signed.at),
            "chain": name,
            "seq": 2,
            "problem": "chain rewritten since this checkpoint",
        }
    ]


def test_checkpoints_read_back_oldest_first_and_one_per_millisecond(
    trail: Trail, signing: None
) -> None:
    store = trail.store
    traced(store, patient(), 1)
    later, earlier = (
        checkpoints.sign(audit_key(), store.heads(), START + timedelta(seconds=5)),
        checkpoints.sign(audit_key(), {}, START),
    )
    store.add_checkpoint(later)
    store.add_checkpoint(earlier)
    assert store.checkpoints() == [earlier, later]
    assert all(
        checkpoints.signature_valid(audit_public_keys(), read) for read in store.checkpoints()
    )
    with pytest.raises(DuplicateKeyError):
        store.add_checkpoint(Checkpoint(later.at, {}, later.kid, later.signature))


def test_writers_racing_on_one_chain_keep_it_whole(trail: Trail) -> None:
    store, name = trail.store, patient()

    def write() -> None:
        for _ in range(5):
            store.append(trace_of(event(name)), utcnow())

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    problem, last, last_hash = store.first_break(name)
    assert (problem, last) == (None, 20) and store.heads()[name] == Head(20, last_hash)


# Purges


def test_a_purged_chain_is_gone_and_its_late_events_are_dropped(trail: Trail) -> None:
    store, name, kept = trail.store, patient(), patient()
    traced(store, name, 2)
    traced(store, kept, 1)
    decided = START + timedelta(seconds=10)
    store.remember_dossier(event(name, EventType.DOSSIER_CLOSED, seconds=1))
    store.purge_chain(name, utcnow(), "evt_purge", decided)
    assert store.chain_names() == [kept] and name not in store.heads()
    assert store.first_break(name) == (None, 0, chain.GENESIS)
    assert store.purged_chains() == {name: decided}
    assert store.dossier_open(name)  # its state went with it
    assert store.append(trace_of(event(name, seconds=9)), utcnow()) is False  # before the purge
    assert store.append(trace_of(event(name, seconds=11)), utcnow()) is True  # a new dossier
    assert store.heads()[name].seq == 1


# Documents and dossiers


def test_a_documents_author_and_codes_are_remembered_newest_event_winning(trail: Trail) -> None:
    store, name = trail.store, patient()
    added = event(name, EventType.DOCUMENT_ADDED, document_id="doc_1")
    assert store.remember_document(added) == DOCTOR.id
    masked = event(name, EventType.DOCUMENT_MASKED, seconds=2, actor=None, document_id="doc_1")
    assert store.remember_document(masked) == DOCTOR.id  # the author, as the deposit told it
    late_unmask = event(name, EventType.DOCUMENT_UNMASKED, seconds=1, document_id="doc_1")
    store.remember_document(late_unmask)  # older than the mask: changes nothing
    grant = Grant(
        allowed=True,
        action=Action.READ_HISTORY,
        rule="R-CONSENT",
        reason="",
        patient_id=name,
        hidden_visibility=("MASQUE_PS",),
        decided_at=START,
    )
    assert store.hidden_documents(grant, OTHER.id) == ["doc_1"]
    assert store.hidden_documents(grant, DOCTOR.id) == []  # its author sees it
    assert store.hidden_documents(replace_grant(grant, patient_id=patient()), OTHER.id) == []
    unmasked = event(name, EventType.DOCUMENT_UNMASKED, seconds=3, document_id="doc_1")
    store.remember_document(unmasked)
    assert store.hidden_documents(grant, OTHER.id) == []


def replace_grant(grant: Grant, **changes: Any) -> Grant:
    return grant.model_copy(update=changes)


def test_an_event_of_a_document_the_trail_never_heard_of_records_nothing(trail: Trail) -> None:
    store, name = trail.store, patient()
    read = event(name, EventType.DOCUMENT_READ, document_id="doc_guessed")
    assert store.remember_document(read) is None
    with pytest.raises(ValueError, match="names its document"):
        store.remember_document(event(name, EventType.DOCUMENT_READ))


def test_a_dossiers_state_follows_its_newest_lifecycle_event(trail: Trail) -> None:
    store, name = trail.store, patient()
    assert store.dossier_open(name)  # never heard of: open
    store.remember_dossier(event(name, EventType.DOSSIER_CLOSED, seconds=5))
    assert not store.dossier_open(name)
    store.remember_dossier(event(name, EventType.DOSSIER_REOPENED, seconds=4))  # older: ignored
    assert not store.dossier_open(name)
    store.remember_dossier(event(name, EventType.DOSSIER_REOPENED, seconds=6))
    assert store.dossier_open(name)
    store.remember_dossier(event(name, EventType.DOSSIER_DELETION_REQUESTED, seconds=7))
    assert not store.dossier_open(name)


def test_whether_a_professional_wrote_in_a_dossier_is_known_from_its_traces(trail: Trail) -> None:
    store, name = trail.store, patient()
    added = event(name, EventType.DOCUMENT_ADDED, document_id="doc_1")
    store.append(trace_of(added, store.remember_document(added)), utcnow())
    assert store.authored_in(name, DOCTOR.id)
    assert not store.authored_in(name, OTHER.id) and not store.authored_in(patient(), DOCTOR.id)


# The history


def test_the_history_selects_newest_first_and_pages_with_cursors(trail: Trail) -> None:
    store, name = trail.store, patient()
    for n in range(5):
        store.append(
            trace_of(event(name, EventType.DOCUMENT_READ, seconds=n, document_id=f"doc_{n}")),
            utcnow(),
        )
    store.append(trace_of(event(name, EventType.DOSSIER_OPENED, seconds=5, actor=OTHER)), utcnow())
    traced(store, patient(), 2)  # another dossier's
    whole = HistorySelection(patient_id=name)
    first = store.history(whole, None, 4)
    assert first.total == 6 and len(first.traces) == 4 and first.next_cursor is not None
    assert [t.occurred_at for t in first.traces] == sorted(
        (t.occurred_at for t in first.traces), reverse=True
    )
    second = store.history(whole, first.next_cursor, 4)
    assert second.total == 6 and len(second.traces) == 2 and second.next_cursor is None
    assert [t.document_id for t in second.traces] == ["doc_1", "doc_0"]
    narrowed = HistorySelection(
        patient_id=name,
        since=START + timedelta(seconds=1),
        before=START + timedelta(seconds=4),
        actor_id=DOCTOR.id,
        type="document_read",
        hidden_documents=("doc_2",),
    )
    assert [t.document_id for t in store.history(narrowed, None, 10).traces] == ["doc_3", "doc_1"]
    assert [
        t.type for t in store.history(HistorySelection(name, actor_id=OTHER.id), None, 10).traces
    ] == [EventType.DOSSIER_OPENED]
    assert store.history(HistorySelection(name, type="no_such_type"), None, 10).total == 0
    assert store.history(HistorySelection(None), None, 10).total == 0


def test_an_authors_history_holds_the_traces_of_their_documents_only(trail: Trail) -> None:
    store, name = trail.store, patient()
    for actor, document_id in ((DOCTOR, "doc_mine"), (OTHER, "doc_theirs")):
        added = event(name, EventType.DOCUMENT_ADDED, actor=actor, document_id=document_id)
        store.append(trace_of(added, store.remember_document(added)), utcnow())
    read = event(name, EventType.DOCUMENT_READ, seconds=1, actor=OTHER, document_id="doc_mine")
    store.append(trace_of(read, store.remember_document(read)), utcnow())
    store.append(trace_of(event(name, seconds=2)), utcnow())
    page = store.history(HistorySelection(name, document_author=DOCTOR.id), None, 10)
    assert [(t.type, t.document_id) for t in page.traces] == [
        (EventType.DOCUMENT_READ, "doc_mine"),
        (EventType.DOCUMENT_ADDED, "doc_mine"),
    ]


def test_a_cursor_the_history_did_not_issue_is_refused_naming_it(trail: Trail) -> None:
    with pytest.raises(InvalidInput) as refused:
        trail.store.history(HistorySelection(patient()), "not-a-cursor", 10)
    assert refused.value.details == [
        {"field": "cursor", "reason": "is not a cursor this API returned"}
    ]


def test_a_malformed_event_is_refused_and_a_valid_one_read(trail: Trail) -> None:
    valid = event(patient())
    assert trail.store.received_event(valid.model_dump(mode="json")) == valid
    assert trail.store.received_event({"event_id": "evt_x", "type": "no_such_type"}) is None
