"""dossier's collections: dossiers, documents (metadata), accesses (read traces), and the
encrypted contents in GridFS."""

from __future__ import annotations

from typing import Any

import gridfs
from pymongo.database import Database
from pymongo.errors import PyMongoError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.store import Store

HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "_version": 0}


class DossierStore(Store):
    service = "dossier"
    outbox_collections = ("dossiers", "documents", "accesses")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.dossiers.create_index([("ins", 1)], unique=True)
        database.documents.create_index([("dossier_id", 1), ("created_at", 1)])
        database.documents.create_index([("dossier_id", 1), ("sha256", 1)])

    @property
    def contents(self) -> gridfs.GridFSBucket:
        return gridfs.GridFSBucket(self.db, bucket_name="contents")

    # Dossiers

    def open_dossier(self, dossier: dict[str, Any], event: Event) -> bool:
        """False when the patient already has a dossier."""
        return self.insert_new("dossiers", dossier, [event])

    def dossier_by_ins(self, ins: str) -> dict[str, Any] | None:
        return self.db.dossiers.find_one({"ins": ins}, HIDDEN)

    # Documents

    def put_content(self, document_id: str, sealed: bytes) -> None:
        """Stored before the metadata: content without metadata is unreachable, never the reverse."""
        try:
            self.contents.upload_from_stream_with_id(document_id, document_id, sealed)
        except PyMongoError as error:
            raise ServiceUnavailable("the content store is unavailable; nothing was stored") from error

    def content(self, document_id: str) -> bytes | None:
        try:
            return self.contents.open_download_stream(document_id).read()
        except gridfs.errors.NoFile:
            return None

    def add_document(self, document: dict[str, Any], event: Event) -> None:
        self.insert_with_events("documents", document, [event])

    def same_document(self, dossier_id: str, sha256: str, metadata: dict[str, Any]) -> bool:
        """Is a current document with the same content and metadata already there?"""
        query = {"dossier_id": dossier_id, "sha256": sha256, "status": "current", **metadata}
        return self.db.documents.find_one(query, {"_id": 1}) is not None

    def documents(self, dossier_id: str, categories: tuple[str, ...], limit: int) -> list[dict[str, Any]]:
        # The grant becomes the query: pages are full and counts honest, never filtered after.
        query = {"dossier_id": dossier_id, "status": "current", "category": {"$in": list(categories)}}
        cursor = self.db.documents.find(query, HIDDEN).sort([("created_at", -1), ("_id", -1)])
        return list(cursor.limit(limit))

    def document(self, dossier_id: str, document_id: str) -> dict[str, Any] | None:
        return self.db.documents.find_one({"_id": document_id, "dossier_id": dossier_id}, HIDDEN)

    # Accesses: one record per release of health data or refusal, written before the answer.

    def record_access(self, event: Event) -> None:
        access = {
            "_id": event.event_id,
            "dossier_id": event.dossier_id,
            "type": event.type.value,
            "at": event.occurred_at,
        }
        self.insert_with_events("accesses", access, [event])
