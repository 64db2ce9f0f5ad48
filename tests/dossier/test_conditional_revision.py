"""FHIR If-Match on the dossier's store: the version the caller names is compared in the write itself, so a
change landing between the service's read and its write is refused (None, nothing written), never overwritten."""

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.common.clock import utcnow
from services.common.events import Event, EventType
from services.dossier.records import ActorRef, DocumentStatus, Visibility
from services.dossier.store import DossierStore
from tests.store_contract import store_on

pytestmark = pytest.mark.store

CREATED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DOCUMENT_ID = "doc_" + "c" * 32
RECORD: dict[str, Any] = {
    "_id": DOCUMENT_ID,
    "dossier_id": "dos_1",
    "patient_id": "pat_1",
    "category": "10",
    "type_code": "11488-4",
    "title": "CR",
    "care_date": "2026-11-20",
    "format": "application/pdf",
    "visibility": [],
    "created_at": CREATED,
    "created_ms": int(CREATED.timestamp() * 1000),
    "size": 3,
    "sha256": "ab",
    "status": "current",
    "replaces": None,
    "replaced_by": None,
    "revision": 1,
    "author": {"kind": "professional", "id": "rpps:10000000009"},
}


@pytest.fixture
def store(environment: dict[str, str]) -> Iterator[DossierStore]:
    name = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_dossier_if_match_{uuid.uuid4().hex[:8]}"
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    database: Database[dict[str, Any]] = client[name]
    store = store_on(database, DossierStore)
    database.documents.insert_one({**RECORD, "_version": 0})  # as insert_with_events writes it
    yield store
    client.drop_database(name)
    client.close()


def changed() -> Event:
    return Event(
        event_id=f"evt_{uuid.uuid4().hex}",
        type=EventType.DOCUMENT_ARCHIVED,
        source="dossier",
        occurred_at=utcnow(),
        patient_id="pat_1",
        actor=ActorRef(kind="professional", id="rpps:10000000009", profession="10"),
    )


def test_a_change_made_between_the_read_and_the_write_fails_the_version_named(
    store: DossierStore,
) -> None:
    read = store.document("dos_1", DOCUMENT_ID)
    assert read is not None and read.revision == 1
    masked = read.with_visibility((Visibility.MASKED,))
    assert (
        store.revise_document(read, masked, changed(), utcnow()) is not None
    )  # someone else, meanwhile
    archived = replace(read, status=DocumentStatus.ARCHIVED)
    assert store.revise_document(read, archived, changed(), utcnow(), expected=1) is None
    now = store.document("dos_1", DOCUMENT_ID)
    assert now is not None and now.revision == 2 and now.status is DocumentStatus.CURRENT
    assert now.visibility == (Visibility.MASKED,)  # the other change stands, untouched


def test_a_version_other_than_the_one_read_writes_nothing_and_the_current_one_writes(
    store: DossierStore,
) -> None:
    read = store.document("dos_1", DOCUMENT_ID)
    assert read is not None
    archived = replace(read, status=DocumentStatus.ARCHIVED)
    assert store.revise_document(read, archived, changed(), utcnow(), expected=2) is None
    unchanged = store.document("dos_1", DOCUMENT_ID)
    assert unchanged is not None and unchanged.revision == 1
    assert unchanged.status is DocumentStatus.CURRENT
    revised = store.revise_document(read, archived, changed(), utcnow(), expected=1)
    assert revised is not None and revised.revision == 2
    stored = store.document("dos_1", DOCUMENT_ID)
    assert stored is not None and stored.status is DocumentStatus.ARCHIVED
