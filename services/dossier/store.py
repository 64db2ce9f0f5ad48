"""dossier's collections: dossiers, documents (metadata), accesses (read traces), and the
encrypted contents in GridFS."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import gridfs
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.matching import matches, newest_first
from services.common.store import Store, each_of, equal

DUPLICATE_KEY = 11000
HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "_version": 0}


class DossierStore(Store):
    service = "dossier"
    outbox_collections = ("dossiers", "documents", "accesses", "purges", "feed_batches", "personal_spaces")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.dossiers.create_index([("ins", 1)], unique=True)
        database.documents.create_index([("dossier_id", 1), ("status", 1), ("created_ms", 1)])
        database.documents.create_index([("dossier_id", 1), ("sha256", 1)])
        database.documents.create_index([("dossier_id", 1), ("unique_id", 1)])
        database.documents.create_index([("idempotency", 1)])
        database.dossiers.create_index([("purge_after_ms", 1)])
        database.documents.create_index([("release_ms", 1)])
        database.documents.create_index([("remind_ms", 1)])
        database.pharmacy_fees.create_index([("month", 1), ("organisation", 1)])
        database.reimbursements.create_index([("dossier_id", 1), ("care_ms", 1)])
        database.personal_space_history.create_index([("dossier_id", 1), ("version", 1)])
        database.dossiers.create_index([("master_key", 1)])
        database.dossiers.create_index([("patient_id", 1)])  # FHIR searches naming the patient by id
        # Single-field indexes for the lists' equality fetches: nx-27017 uses an index for `field = ?` only
        # when that field has an index of its own (with compound ones alone it scans the whole collection).
        database.documents.create_index([("dossier_id", 1)])
        database.reimbursements.create_index([("dossier_id", 1)])
        # GridFS's own indexes (put_content does not check them on each upload).
        database["contents.files"].create_index([("filename", 1), ("uploadDate", 1)])
        database["contents.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)

    @property
    def contents(self) -> gridfs.GridFSBucket:
        return gridfs.GridFSBucket(self.db, bucket_name="contents")

    # Dossiers

    def open_dossier(self, dossier: dict[str, Any], event: Event) -> bool:
        """False when the patient already has a dossier."""
        return self.insert_new("dossiers", dossier, [event])

    def dossier_by_ins(self, ins: str) -> dict[str, Any] | None:
        return self.db.dossiers.find_one({"ins": ins}, HIDDEN)

    def dossier_by_patient_id(self, patient_id: str) -> dict[str, Any] | None:
        return self.db.dossiers.find_one({"patient_id": equal(patient_id)}, HIDDEN)

    def dossier_by_id(self, dossier_id: str) -> dict[str, Any] | None:
        return self.db.dossiers.find_one({"_id": dossier_id}, HIDDEN)

    def document_anywhere(self, document_id: str) -> dict[str, Any] | None:
        return self.db.documents.find_one({"_id": document_id}, {"dossier_id": 1})

    def change_dossier(
        self, dossier_id: str, expected_status: str, changes: dict[str, Any], event: Event, unset: tuple[str, ...] = ()
    ) -> bool:
        """Apply a lifecycle transition if the dossier is still in the status it was read in."""
        query = {"_id": dossier_id, "status": expected_status}
        return self.update_with_events("dossiers", query, changes, [event], unset) is not None

    def keys_to_rewrap(self, current_master: str, limit: int) -> list[dict[str, Any]]:
        query = {"master_key": {"$exists": True, "$ne": current_master}}
        return list(self.db.dossiers.find(query, HIDDEN).limit(limit))

    def count_keys_to_rewrap(self, current_master: str) -> int:
        return self.db.dossiers.count_documents({"master_key": {"$exists": True, "$ne": current_master}})

    def due_for_purge(self, now_ms: int) -> list[dict[str, Any]]:
        return list(self.db.dossiers.find({"purge_after_ms": {"$lte": now_ms}}, HIDDEN).limit(100))

    def purge(self, dossier: dict[str, Any], event: Event) -> None:
        """Remove a dossier and everything in it. The purge record (with its event) is written first, so a
        purge interrupted half-way is finished by the next run and reported once."""
        self.insert_new("purges", {"_id": dossier["_id"], "patient_id": dossier["patient_id"],
                                   "purged_at": event.occurred_at}, [event])
        for document in self.db.documents.find({"dossier_id": dossier["_id"]}, {"_id": 1}):
            self.delete_content(document["_id"])  # may be gone already, after an interrupted run
        self.db.documents.delete_many({"dossier_id": dossier["_id"]})
        self.db.accesses.delete_many({"dossier_id": dossier["_id"]})
        self.db.reimbursements.delete_many({"dossier_id": dossier["_id"]})
        self.db.personal_spaces.delete_many({"_id": dossier["_id"]})
        self.db.personal_space_history.delete_many({"dossier_id": dossier["_id"]})
        self.db.dossiers.delete_one({"_id": dossier["_id"]})

    def purge_record(self, dossier_id: str) -> dict[str, Any] | None:
        return self.db.purges.find_one({"_id": dossier_id}, {"patient_id": 1, "purged_at": 1})

    def dossiers_of(self, patient_ids: list[str]) -> list[dict[str, Any]]:
        return each_of(self.db.dossiers, "patient_id", patient_ids, {"patient_id": 1, "status": 1, "opened_at": 1})

    # The personal space: sealed with the dossier's key, every version kept.

    def personal_space(self, dossier_id: str) -> dict[str, Any] | None:
        return self.db.personal_spaces.find_one({"_id": dossier_id}, HIDDEN)

    def save_personal_space(self, dossier_id: str, version: int, record: dict[str, Any], event: Event) -> bool:
        """Write version `version + 1` if `version` is still the current one (0: none yet)."""
        try:
            self.db.personal_space_history.insert_one(
                {"_id": f"{dossier_id}:{version + 1}", "dossier_id": dossier_id, **record})
        except DuplicateKeyError:
            return False  # someone else saved this version first
        if version == 0:
            return self.insert_new("personal_spaces", {"_id": dossier_id, **record}, [event])
        query = {"_id": dossier_id, "version": version}
        return self.update_with_events("personal_spaces", query, record, [event]) is not None

    def personal_space_history(self, dossier_id: str) -> list[dict[str, Any]]:
        return list(self.db.personal_space_history.find({"dossier_id": dossier_id}).sort([("version", -1)]))

    # The reimbursement feed

    def dossiers_by_ins(self, ins_list: list[str]) -> dict[str, dict[str, Any]]:
        found = each_of(self.db.dossiers, "ins", ins_list, {"_id": 1, "ins": 1, "patient_id": 1, "status": 1})
        return {dossier["ins"]: dossier for dossier in found}

    def add_reimbursements(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert lines, skipping line ids already there; the lines actually inserted."""
        if not lines:
            return []
        try:
            # Lines already there (a re-sent file, a retried batch) are skipped with one read by _id rather than
            # refused one by one by the unique key; a line written meanwhile is still refused by it below.
            known = {line["_id"] for line in self.db.reimbursements.find(
                {"_id": {"$in": [line["_id"] for line in lines]}}, {"_id": 1})}
            lines = [line for line in lines if line["_id"] not in known]
            if not lines:
                return []
            self.db.reimbursements.insert_many(lines, ordered=False)
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise ServiceUnavailable("the record store refused some lines; retry the batch") from error
            failed = {e["index"] for e in error.details["writeErrors"]}
            return [line for index, line in enumerate(lines) if index not in failed]
        except PyMongoError as error:
            raise ServiceUnavailable("the record store is unavailable; retry the batch") from error
        return lines

    def record_feed(self, batch_id: str, events: list[Event]) -> None:
        """One record per batch carries the per-dossier events (the audit trail of what was added)."""
        if events:
            self.insert_new("feed_batches", {"_id": batch_id, "dossiers": len(events)}, events)

    def reimbursements_page(
        self, selection: dict[str, Any], paged: dict[str, Any], limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(lines matching `selection`, the first `limit` matching `paged`, newest care first). One indexed
        fetch of the dossier's lines, filtered here (see services/common/matching.py)."""
        lines = list(self.db.reimbursements.find({"dossier_id": selection["dossier_id"]}))
        total = sum(1 for line in lines if matches(line, selection))
        return total, [line for line in newest_first(lines, "care_ms") if matches(line, paged)][:limit]

    def reimbursements_since(self, dossier_id: str, since_ms: int) -> list[dict[str, Any]]:
        """The dossier's lines whose care is on or after `since_ms` (the (dossier_id, care_ms) index)."""
        return list(self.db.reimbursements.find({"dossier_id": equal(dossier_id), "care_ms": {"$gte": since_ms}},
                                                {"care_date": 1, "items": 1}))

    # The pharmacy fee ledger: one fee per patient, ever.

    def charge_opening_fee(self, fee: dict[str, Any]) -> bool:
        try:
            self.db.pharmacy_fees.insert_one(fee)
        except DuplicateKeyError:
            return False  # this patient's dossier was already paid for (closed and reopened, or purged)
        return True

    def opening_fees(self, month: str) -> list[dict[str, Any]]:
        return list(self.db.pharmacy_fees.find({"month": month}).sort([("organisation", 1), ("opened_at", 1)]))

    # Documents

    def put_content(self, document_id: str, sealed: bytes) -> None:
        """Stored before the metadata: content without metadata is unreachable, never the reverse."""
        try:
            upload = self.contents.open_upload_stream_with_id(document_id, document_id)
            # GridFS checks its two indexes before every upload: four round trips per deposit on nx-27017,
            # whose chunks never look present to it (seen by counting a deposit's store commands).
            # `prepare` created them once, at start.
            object.__setattr__(upload, "_ensured_index", True)
            with upload:
                upload.write(sealed)
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
        # Scalar fields only: a nested value in a query reads as operators (nx-27017 refuses it).
        # Fetched by the indexed pair, compared here: a many-field query is a full scan on nx-27017.
        scalars = {key: value for key, value in metadata.items() if not isinstance(value, dict | list)}
        query = {"dossier_id": dossier_id, "sha256": sha256, "status": "current", **scalars}
        candidates = self.db.documents.find({"dossier_id": dossier_id, "sha256": sha256}, HIDDEN)
        return any(matches(candidate, query) for candidate in candidates)

    def document_by_unique_id(self, dossier_id: str, unique_id: str) -> dict[str, Any] | None:
        """A document of this dossier with this unique id from its source (deleted ones included: the id was used)."""
        return self.db.documents.find_one({"dossier_id": equal(dossier_id), "unique_id": equal(unique_id)}, {"_id": 1})

    def search_documents(
        self, selection: dict[str, Any], paged: dict[str, Any], limit: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(documents matching `selection`, a query built from the grant (see queries.py); the first `limit`
        matching `paged`, newest first). One fetch of the dossier's documents in that status by an indexed
        equality, the rest of the filter applied here (services/common/matching.py says why)."""
        indexed = {key: selection[key] for key in ("dossier_id", "status") if isinstance(selection.get(key), str)}
        assert "dossier_id" in indexed, "a document search is always within one dossier"
        records = list(self.db.documents.find(indexed, HIDDEN))
        total = sum(1 for record in records if matches(record, selection))
        return total, [record for record in newest_first(records, "created_ms") if matches(record, paged)][:limit]

    def documents_matching(self, selection: dict[str, Any]) -> list[dict[str, Any]]:
        """Every document matching `selection` (a query built from the grant, see queries.py), fetched like
        search_documents: by the indexed (dossier_id, status) equality, the rest of the filter applied here."""
        indexed = {key: selection[key] for key in ("dossier_id", "status") if isinstance(selection.get(key), str)}
        assert "dossier_id" in indexed, "a document search is always within one dossier"
        return [record for record in self.db.documents.find(indexed, HIDDEN) if matches(record, selection)]

    def document(self, dossier_id: str, document_id: str) -> dict[str, Any] | None:
        return self.db.documents.find_one({"_id": document_id, "dossier_id": dossier_id}, HIDDEN)

    def invisible_due(self, field: str, now_ms: int) -> list[dict[str, Any]]:
        """Current documents still invisible to the patient whose `field` time has come."""
        # Only documents still invisible carry these times: the range on the field's own index finds them.
        query = {field: {"$lte": now_ms}, "status": equal("current"), "visibility": "INVISIBLE_PATIENT"}
        return list(self.db.documents.find(query, HIDDEN).limit(500))

    def change_document(self, document_id: str, expected_status: str, changes: dict[str, Any], event: Event) -> bool:
        query = {"_id": document_id, "status": expected_status}
        return self.update_with_events("documents", query, changes, [event]) is not None

    def revise_document(
        self, document: dict[str, Any], changes: dict[str, Any], event: Event, at_ms: int
    ) -> dict[str, Any] | None:
        """A change the document's metadata shows (status, visibility, its replacement): one revision more (FHIR's
        versionId), compare-and-set on the revision read, so two changes made from one reading cannot both land.
        The changes as applied, or None when the document changed meanwhile."""
        revision = document.get("revision")  # none on documents stored before revisions: their first
        query = {"_id": document["_id"], "status": document["status"],
                 "revision": equal(revision) if revision is not None else {"$exists": False}}
        applied = {**changes, "revision": (revision or 1) + 1, "updated_ms": at_ms}
        return applied if self.update_with_events("documents", query, applied, [event]) is not None else None

    def delete_content(self, document_id: str) -> None:
        with contextlib.suppress(gridfs.errors.NoFile):
            self.contents.delete(document_id)

    # Idempotency keys of deposits: (actor, key) -> the document the first request created.

    def claim_idempotency(
        self, actor_id: str, key: str, fingerprint: str, now_ms: int, stale_ms: int = 60_000
    ) -> dict[str, Any] | None:
        """None when this request is the first with this key (it is now claimed), else the earlier one. A
        claim left unfinished for `stale_ms` (its request died) is taken over."""
        record_id = f"{actor_id}|{key}"
        try:
            self.db.idempotency.insert_one({"_id": record_id, "fingerprint": fingerprint, "claimed_ms": now_ms,
                                            "document_id": None})
            return None
        except DuplicateKeyError:
            earlier = self.db.idempotency.find_one({"_id": record_id})
        if earlier is not None and earlier.get("document_id") is None and earlier["claimed_ms"] < now_ms - stale_ms:
            taken = self.db.idempotency.update_one(
                {"_id": record_id, "claimed_ms": earlier["claimed_ms"], "document_id": None},
                {"$set": {"fingerprint": fingerprint, "claimed_ms": now_ms}})
            if taken.modified_count == 1:
                return None
        return earlier

    def document_by_idempotency(self, dossier_id: str, reference: str) -> dict[str, Any] | None:
        """The document stored under an idempotency key (the key rides in the document's own atomic insert)."""
        return self.db.documents.find_one({"dossier_id": dossier_id, "idempotency": reference}, HIDDEN)

    def complete_idempotency(self, actor_id: str, key: str, document_id: str) -> None:
        self.db.idempotency.update_one({"_id": f"{actor_id}|{key}"}, {"$set": {"document_id": document_id}})

    def release_idempotency(self, actor_id: str, key: str) -> None:
        self.db.idempotency.delete_one({"_id": f"{actor_id}|{key}", "document_id": None})

    # Accesses: one record per release of health data or refusal, written before the answer.

    def record_access(self, event: Event, also: Iterable[Event] = ()) -> None:
        access = {
            "_id": event.event_id,
            "dossier_id": event.dossier_id,
            "type": event.type.value,
            "at": event.occurred_at,
        }
        self.insert_with_events("accesses", access, [event, *also])

    def accessed_before(self, dossier_id: str, actor_id: str) -> bool:
        return self.db.first_accesses.find_one({"_id": f"{dossier_id}|{actor_id}"}) is not None

    def mark_accessed(self, dossier_id: str, actor_id: str) -> None:
        with contextlib.suppress(DuplicateKeyError):
            self.db.first_accesses.insert_one({"_id": f"{dossier_id}|{actor_id}"})
