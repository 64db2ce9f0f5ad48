"""The dossier store's contract, on both stores: the Mongo store on the embedded server (`store` marker:
`make test-store MONGO_URI=...` runs it on any MongoDB) and the in-memory one the fast use-case tests use.
What one answers, the other answers: duplicates refused alike, compare-and-set, order, pages, visibility,
and the events each write publishes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from services.common.errors import InvalidInput, ServiceUnavailable
from services.common.events import Event, EventType
from services.common.grants import Action, Grant
from services.common.outbox import OUTBOX, PENDING
from services.dossier.memory import MemoryDossierStore
from services.dossier.records import (
    Document,
    DocumentStatus,
    Dossier,
    DossierKey,
    FeedLine,
    Metadata,
    OpeningFee,
    PersonalSpaceVersion,
    Status,
    SubmissionSet,
    Visibility,
)
from services.dossier.schemas import Coded, Concept, DocumentSearch, ReimbursedItem
from services.dossier.store import DossierRecords, DossierStore
from tests.store_contract import store_on

NOW = datetime(2026, 6, 1, 9, 30, 0, 123000, tzinfo=UTC)  # to the millisecond, as the clock reads
AUTHOR = {
    "kind": "professional",
    "id": "rpps:10000000009",
    "profession": "10",
    "organisation": None,
}


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.store)])
def store(request: pytest.FixtureRequest) -> Iterator[DossierRecords]:
    if request.param == "memory":
        yield MemoryDossierStore()
        return
    mongo_uri: str = request.getfixturevalue("mongo_uri")
    name = f"tdossier_store_{uuid.uuid4().hex[:12]}"
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[name]
    yield store_on(database, DossierStore)
    client.drop_database(name)
    client.close()


def published(store: DossierRecords) -> set[str]:
    """The ids of the events the store's writes would publish (the outbox's contents)."""
    if isinstance(store, MemoryDossierStore):
        return {event.event_id for event in store.events}
    assert isinstance(store, DossierStore)
    return {
        entry["event"]["event_id"]
        for collection in DossierStore.outbox_collections
        for document in store.db[collection].find({PENDING: True}, {OUTBOX: 1})
        for entry in document.get(OUTBOX, [])
    }


def event(kind: EventType = EventType.DOSSIER_OPENED, dossier_id: str | None = "dos_1") -> Event:
    return Event.of(kind, "dossier", NOW, None, patient_id="pat_1", dossier_id=dossier_id)


def dossier(number: int = 1, master: str = "fp-old", **changes: Any) -> Dossier:
    opened = Dossier(
        id=f"dos_{number}",
        ins=f"18507751234{number:02d}",
        patient_id=f"pat_{number}",
        status=Status.OPEN,
        opened_at=NOW,
        opened_by={"kind": "patient", "id": f"pat_{number}"},
        channel="patient_online",
        consent_recorded_by=f"pat_{number}",
        key=DossierKey(b"wrapped", master),
    )
    return replace(opened, **changes)


def document(
    number: int,
    dossier_id: str = "dos_1",
    created: datetime = NOW,
    category: str = "11",
    visibility: tuple[Visibility, ...] = (),
    **changes: Any,
) -> Document:
    metadata = Metadata(
        category=category,
        type_code="11488-4",
        title=f"CR {number}",
        care_date=date(2026, 5, 20),
        format="text/plain",
        visibility=visibility,
        unique_id=changes.pop("unique_id", None),
    )
    made = Document(
        id=f"doc_{number:032x}",
        dossier_id=dossier_id,
        patient_id="pat_1",
        metadata=metadata,
        author=AUTHOR,
        created_at=created,
        size=2,
        sha256=f"sha{number}",
    )
    return replace(made, **changes)


def grant(hidden: tuple[str, ...] = ("MASQUE_PS",), categories: tuple[str, ...] = ("11",)) -> Grant:
    return Grant(
        allowed=True,
        action=Action.READ,
        rule="R-CARE-TEAM",
        reason="",
        patient_id="pat_1",
        categories=categories,
        visible_categories=categories,
        hidden_visibility=hidden,
        decided_at=NOW,
    )


def add(store: DossierRecords, *documents: Document) -> list[Event]:
    events = [event(EventType.DOCUMENT_ADDED, d.dossier_id) for d in documents]
    for added, told in zip(documents, events, strict=True):
        store.put_content(added.id, b"sealed " + added.id.encode())
        store.add_document(added, told)
    return events


# Dossiers


def test_a_dossier_opens_once_per_patient_and_reads_back_by_each_of_its_ids(
    store: DossierRecords,
) -> None:
    opened, told = dossier(), event()
    assert store.open_dossier(opened, told) is True
    assert store.open_dossier(replace(opened, id="dos_other"), event()) is False  # same INS
    assert store.dossier_by_ins(opened.ins) == opened
    assert store.dossier_by_patient_id("pat_1") == opened
    assert store.dossier_by_id("dos_1") == opened
    assert (store.dossier_by_ins("1850775123499"), store.dossier_by_id("dos_9")) == (None, None)
    assert store.dossier_by_patient_id("pat_9") is None
    assert published(store) == {told.event_id}


def test_a_transition_lands_only_on_the_status_it_was_read_in(store: DossierRecords) -> None:
    opened = dossier()
    store.open_dossier(opened, event())
    purge_at = NOW + timedelta(days=3650)
    closed = replace(opened, status=Status.CLOSED, closed_at=NOW, purge_at=purge_at)
    told = event(EventType.DOSSIER_CLOSED)
    assert store.change_dossier(opened, closed, told) is True
    assert store.dossier_by_id("dos_1") == closed
    late = event(EventType.DOSSIER_DELETION_REQUESTED)
    assert store.change_dossier(opened, replace(opened, key=None), late) is False  # read when open
    assert store.dossier_by_id("dos_1") == closed
    assert late.event_id not in published(store) and told.event_id in published(store)
    reopened = replace(closed, status=Status.OPEN, closed_at=None, purge_at=None, reopened_at=NOW)
    assert store.change_dossier(closed, reopened, event(EventType.DOSSIER_REOPENED))
    assert store.dossier_by_id("dos_1") == reopened


def test_a_destroyed_key_reads_back_as_none(store: DossierRecords) -> None:
    opened = dossier()
    store.open_dossier(opened, event())
    asked = replace(opened, status=Status.DELETION_REQUESTED, key=None, deletion_requested_at=NOW)
    assert store.change_dossier(opened, asked, event(EventType.DOSSIER_DELETION_REQUESTED))
    assert store.dossier_by_id("dos_1") == asked


def test_keys_to_rewrap_are_those_under_another_master_key(store: DossierRecords) -> None:
    for number, master in ((1, "fp-old"), (2, "fp-new"), (3, "fp-old")):
        store.open_dossier(dossier(number, master), event(dossier_id=f"dos_{number}"))
    store.open_dossier(
        dossier(4, key=None), event(dossier_id="dos_4")
    )  # destroyed: nothing to wrap
    assert {d.id for d in store.keys_to_rewrap("fp-new", 10)} == {"dos_1", "dos_3"}
    assert len(store.keys_to_rewrap("fp-new", 1)) == 1
    assert store.count_keys_to_rewrap("fp-new") == 2
    first = store.dossier_by_id("dos_1")
    assert first is not None and first.key is not None
    rewrapped = replace(first, key=DossierKey(b"again", "fp-new"))
    assert store.change_dossier(first, rewrapped, event(EventType.DOSSIER_KEY_REWRAPPED))
    assert store.count_keys_to_rewrap("fp-new") == 1
    assert store.dossier_by_id("dos_1") == rewrapped


def test_a_purge_removes_the_dossier_and_everything_in_it_and_is_reported_once(
    store: DossierRecords,
) -> None:
    opened = dossier()
    store.open_dossier(opened, event())
    other = dossier(2)
    store.open_dossier(other, event(dossier_id="dos_2"))
    due = replace(opened, status=Status.CLOSED, closed_at=NOW, purge_at=NOW - timedelta(seconds=1))
    store.change_dossier(opened, due, event(EventType.DOSSIER_CLOSED))
    later = replace(other, status=Status.CLOSED, closed_at=NOW, purge_at=NOW + timedelta(days=1))
    store.change_dossier(other, later, event(EventType.DOSSIER_CLOSED, "dos_2"))
    add(store, document(1), document(2, dossier_id="dos_2"))
    store.add_reimbursements([line("l1"), line("l2", dossier_id="dos_2")], NOW)
    store.save_personal_space("dos_1", 0, space(1), event(EventType.PERSONAL_SPACE_UPDATED))
    assert [d.id for d in store.due_for_purge(NOW)] == ["dos_1"]
    purged = event(EventType.DOSSIER_PURGED)
    store.purge(due, purged)
    store.purge(due, event(EventType.DOSSIER_PURGED))  # an interrupted run finished: reported once
    assert store.dossier_by_id("dos_1") is None and store.due_for_purge(NOW) == []
    assert store.document("dos_1", document(1).id) is None and store.content(document(1).id) is None
    assert store.dossier_of_document(document(1).id) is None
    assert store.personal_space("dos_1") is None and store.personal_space_history("dos_1") == []
    assert store.reimbursements_page("dos_1", None, 10) == (0, [], None)
    assert store.purge_record("dos_1") is not None
    record = store.purge_record("dos_1")
    assert record is not None and (record.patient_id, record.purged_at) == ("pat_1", NOW)
    assert store.purge_record("dos_2") is None
    assert purged.event_id in published(store)
    assert store.document("dos_2", document(2).id) is not None  # the other dossier untouched
    assert store.reimbursements_page("dos_2", None, 10)[0] == 1


def test_the_dossiers_of_patients_and_by_ins_tell_their_state(store: DossierRecords) -> None:
    for number in (1, 2, 3):
        store.open_dossier(dossier(number), event(dossier_id=f"dos_{number}"))
    states = store.dossiers_of(["pat_3", "pat_1", "pat_9", "pat_1"])
    assert [(s.id, s.patient_id, s.status, s.opened_at) for s in states] == [
        ("dos_3", "pat_3", Status.OPEN, NOW),
        ("dos_1", "pat_1", Status.OPEN, NOW),
    ]
    by_ins = store.dossiers_by_ins([dossier(2).ins, "1850775123499"])
    assert list(by_ins) == [dossier(2).ins] and by_ins[dossier(2).ins].id == "dos_2"


# The personal space


def space(version: int) -> PersonalSpaceVersion:
    return PersonalSpaceVersion(version, f"sealed {version}".encode(), NOW, {"kind": "patient"})


def test_the_personal_space_keeps_every_version_and_refuses_a_stale_one(
    store: DossierRecords,
) -> None:
    assert store.personal_space("dos_1") is None and store.personal_space_history("dos_1") == []
    first = event(EventType.PERSONAL_SPACE_UPDATED)
    assert store.save_personal_space("dos_1", 0, space(1), first) is True
    assert store.save_personal_space("dos_1", 0, space(1), event()) is False  # saved meanwhile
    assert store.save_personal_space("dos_1", 1, space(2), event()) is True
    stale = event(EventType.PERSONAL_SPACE_UPDATED)
    assert store.save_personal_space("dos_1", 1, space(2), stale) is False
    assert store.personal_space("dos_1") == space(2)
    assert store.personal_space_history("dos_1") == [space(2), space(1)]
    assert first.event_id in published(store) and stale.event_id not in published(store)


# The reimbursement feed


def line(line_id: str, care: date = date(2026, 5, 1), dossier_id: str = "dos_1") -> FeedLine:
    return FeedLine(
        line_id=line_id,
        dossier_id=dossier_id,
        care_date=care,
        items=(ReimbursedItem(system="CIP13", code="3400930000000", atc="C10AA05"),),
        billed_cents=1000,
        reimbursed_cents=700,
        prescriber_rpps="10000000009",
    )


def test_reimbursement_lines_are_taken_once_and_paged_newest_care_first(
    store: DossierRecords,
) -> None:
    lines = [line(f"l{day}", date(2026, 5, day)) for day in (3, 1, 2)]
    assert store.add_reimbursements(lines, NOW) == lines
    assert store.add_reimbursements([line("l1"), line("l9", date(2026, 4, 9))], NOW) == [
        line("l9", date(2026, 4, 9))
    ]
    assert store.add_reimbursements([], NOW) == []
    total, page, cursor = store.reimbursements_page("dos_1", None, 2)
    assert (total, [item.line_id for item in page]) == (4, ["l3", "l2"]) and cursor
    total, page, cursor = store.reimbursements_page("dos_1", cursor, 2)
    assert (total, [item.line_id for item in page], cursor) == (4, ["l1", "l9"], None)
    assert page[0] == lines[1]
    since = store.reimbursements_since("dos_1", date(2026, 5, 2))
    assert sorted(item.line_id for item in since) == ["l2", "l3"]
    assert store.reimbursements_since("dos_2", date(2020, 1, 1)) == []
    with pytest.raises(InvalidInput):
        store.reimbursements_page("dos_1", "not-a-cursor!", 2)


def test_a_feed_batch_publishes_its_events_once(store: DossierRecords) -> None:
    told = [event(EventType.REIMBURSEMENTS_ADDED), event(EventType.REIMBURSEMENTS_ADDED, "dos_2")]
    store.record_feed("feed_1", told)
    store.record_feed("feed_1", [event(EventType.REIMBURSEMENTS_ADDED)])  # retried: refused
    store.record_feed("feed_2", [])
    assert published(store) == {e.event_id for e in told}


# The pharmacy fee ledger


def test_an_opening_fee_is_charged_once_per_patient_ever(store: DossierRecords) -> None:
    def fee(patient: str, organisation: str, minutes: int) -> OpeningFee:
        opened = NOW + timedelta(minutes=minutes)
        return OpeningFee(patient, f"dos_{patient}", "rpps:1", organisation, "2026-06", opened)

    assert store.charge_opening_fee(fee("pat_1", "B", 2)) is True
    assert store.charge_opening_fee(fee("pat_1", "A", 3)) is False
    assert store.charge_opening_fee(fee("pat_2", "A", 5)) is True
    assert store.charge_opening_fee(fee("pat_3", "A", 1)) is True
    assert store.opening_fees("2026-06") == [
        fee("pat_3", "A", 1),
        fee("pat_2", "A", 5),
        fee("pat_1", "B", 2),
    ]
    assert store.opening_fees("2026-07") == []


# Documents


def test_a_document_reads_back_with_its_content_and_an_id_is_stored_once(
    store: DossierRecords,
) -> None:
    added = document(1, unique_id="urn:oid:1.2.3")
    told = add(store, added)
    assert store.document("dos_1", added.id) == added
    assert store.document("dos_2", added.id) is None  # another dossier's: no such document
    assert store.dossier_of_document(added.id) == "dos_1"
    assert store.dossier_of_document("doc_unknown") is None
    assert store.content(added.id) == b"sealed " + added.id.encode()
    assert store.content("doc_unknown") is None
    with pytest.raises(DuplicateKeyError):
        store.add_document(added, event(EventType.DOCUMENT_ADDED))
    with pytest.raises(ServiceUnavailable):
        store.put_content(added.id, b"again")
    store.delete_content(added.id)
    store.delete_content(added.id)  # already gone: nothing to do
    assert store.content(added.id) is None
    assert published(store) == {told[0].event_id}


def test_the_same_document_and_a_used_unique_id_are_told(store: DossierRecords) -> None:
    added = document(1, unique_id="urn:oid:1.2.3")
    add(store, added)
    assert store.same_document("dos_1", "sha1", added.metadata) is True
    assert store.same_document("dos_2", "sha1", added.metadata) is False
    assert store.same_document("dos_1", "sha2", added.metadata) is False
    retitled = replace(added.metadata, title="another title")
    assert store.same_document("dos_1", "sha1", retitled) is False
    assert store.unique_id_used("dos_1", "urn:oid:1.2.3") is True
    assert store.unique_id_used("dos_1", "urn:oid:9.9") is False
    archived = store.revise_document(
        added, replace(added, status=DocumentStatus.DELETED), event(), NOW
    )
    assert archived is not None
    assert store.same_document("dos_1", "sha1", added.metadata) is False  # no longer current
    assert store.unique_id_used("dos_1", "urn:oid:1.2.3") is True  # a deleted one's id was used


def test_a_revision_lands_once_from_one_reading(store: DossierRecords) -> None:
    added = document(1)
    add(store, added)
    later = NOW + timedelta(minutes=5)
    archived = replace(added, status=DocumentStatus.ARCHIVED)
    told = event(EventType.DOCUMENT_ARCHIVED)
    revised = store.revise_document(added, archived, told, later)
    assert revised == replace(archived, revision=2, updated_at=later)
    assert store.document("dos_1", added.id) == revised
    lost = event(EventType.DOCUMENT_MASKED)
    assert (
        store.revise_document(added, added.with_visibility((Visibility.MASKED,)), lost, later)
        is None
    )
    assert told.event_id in published(store) and lost.event_id not in published(store)
    assert revised is not None
    masked = store.revise_document(
        revised, revised.with_visibility((Visibility.MASKED,)), event(), later
    )
    assert masked is not None and masked.revision == 3
    stored = store.document("dos_1", added.id)
    assert stored is not None and stored.visibility == (Visibility.MASKED,)
    assert stored.status is DocumentStatus.ARCHIVED


def test_a_revision_at_a_version_the_caller_did_not_see_changes_nothing(
    store: DossierRecords,
) -> None:
    added = document(1, revision=1)
    add(store, added)
    archived = replace(added, status=DocumentStatus.ARCHIVED)
    stale = event(EventType.DOCUMENT_ARCHIVED)
    assert store.revise_document(added, archived, stale, NOW, expected=2) is None
    assert store.document("dos_1", added.id) == added and stale.event_id not in published(store)
    revised = store.revise_document(added, archived, event(EventType.DOCUMENT_ARCHIVED), NOW, 1)
    assert revised is not None and revised.revision == 2


def test_a_search_pages_newest_first_within_the_grant_with_an_honest_total(
    store: DossierRecords,
) -> None:
    minutes = [3, 1, 4, 2]
    add(
        store,
        *[document(n, created=NOW + timedelta(minutes=m)) for n, m in enumerate(minutes, 1)],
        document(5, visibility=(Visibility.MASKED,)),  # hidden from this actor
        document(6, category="52"),  # outside their matrix row
        document(7, dossier_id="dos_2"),
        document(8, status=DocumentStatus.ARCHIVED),
    )
    first = DocumentSearch.model_validate({"limit": 2})
    total, page, cursor = store.search_documents("dos_1", grant(), "rpps:other", first)
    assert (total, [d.id for d in page]) == (4, [document(3).id, document(1).id]) and cursor
    rest = DocumentSearch.model_validate({"limit": 2, "cursor": cursor})
    total, page, cursor = store.search_documents("dos_1", grant(), "rpps:other", rest)
    assert (total, [d.id for d in page], cursor) == (4, [document(4).id, document(2).id], None)
    counted = store.search_documents(
        "dos_1", grant(), "rpps:other", DocumentSearch.model_validate({"limit": 0})
    )
    assert counted == (4, [], None)
    archived = DocumentSearch.model_validate({"status": ["archived"]})
    assert [d.id for d in store.search_documents("dos_1", grant(), "x", archived)[1]] == [
        document(8).id
    ]
    # Its author sees a masked document.
    assert store.search_documents("dos_1", grant(), AUTHOR["id"] or "", first)[0] == 5
    visible = store.visible_documents("dos_1", grant(), "rpps:other")
    assert sorted(d.id for d in visible) == sorted(document(n).id for n in (1, 2, 3, 4))


def test_a_search_by_last_change_sees_revisions(store: DossierRecords) -> None:
    added = document(1)
    add(store, added, document(2))
    later = NOW + timedelta(hours=1)
    store.revise_document(added, added.with_visibility(()), event(), later)
    search = DocumentSearch.model_validate({"updated_from": later.isoformat()})
    total, page, _ = store.search_documents("dos_1", grant(), "x", search)
    assert (total, [d.id for d in page]) == (1, [added.id])
    assert page[0].updated_at == later and page[0].revision == 2


def test_documents_invisible_to_the_patient_come_due_for_release_and_reminder(
    store: DossierRecords,
) -> None:
    invisible = (Visibility.INVISIBLE_TO_PATIENT,)
    due = document(1, visibility=invisible, release_at=NOW, remind_at=NOW - timedelta(days=1))
    later = document(2, visibility=invisible, release_at=NOW + timedelta(seconds=1), remind_at=NOW)
    visible = document(3, release_at=NOW)  # released by its author already
    add(store, due, later, visible)
    assert [d.id for d in store.due_for_release(NOW)] == [due.id]
    assert sorted(d.id for d in store.due_for_reminder(NOW)) == sorted([due.id, later.id])
    told = event(EventType.INVISIBILITY_REMINDER_DUE)
    assert store.reminded(due, told) is True
    assert [d.id for d in store.due_for_reminder(NOW)] == [later.id]  # never again for it
    reminded = store.document("dos_1", due.id)
    assert reminded is not None and reminded.remind_at is None
    assert store.reminded(replace(due, status=DocumentStatus.ARCHIVED), event()) is False
    released = replace(due, release_at=None).with_visibility(())
    assert store.revise_document(due, released, event(EventType.DOCUMENT_RELEASED), NOW)
    assert store.due_for_release(NOW) == []
    assert told.event_id in published(store)


# Idempotency keys


def test_an_idempotency_key_is_claimed_once_then_answers_the_first_request(
    store: DossierRecords,
) -> None:
    assert store.claim_idempotency("rpps:1", "key-1", "fp", NOW) is None
    earlier = store.claim_idempotency("rpps:1", "key-1", "fp2", NOW + timedelta(seconds=5))
    assert earlier is not None and (earlier.fingerprint, earlier.claimed_at) == ("fp", NOW)
    assert earlier.document_id is None
    assert store.claim_idempotency("rpps:2", "key-1", "fp", NOW) is None  # another actor's key
    added = document(1, idempotency="rpps:1|key-1", idempotency_fingerprint="fp")
    add(store, added)
    assert store.document_by_idempotency("dos_1", "rpps:1", "key-1") == added
    assert store.document_by_idempotency("dos_2", "rpps:1", "key-1") is None
    store.complete_idempotency("rpps:1", "key-1", added.id)
    store.release_idempotency("rpps:1", "key-1")  # completed: stays
    much_later = NOW + timedelta(hours=1)
    completed = store.claim_idempotency("rpps:1", "key-1", "fp", much_later)
    assert completed is not None and completed.document_id == added.id


def test_an_unfinished_claim_is_taken_over_once_stale_or_released(store: DossierRecords) -> None:
    store.claim_idempotency("rpps:1", "key-1", "fp", NOW)
    stale = timedelta(minutes=1)
    fresh = store.claim_idempotency("rpps:1", "key-1", "fp2", NOW + timedelta(seconds=59), stale)
    assert fresh is not None and fresh.fingerprint == "fp"
    taken_at = NOW + timedelta(seconds=61)
    assert store.claim_idempotency("rpps:1", "key-1", "fp2", taken_at, stale) is None
    after = store.claim_idempotency("rpps:1", "key-1", "fp3", taken_at, stale)
    assert after is not None and (after.fingerprint, after.claimed_at) == ("fp2", taken_at)
    store.release_idempotency("rpps:1", "key-1")
    assert store.claim_idempotency("rpps:1", "key-1", "fp4", taken_at) is None
    store.complete_idempotency("rpps:9", "key-9", "doc_x")  # no claim: nothing is made
    assert store.claim_idempotency("rpps:9", "key-9", "fp", NOW) is None


# Accesses


def test_an_access_is_recorded_once_with_its_events(store: DossierRecords) -> None:
    read, first = event(EventType.DOCUMENT_READ), event(EventType.FIRST_ACCESS)
    store.record_access(read, [first])
    with pytest.raises(DuplicateKeyError):
        store.record_access(read)
    assert published(store) == {read.event_id, first.event_id}
    assert store.accessed_before("dos_1", "rpps:1") is False
    store.mark_accessed("dos_1", "rpps:1")
    store.mark_accessed("dos_1", "rpps:1")
    assert store.accessed_before("dos_1", "rpps:1") is True
    assert store.accessed_before("dos_2", "rpps:1") is False


# Submission sets


def submission_set(number: int, dossier_id: str = "dos_1", **changes: Any) -> SubmissionSet:
    kept = SubmissionSet(
        id=f"set_{number}",
        dossier_id=dossier_id,
        patient_id="pat_1",
        author=dict(AUTHOR),
        submitted_at=NOW,
        document_ids=(document(1).id, document(5).id, document(6).id),
        unique_id=f"urn:oid:1.2.250.1.999.{number}",
        source_id="urn:oid:1.2.250.1.999",
        title="Sortie",
    )
    return replace(kept, **changes)


def test_a_submission_set_is_kept_once_and_shows_only_the_documents_the_actor_may_see(
    store: DossierRecords,
) -> None:
    add(
        store,
        document(1),
        document(5, visibility=(Visibility.MASKED,)),  # hidden from this actor
        document(6, category="52"),  # outside their matrix row
        document(7, dossier_id="dos_2"),
    )
    assert store.add_submission_set(submission_set(1))
    assert store.add_submission_set(submission_set(2, dossier_id="dos_2"))
    assert not store.add_submission_set(submission_set(1, title="again"))  # its id taken
    kept = submission_set(1, pending=True, claimed_at=NOW)  # its deposit begun, not released
    assert store.submission_set("set_1") == kept
    assert store.submission_set("set_9") is None
    assert [found.id for found in store.submission_sets("dos_1")] == ["set_1"]
    assert store.submission_set_of_unique_id("dos_1", "urn:oid:1.2.250.1.999.1") == kept
    assert store.submission_set_of_unique_id("dos_2", "urn:oid:1.2.250.1.999.1") is None
    wanted = [*submission_set(1).document_ids, document(7).id, "doc_unknown"]
    seen = store.documents_seen("dos_1", grant(), "rpps:other", wanted)
    assert list(seen) == [document(1).id] and seen[document(1).id] == document(1)
    # Its author sees the masked one; nobody sees another dossier's document through this one.
    assert sorted(store.documents_seen("dos_1", grant(), AUTHOR["id"] or "", wanted)) == sorted(
        [document(1).id, document(5).id]
    )
    assert store.documents_seen("dos_1", grant(), "rpps:other", []) == {}
    store.purge(dossier(1), event(EventType.DOSSIER_PURGED))
    assert store.submission_sets("dos_1") == [] and store.submission_set("set_1") is None


def test_an_unfinished_deposit_is_taken_over_by_one_retry_at_a_time(store: DossierRecords) -> None:
    """A retry takes over a set's unfinished deposit only under the claim it read: of two retries reading
    the same claim, one wins; an attempt that failed gives its claim up; a released set is no longer
    pending."""
    assert store.add_submission_set(submission_set(1))
    read = store.submission_set("set_1")
    assert read is not None and read.pending and read.claimed_at == NOW
    later = NOW + timedelta(minutes=2)
    assert store.take_over_deposit(read, later)
    assert not store.take_over_deposit(read, later)  # the other retry read the same claim: too late
    taken = store.submission_set("set_1")
    assert taken is not None and taken.claimed_at == later
    store.interrupt_deposit("dos_2", "set_1")  # another dossier's id: nothing
    assert store.submission_set("set_1") == taken
    store.interrupt_deposit("dos_1", "set_1")
    given_up = store.submission_set("set_1")
    assert given_up is not None and given_up.claimed_at is None
    assert store.take_over_deposit(given_up, later + timedelta(seconds=1))
    store.release_deposit("dos_1", "set_1")
    released = store.submission_set("set_1")
    assert released is not None and not released.pending


def test_a_deposits_documents_are_nobodys_until_it_is_released_then_everyones_at_once(
    store: DossierRecords,
) -> None:
    """ITI-65 all or nothing: a document written pending (its deposit not complete) is found by no read, its
    event is held; release_deposit makes every document of that deposit everyone's, with its event, at once."""
    kept = document(1)
    add(store, kept)
    invisible = (
        Visibility.INVISIBLE_TO_PATIENT,
    )  # due for release by the hourly job, once released
    waiting = [
        document(2, pending="sub_1", visibility=invisible, release_at=NOW),
        document(3, pending="sub_1"),
    ]
    other = document(4, pending="sub_2")
    added = [event(EventType.DOCUMENT_ADDED) for _ in range(3)]
    for pending, added_event in zip([*waiting, other], added, strict=True):
        store.add_document(pending, added_event)

    def everywhere() -> set[str]:
        searched = store.search_documents("dos_1", grant(), "x", DocumentSearch())[1]
        ids = [d.id for d in (kept, *waiting, other)]
        return (
            {d.id for d in searched}
            | {d.id for d in store.visible_documents("dos_1", grant(), "x")}
            | set(store.documents_seen("dos_1", grant(), "x", ids))
            | {i for i in ids if store.document("dos_1", i) is not None}
            | {d.id for d in store.due_for_release(NOW + timedelta(days=1))}
        )

    assert everywhere() == {kept.id}
    assert not {e.event_id for e in added} & published(store)
    # Its content may be deposited again (a deposit never completed is nobody's); its unique id stays taken.
    assert not store.same_document("dos_1", other.sha256, other.metadata)
    assert set(store.deposited("dos_1", [d.id for d in waiting])) == {d.id for d in waiting}
    store.release_deposit("dos_1", "sub_1")
    assert everywhere() == {kept.id, *(d.id for d in waiting)}
    assert {e.event_id for e in added} & published(store) == {e.event_id for e in added[:2]}
    store.release_deposit("dos_1", "sub_1")  # a retry's release: nothing more to do
    assert store.document("dos_1", other.id) is None  # another deposit still waits


def test_a_deposit_never_completed_is_found_once_its_time_is_up_and_discarded_whole(
    store: DossierRecords,
) -> None:
    """The hourly job's two calls: the deposits begun before a moment and never released (by their pending
    documents, or by a set none of whose documents was written), and the discard of one: its pending documents
    and their content, and its set unless a document of it is out."""
    cut_short = [
        document(1, pending="set_1"),
        document(5, pending="set_1"),
    ]  # set_1's 3rd never written
    add(store, *cut_short)
    store.add_submission_set(submission_set(1))
    store.add_submission_set(submission_set(2, id="set_2", document_ids=(document(8).id,)))  # none
    completed = submission_set(3, id="set_3", document_ids=(document(9).id,))
    store.add_submission_set(completed)
    add(store, document(9, pending="set_3"))
    store.release_deposit("dos_1", "set_3")
    # Documents deposited together without a set: the deposit recorded first, its second document's content
    # uploaded but its record never written.
    store.begin_deposit("dos_1", "dep_rest", [document(7).id, document(10).id], NOW)
    add(store, document(7, pending="dep_rest"))
    store.put_content(document(10).id, b"sealed, never named by a record")
    store.begin_deposit("dos_1", "dep_done", [document(11).id], NOW)
    add(store, document(11, pending="dep_done"))
    store.release_deposit("dos_1", "dep_done")
    assert store.abandoned_deposits(NOW - timedelta(seconds=1)) == []
    later = NOW + timedelta(seconds=1)
    assert store.abandoned_deposits(later) == [
        ("dos_1", "dep_rest"),
        ("dos_1", "set_1"),
        ("dos_1", "set_2"),
    ]
    assert store.discard_deposit("dos_1", "set_1") == 2
    assert store.deposited("dos_1", [d.id for d in cut_short]) == {}
    assert all(store.content(d.id) is None for d in cut_short)
    assert store.submission_set("set_1") is None
    assert store.submission_set_of_unique_id("dos_1", submission_set(1).unique_id or "") is None
    assert store.discard_deposit("dos_1", "set_1") == 0  # run again: nothing more to do
    assert store.discard_deposit("dos_1", "set_2") == 0 and store.submission_set("set_2") is None
    assert store.discard_deposit("dos_1", "dep_rest") == 1
    assert store.content(document(10).id) is None and store.content(document(7).id) is None
    assert store.abandoned_deposits(later) == []
    assert store.content(document(11).id) is not None  # a completed deposit keeps everything
    assert store.submission_set("set_3") == replace(
        completed, claimed_at=NOW
    )  # its deposit complete: kept, with its document
    assert store.document("dos_1", document(9).id) is not None


def test_a_search_by_a_coded_field_finds_the_documents_of_that_code(store: DossierRecords) -> None:
    system = (
        "https://mos.esante.gouv.fr/NOS/TRE_A00-ProducteurDocNonPS/FHIR/TRE-A00-ProducteurDocNonPS"
    )
    setting = Concept(codings=[Coded(system=system, code="SA07")])
    coded = document(1)
    coded = replace(coded, metadata=replace(coded.metadata, practice_setting=setting))
    add(store, coded, document(2))

    def found(*groups: str) -> list[str]:
        search = DocumentSearch.model_validate({"practice_setting": list(groups)})
        return [d.id for d in store.search_documents("dos_1", grant(), "x", search)[1]]

    assert found(f"{system}|SA07") == found("SA07") == found(f"{system}|") == [coded.id]
    assert found("SA01,SA07") == [coded.id]  # a comma is an OR
    assert found("SA01") == found(f"{system}|SA07", "SA01") == []  # a repeat is an AND
