"""dossier's collections: dossiers, documents (metadata), accesses (read traces), and the
encrypted contents in GridFS. The only module that knows their documents: the service reads and writes
the records of services/dossier/records.py.

Times that are queried or compared are kept as epoch milliseconds (`*_ms`): nx-27017 turns a top-level
datetime written by $set into a string. Times only shown are nested ({"at": datetime}) or inserted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

import gridfs
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.grants import Grant
from services.common.matching import matches, newest_first
from services.common.store import Reachable, Store, each_of, equal
from services.dossier import queries
from services.dossier.records import (
    Document,
    DocumentStatus,
    Dossier,
    DossierKey,
    DossierState,
    FeedLine,
    IdempotencyClaim,
    Metadata,
    OpeningFee,
    PersonalSpaceVersion,
    PurgeRecord,
    Status,
    SubmissionSet,
    Visibility,
)
from services.dossier.schemas import (
    Coded,
    Concept,
    DocumentSearch,
    ImagingStudy,
    PersonName,
    ReimbursedItem,
    RelatedId,
)

DUPLICATE_KEY = 11000
# What a submission set still shows of its documents: every status but deleted.
SEEN_IN_SETS = ["current", "replaced", "archived"]
HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "_version": 0}
STATE = {
    "_id": 1,
    "ins": 1,
    "patient_id": 1,
    "status": 1,
    "opened_at": 1,
}  # a dossier's state, without its key


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def ms(moment: datetime) -> int:
    # In integers: a time read back and written again stays the same millisecond.
    return (moment - EPOCH) // MILLISECOND


def _moment(epoch_ms: int) -> datetime:
    return EPOCH + epoch_ms * MILLISECOND


def _moment_or_none(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else _moment(epoch_ms)


def stored_moment(moment: datetime) -> datetime:
    """A moment as it reads back from the store: to the millisecond."""
    return _moment(ms(moment))


def claim_is_stale(claimed_at: datetime, now: datetime, stale: timedelta) -> bool:
    """An unfinished idempotency claim older than `stale` (its request died): the next request takes it over."""
    return ms(claimed_at) < ms(now) - int(stale.total_seconds() * 1000)


def same_fields(metadata: Metadata) -> dict[str, Any]:
    """What makes two deposits the same document besides their content: the metadata's scalar fields (a
    nested value in a query reads as operators on nx-27017, which refuses it)."""
    return {
        key: value
        for key, value in _metadata_document(metadata).items()
        if not isinstance(value, dict | list)
    }


def search_selection(
    dossier_id: str, grant: Grant, actor_id: str, search: DocumentSearch
) -> dict[str, Any]:
    """The stored documents a search matches under a grant (queries.py builds it)."""
    return queries.document_query(
        dossier_id,
        grant,
        actor_id,
        categories=search.category,
        type_codes=search.type_code,
        author_id=search.author_id,
        care_from=search.care_from,
        care_to=search.care_to,
        period=queries.PeriodBounds(
            starts_from=search.care_starts_from,
            starts_to=search.care_starts_to,
            ends_from=search.care_ends_from,
            ends_to=search.care_ends_to,
        ),
        created_from_ms=ms(search.created_from) if search.created_from else None,
        created_before_ms=ms(search.created_before) if search.created_before else None,
        document_ids=search.document_id,
        identifiers=search.identifier,
        patient_id=search.patient_id,
        statuses=list(search.status),
        security_labels=None
        if search.security_label is None
        else [group.split(",") if group else [] for group in search.security_label],
        updated_from_ms=ms(search.updated_from) if search.updated_from else None,
        updated_before_ms=ms(search.updated_before) if search.updated_before else None,
        replaces=search.replaces,
        coded={
            field: groups
            for field, groups in (
                ("practice_setting", search.practice_setting),
                ("facility_type", search.facility_type),
                ("events", search.event),
                ("format_code", search.format_code),
                ("related", search.related),
            )
            if groups is not None
        },
        names={
            part: groups
            for part, groups in (
                ("given", search.author_given),
                ("family", search.author_family),
                ("given_exact", search.author_given_exact),
                ("family_exact", search.author_family_exact),
            )
            if groups is not None
        },
    )


def page_of(
    fetched: Iterable[dict[str, Any]],
    selection: dict[str, Any],
    cursor: str | None,
    limit: int,
    order: str = "created_ms",
) -> tuple[int, list[dict[str, Any]], str | None]:
    """(how many of `fetched` match `selection`; the `limit` after `cursor`, newest first; the next page's
    cursor if there are more). Limit 0 asks for the total alone. Applied to what one indexed fetch returned
    (services/common/matching.py says why)."""
    records = list(fetched)
    paged = queries.after(selection, cursor, order)
    total = sum(1 for record in records if matches(record, selection))
    # One record more than the page is kept to know whether there are more (with limit 0 too).
    page = [record for record in newest_first(records, order) if matches(record, paged)][
        : limit + 1
    ]
    more = len(page) > limit and limit > 0
    page = page[:limit]
    return total, page, queries.encode_cursor(page[-1], order) if more else None


def as_stored(document: Document) -> dict[str, Any]:
    """A document as this store keeps it, for its queries (the in-memory store applies them to its records).
    Its last change is written by revisions only, so a deposit's has none."""
    updated = {"updated_ms": ms(document.updated_at)} if document.updated_at else {}
    return _document_document(document) | updated


def line_as_stored(line: FeedLine) -> dict[str, Any]:
    """A reimbursement line as this store keeps it, for its queries (without when it was received)."""
    stored = _line_document(line, EPOCH)
    del stored["received_at"]
    return stored


def idempotency_reference(actor_id: str, key: str) -> str:
    """How a document names the idempotency key it was deposited under (the claim's own id)."""
    return f"{actor_id}|{key}"


class DossierRecords(Reachable, Protocol):
    """What the service asks of its store: the Mongo store below, or the in-memory one of the fast tests
    (services/dossier/memory.py). The contract tests (tests/dossier/test_store.py) hold the two together."""

    # Dossiers
    def open_dossier(self, dossier: Dossier, event: Event) -> bool: ...
    def dossier_by_ins(self, ins: str) -> Dossier | None: ...
    def dossier_by_patient_id(self, patient_id: str) -> Dossier | None: ...
    def dossier_by_id(self, dossier_id: str) -> Dossier | None: ...
    def dossier_of_document(self, document_id: str) -> str | None: ...
    def change_dossier(self, before: Dossier, after: Dossier, event: Event) -> bool: ...
    def keys_to_rewrap(self, current_master: str, limit: int) -> list[Dossier]: ...
    def count_keys_to_rewrap(self, current_master: str) -> int: ...
    def due_for_purge(self, now: datetime) -> list[Dossier]: ...
    def purge(self, dossier: Dossier, event: Event) -> None: ...
    def purge_record(self, dossier_id: str) -> PurgeRecord | None: ...
    def dossiers_of(self, patient_ids: list[str]) -> list[DossierState]: ...

    # The personal space
    def personal_space(self, dossier_id: str) -> PersonalSpaceVersion | None: ...
    def save_personal_space(
        self, dossier_id: str, read: int, written: PersonalSpaceVersion, event: Event
    ) -> bool: ...
    def personal_space_history(self, dossier_id: str) -> list[PersonalSpaceVersion]: ...

    # The reimbursement feed
    def dossiers_by_ins(self, ins_list: list[str]) -> dict[str, DossierState]: ...
    def add_reimbursements(
        self, feed_lines: list[FeedLine], received_at: datetime
    ) -> list[FeedLine]: ...
    def record_feed(self, batch_id: str, events: list[Event]) -> None: ...
    def reimbursements_page(
        self, dossier_id: str, cursor: str | None, limit: int
    ) -> tuple[int, list[FeedLine], str | None]: ...
    def reimbursements_since(self, dossier_id: str, since: date) -> list[FeedLine]: ...

    # The pharmacy fee ledger
    def charge_opening_fee(self, fee: OpeningFee) -> bool: ...
    def opening_fees(self, month: str) -> list[OpeningFee]: ...

    # Documents
    def put_content(self, document_id: str, sealed: bytes) -> None: ...
    def content(self, document_id: str) -> bytes | None: ...
    def delete_content(self, document_id: str) -> None: ...
    def add_document(self, document: Document, event: Event) -> None: ...
    def same_document(self, dossier_id: str, sha256: str, metadata: Metadata) -> bool: ...
    def unique_id_used(self, dossier_id: str, unique_id: str) -> bool: ...
    def search_documents(
        self, dossier_id: str, grant: Grant, actor_id: str, search: DocumentSearch
    ) -> tuple[int, list[Document], str | None]: ...
    def visible_documents(self, dossier_id: str, grant: Grant, actor_id: str) -> list[Document]: ...
    def document(self, dossier_id: str, document_id: str) -> Document | None: ...
    def due_for_release(self, now: datetime) -> list[Document]: ...
    def due_for_reminder(self, now: datetime) -> list[Document]: ...
    def reminded(self, document: Document, event: Event) -> bool: ...
    def revise_document(
        self,
        before: Document,
        after: Document,
        event: Event,
        at: datetime,
        expected: int | None = None,
    ) -> Document | None: ...

    # Submission sets (what ITI-65 deposited together; ITI-66 finds them)
    def add_submission_set(self, submission_set: SubmissionSet) -> bool: ...
    def take_over_deposit(self, submission_set: SubmissionSet, now: datetime) -> bool: ...
    def interrupt_deposit(self, dossier_id: str, set_id: str) -> None: ...
    def submission_set_of_unique_id(
        self, dossier_id: str, unique_id: str
    ) -> SubmissionSet | None: ...
    def deposited(self, dossier_id: str, document_ids: list[str]) -> dict[str, Document]: ...
    def begin_deposit(
        self, dossier_id: str, deposit_id: str, document_ids: Sequence[str], at: datetime
    ) -> None: ...
    def release_deposit(self, dossier_id: str, deposit_id: str) -> None: ...
    def abandoned_deposits(self, started_before: datetime) -> list[tuple[str, str]]: ...
    def discard_deposit(self, dossier_id: str, deposit_id: str) -> int: ...
    def submission_sets(self, dossier_id: str) -> list[SubmissionSet]: ...
    def submission_set(self, set_id: str) -> SubmissionSet | None: ...
    def documents_seen(
        self, dossier_id: str, grant: Grant, actor_id: str, document_ids: list[str]
    ) -> dict[str, Document]: ...

    # Idempotency keys of deposits
    def claim_idempotency(
        self,
        actor_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        stale: timedelta = ...,
    ) -> IdempotencyClaim | None: ...
    def document_by_idempotency(
        self, dossier_id: str, actor_id: str, key: str
    ) -> Document | None: ...
    def complete_idempotency(self, actor_id: str, key: str, document_id: str) -> None: ...
    def release_idempotency(self, actor_id: str, key: str) -> None: ...

    # Accesses
    def record_access(self, event: Event, also: Iterable[Event] = ()) -> None: ...
    def accessed_before(self, dossier_id: str, actor_id: str) -> bool: ...
    def mark_accessed(self, dossier_id: str, actor_id: str) -> None: ...


class DossierStore(Store):
    service = "dossier"
    outbox_collections = (
        "dossiers",
        "documents",
        "accesses",
        "purges",
        "feed_batches",
        "personal_spaces",
    )

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
        database.documents.create_index([("pending_ms", 1)])
        database.submission_sets.create_index([("pending_ms", 1)])
        database.deposits.create_index([("pending_ms", 1)])
        database.deposits.create_index([("dossier_id", 1)])
        database.pharmacy_fees.create_index([("month", 1), ("organisation", 1)])
        database.reimbursements.create_index([("dossier_id", 1), ("care_ms", 1)])
        database.personal_space_history.create_index([("dossier_id", 1), ("version", 1)])
        database.dossiers.create_index([("master_key", 1)])
        database.dossiers.create_index(
            [("patient_id", 1)]
        )  # FHIR searches naming the patient by id
        # Single-field indexes for the lists' equality fetches: nx-27017 uses an index for `field = ?` only
        # when that field has an index of its own (with compound ones alone it scans the whole collection).
        database.documents.create_index([("dossier_id", 1)])
        database.reimbursements.create_index([("dossier_id", 1)])
        database.submission_sets.create_index([("dossier_id", 1)])
        database.submission_sets.create_index([("dossier_id", 1), ("unique_id", 1)])
        # GridFS's own indexes (put_content does not check them on each upload).
        database["contents.files"].create_index([("filename", 1), ("uploadDate", 1)])
        database["contents.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)

    @property
    def contents(self) -> gridfs.GridFSBucket:
        return gridfs.GridFSBucket(self.db, bucket_name="contents")

    # Dossiers

    def open_dossier(self, dossier: Dossier, event: Event) -> bool:
        """False when the patient already has a dossier."""
        return self.insert_new("dossiers", _dossier_document(dossier), [event])

    def dossier_by_ins(self, ins: str) -> Dossier | None:
        return _dossier_or_none(self.db.dossiers.find_one({"ins": ins}, HIDDEN))

    def dossier_by_patient_id(self, patient_id: str) -> Dossier | None:
        return _dossier_or_none(
            self.db.dossiers.find_one({"patient_id": equal(patient_id)}, HIDDEN)
        )

    def dossier_by_id(self, dossier_id: str) -> Dossier | None:
        return _dossier_or_none(self.db.dossiers.find_one({"_id": dossier_id}, HIDDEN))

    def dossier_of_document(self, document_id: str) -> str | None:
        """The id of the dossier a document is in, by the document's id alone."""
        found = self.db.documents.find_one({"_id": document_id}, {"dossier_id": 1})
        return str(found["dossier_id"]) if found else None

    def change_dossier(self, before: Dossier, after: Dossier, event: Event) -> bool:
        """Write what changed from `before` to `after` (a transition, a re-wrapped key) if the dossier is still
        in the status it was read in."""
        changes: dict[str, Any] = {}
        unset: list[str] = []
        if after.status is not before.status:
            changes["status"] = after.status.value
        if _lifecycle_document(after) != _lifecycle_document(before):
            changes["lifecycle"] = _lifecycle_document(after)
        if after.purge_at != before.purge_at:
            if after.purge_at is None:
                unset.append("purge_after_ms")
            else:
                changes["purge_after_ms"] = ms(after.purge_at)
        if after.key != before.key:
            if after.key is None:
                unset += ["wrapped_key", "master_key"]
            else:
                changes |= _key_document(after.key)
        query = {"_id": before.id, "status": before.status.value}
        return (
            self.update_with_events("dossiers", query, changes, [event], tuple(unset)) is not None
        )

    def keys_to_rewrap(self, current_master: str, limit: int) -> list[Dossier]:
        query = {"master_key": {"$exists": True, "$ne": current_master}}
        return [_dossier(found) for found in self.db.dossiers.find(query, HIDDEN).limit(limit)]

    def count_keys_to_rewrap(self, current_master: str) -> int:
        return self.db.dossiers.count_documents(
            {"master_key": {"$exists": True, "$ne": current_master}}
        )

    def due_for_purge(self, now: datetime) -> list[Dossier]:
        return [
            _dossier(found)
            for found in self.db.dossiers.find({"purge_after_ms": {"$lte": ms(now)}}, HIDDEN).limit(
                100
            )
        ]

    def purge(self, dossier: Dossier, event: Event) -> None:
        """Remove a dossier and everything in it. The purge record (with its event) is written first, so a
        purge interrupted half-way is finished by the next run and reported once."""
        self.insert_new(
            "purges",
            {"_id": dossier.id, "patient_id": dossier.patient_id, "purged_at": event.occurred_at},
            [event],
        )
        for document in self.db.documents.find({"dossier_id": dossier.id}, {"_id": 1}):
            self.delete_content(document["_id"])  # may be gone already, after an interrupted run
        for deposit in self._deposits_of(dossier.id):  # what a deposit cut short uploaded
            for document_id in deposit["document_ids"]:
                self.delete_content(document_id)
        self.db.documents.delete_many({"dossier_id": dossier.id})
        self.db.submission_sets.delete_many({"dossier_id": dossier.id})
        self.db.deposits.delete_many({"dossier_id": dossier.id})
        self.db.accesses.delete_many({"dossier_id": dossier.id})
        self.db.reimbursements.delete_many({"dossier_id": dossier.id})
        self.db.personal_spaces.delete_many({"_id": dossier.id})
        self.db.personal_space_history.delete_many({"dossier_id": dossier.id})
        self.db.dossiers.delete_one({"_id": dossier.id})

    def purge_record(self, dossier_id: str) -> PurgeRecord | None:
        found = self.db.purges.find_one({"_id": dossier_id}, {"patient_id": 1, "purged_at": 1})
        return PurgeRecord(found.get("patient_id"), found["purged_at"]) if found else None

    def dossiers_of(self, patient_ids: list[str]) -> list[DossierState]:
        return [
            _state(found) for found in each_of(self.db.dossiers, "patient_id", patient_ids, STATE)
        ]

    # The personal space: sealed with the dossier's key, every version kept.

    def personal_space(self, dossier_id: str) -> PersonalSpaceVersion | None:
        found = self.db.personal_spaces.find_one({"_id": dossier_id}, HIDDEN)
        return _space_version(found) if found else None

    def save_personal_space(
        self, dossier_id: str, read: int, written: PersonalSpaceVersion, event: Event
    ) -> bool:
        """Write `written` if version `read` is still the current one (0: none yet)."""
        record = _space_document(written)
        try:
            self.db.personal_space_history.insert_one(
                {"_id": f"{dossier_id}:{read + 1}", "dossier_id": dossier_id, **record}
            )
        except DuplicateKeyError:
            return False  # someone else saved this version first
        if read == 0:
            return self.insert_new("personal_spaces", {"_id": dossier_id, **record}, [event])
        query = {"_id": dossier_id, "version": read}
        return self.update_with_events("personal_spaces", query, record, [event]) is not None

    def personal_space_history(self, dossier_id: str) -> list[PersonalSpaceVersion]:
        found = self.db.personal_space_history.find({"dossier_id": dossier_id}).sort(
            [("version", -1)]
        )
        return [_space_version(version) for version in found]

    # The reimbursement feed

    def dossiers_by_ins(self, ins_list: list[str]) -> dict[str, DossierState]:
        return {
            state.ins: state
            for state in map(_state, each_of(self.db.dossiers, "ins", ins_list, STATE))
        }

    def add_reimbursements(
        self, feed_lines: list[FeedLine], received_at: datetime
    ) -> list[FeedLine]:
        """Insert lines, skipping line ids already there; the lines actually inserted."""
        if not feed_lines:
            return []
        lines = [_line_document(line, received_at) for line in feed_lines]
        by_id = {line.line_id: line for line in feed_lines}
        try:
            # Lines already there (a re-sent file, a retried batch) are skipped with one read by _id rather than
            # refused one by one by the unique key; a line written meanwhile is still refused by it below.
            known = {
                line["_id"]
                for line in self.db.reimbursements.find(
                    {"_id": {"$in": [line["_id"] for line in lines]}}, {"_id": 1}
                )
            }
            lines = [line for line in lines if line["_id"] not in known]
            if not lines:
                return []
            self.db.reimbursements.insert_many(lines, ordered=False)
        except BulkWriteError as error:
            if any(e["code"] != DUPLICATE_KEY for e in error.details["writeErrors"]):
                raise ServiceUnavailable(
                    "the record store refused some lines; retry the batch"
                ) from error
            failed = {e["index"] for e in error.details["writeErrors"]}
            return [by_id[line["_id"]] for index, line in enumerate(lines) if index not in failed]
        except PyMongoError as error:
            raise ServiceUnavailable("the record store is unavailable; retry the batch") from error
        return [by_id[line["_id"]] for line in lines]

    def record_feed(self, batch_id: str, events: list[Event]) -> None:
        """One record per batch carries the per-dossier events (the audit trail of what was added)."""
        if events:
            self.insert_new("feed_batches", {"_id": batch_id, "dossiers": len(events)}, events)

    def reimbursements_page(
        self, dossier_id: str, cursor: str | None, limit: int
    ) -> tuple[int, list[FeedLine], str | None]:
        """(the dossier's lines, the `limit` after `cursor`, newest care first, the cursor of the next page if
        any). One indexed fetch of the dossier's lines, filtered here (see services/common/matching.py)."""
        selection = {"dossier_id": dossier_id}
        total, page, next_cursor = page_of(
            self.db.reimbursements.find(selection), selection, cursor, limit, "care_ms"
        )
        return total, [_feed_line(line) for line in page], next_cursor

    def reimbursements_since(self, dossier_id: str, since: date) -> list[FeedLine]:
        """The dossier's lines whose care is on or after `since` (the (dossier_id, care_ms) index)."""
        since_ms = ms(datetime.combine(since, time.min, tzinfo=UTC))
        found = self.db.reimbursements.find(
            {"dossier_id": equal(dossier_id), "care_ms": {"$gte": since_ms}}
        )
        return [_feed_line(line) for line in found]

    # The pharmacy fee ledger: one fee per patient, ever.

    def charge_opening_fee(self, fee: OpeningFee) -> bool:
        try:
            self.db.pharmacy_fees.insert_one(
                {
                    "_id": fee.patient_id,
                    "dossier_id": fee.dossier_id,
                    "pharmacist_id": fee.pharmacist_id,
                    "organisation": fee.organisation,
                    "month": fee.month,
                    "opened_at": fee.opened_at,
                }
            )
        except DuplicateKeyError:
            return False  # this patient's dossier was already paid for (closed and reopened, or purged)
        return True

    def opening_fees(self, month: str) -> list[OpeningFee]:
        found = self.db.pharmacy_fees.find({"month": month}).sort(
            [("organisation", 1), ("opened_at", 1)]
        )
        return [
            OpeningFee(
                patient_id=fee["_id"],
                dossier_id=fee["dossier_id"],
                pharmacist_id=fee["pharmacist_id"],
                organisation=fee["organisation"],
                month=fee["month"],
                opened_at=fee["opened_at"],
            )
            for fee in found
        ]

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
            raise ServiceUnavailable(
                "the content store is unavailable; nothing was stored"
            ) from error

    def content(self, document_id: str) -> bytes | None:
        try:
            return self.contents.open_download_stream(document_id).read()
        except gridfs.errors.NoFile:
            return None

    def add_document(self, document: Document, event: Event) -> None:
        """A pending document (one of a deposit, see release_deposit) holds its event until it is released."""
        held = document.pending is not None
        self.insert_with_events("documents", _document_document(document), [event], held=held)

    def same_document(self, dossier_id: str, sha256: str, metadata: Metadata) -> bool:
        """Is a current document with the same content and metadata already there?"""
        # Fetched by the indexed pair, compared here: a many-field query is a full scan on nx-27017.
        # One pending (of a deposit never completed) is nobody's: its content may be deposited again.
        query = {"dossier_id": dossier_id, "sha256": sha256, "status": "current", "pending": None}
        query |= same_fields(metadata)
        candidates = self.db.documents.find({"dossier_id": dossier_id, "sha256": sha256}, HIDDEN)
        return any(matches(candidate, query) for candidate in candidates)

    def unique_id_used(self, dossier_id: str, unique_id: str) -> bool:
        """Does a document of this dossier carry this unique id from its source (deleted ones included: the id
        was used)?"""
        query = {"dossier_id": equal(dossier_id), "unique_id": equal(unique_id)}
        return self.db.documents.find_one(query, {"_id": 1}) is not None

    def search_documents(
        self, dossier_id: str, grant: Grant, actor_id: str, search: DocumentSearch
    ) -> tuple[int, list[Document], str | None]:
        """(documents matching the search under the grant, see queries.py; the page after its cursor, newest
        first; the cursor of the next page if any). Limit 0 asks for the total alone."""
        selection = search_selection(dossier_id, grant, actor_id, search)
        total, page, next_cursor = page_of(
            self.db.documents.find(_indexed(selection), HIDDEN),
            selection,
            search.cursor,
            search.limit,
        )
        return total, [_document(record) for record in page], next_cursor

    def visible_documents(self, dossier_id: str, grant: Grant, actor_id: str) -> list[Document]:
        """The dossier's current documents this actor may see under this grant (the document list's own
        query), fetched like search_documents."""
        selection = queries.document_query(dossier_id, grant, actor_id)
        return [
            _document(record)
            for record in self.db.documents.find(_indexed(selection), HIDDEN)
            if matches(record, selection)
        ]

    def document(self, dossier_id: str, document_id: str) -> Document | None:
        """The document, unless it waits for the others of its deposit (nobody's yet)."""
        found = self.db.documents.find_one({"_id": document_id, "dossier_id": dossier_id}, HIDDEN)
        return _document(found) if found and not found.get("pending") else None

    def due_for_release(self, now: datetime) -> list[Document]:
        """Current documents still invisible to the patient whose automatic release has come."""
        return self._invisible_due("release_ms", now)

    def due_for_reminder(self, now: datetime) -> list[Document]:
        """Current documents still invisible to the patient whose author is to be reminded."""
        return self._invisible_due("remind_ms", now)

    def _invisible_due(self, field: str, now: datetime) -> list[Document]:
        # Only documents still invisible carry these times: the range on the field's own index finds them.
        query = {
            field: {"$lte": ms(now)},
            "status": equal("current"),
            "visibility": "INVISIBLE_PATIENT",
        }
        found = self.db.documents.find(query, HIDDEN).limit(500)
        return [_document(record) for record in found if not record.get("pending")]

    def reminded(self, document: Document, event: Event) -> bool:
        """The author was reminded of a document still invisible to the patient: never again for it."""
        query = {"_id": document.id, "status": document.status.value}
        return self.update_with_events("documents", query, {"remind_ms": None}, [event]) is not None

    def revise_document(
        self,
        before: Document,
        after: Document,
        event: Event,
        at: datetime,
        expected: int | None = None,
    ) -> Document | None:
        """A change the document's metadata shows (status, visibility, its replacement): one revision more (FHIR's
        versionId), compare-and-set on the revision read, so two changes made from one reading cannot both land.
        `expected`: the revision the caller last saw (FHIR If-Match), compared in this same write instead of
        the one read. The document as revised, or None when it changed meanwhile (or is not at `expected`)."""
        changes: dict[str, Any] = {}
        if after.status is not before.status:
            changes["status"] = after.status.value
        if after.visibility != before.visibility:
            changes["visibility"] = [code.value for code in after.visibility]
        if after.replaced_by != before.replaced_by:
            changes["replaced_by"] = after.replaced_by
        if after.release_at != before.release_at:
            changes["release_ms"] = ms(after.release_at) if after.release_at else None
        revision = before.revision  # none on documents stored before revisions: their first
        if expected is not None and expected != (revision or 1):
            # `after` was made from the revision read: written over another one, it would undo that change.
            return None
        query = {
            "_id": before.id,
            "status": before.status.value,
            "revision": equal(revision) if revision is not None else {"$exists": False},
        }
        at_ms = ms(at)
        changes |= {"revision": (revision or 1) + 1, "updated_ms": at_ms}
        if self.update_with_events("documents", query, changes, [event]) is None:
            return None
        return replace(after, revision=(revision or 1) + 1, updated_at=_moment(at_ms))

    def delete_content(self, document_id: str) -> None:
        """Gone already (an interrupted purge run again) is nothing to do. nx-27017 answers the deletion of a
        missing file with an error where MongoDB's GridFS tells NoFile, so a missing file is not asked for."""
        if self.db["contents.files"].find_one({"_id": document_id}, {"_id": 1}) is None:
            self.db["contents.chunks"].delete_many({"files_id": document_id})  # an upload cut short
            return
        with contextlib.suppress(gridfs.errors.NoFile):
            self.contents.delete(document_id)

    # Submission sets (ITI-65's SubmissionSet List): written before their documents, which are written pending
    # (hidden, their events held) and released together in one write (release_deposit). A set is only ever shown
    # with those of its documents the caller may see, so until then nobody is shown it; a retry of the same
    # request (same unique id, same fingerprint) writes what is missing and releases them.

    def add_submission_set(self, submission_set: SubmissionSet) -> bool:
        """False when a set of this id is stored already: the same unique id deposited at the same time."""
        try:
            self.db.submission_sets.insert_one(_submission_set_document(submission_set))
        except DuplicateKeyError:
            return False
        except PyMongoError as error:
            raise ServiceUnavailable(
                "the record store is unavailable; nothing was stored"
            ) from error
        return True

    def take_over_deposit(self, submission_set: SubmissionSet, now: datetime) -> bool:
        """The set's unfinished deposit, taken in hand by a retry, if nobody took it since it was read."""
        claimed = ms(submission_set.claimed_at) if submission_set.claimed_at is not None else 0
        taking = {"$set": {"claimed_ms": ms(now)}}
        taken = self.db.submission_sets.update_one(
            {"_id": submission_set.id, "claimed_ms": equal(claimed)}, taking
        )
        if taken.modified_count == 0 and submission_set.claimed_at == submission_set.submitted_at:
            # Stored before claims were kept: its first attempt's claim is its submission.
            taken = self.db.submission_sets.update_one(
                {"_id": submission_set.id, "claimed_ms": {"$exists": False}}, taking
            )
        return taken.modified_count == 1

    def interrupt_deposit(self, dossier_id: str, set_id: str) -> None:
        """An attempt that failed gives its deposit up: a retry takes it over at once."""
        self.db.submission_sets.update_one(
            {"_id": set_id, "dossier_id": equal(dossier_id)}, {"$set": {"claimed_ms": 0}}
        )

    def submission_set_of_unique_id(self, dossier_id: str, unique_id: str) -> SubmissionSet | None:
        """The dossier's set with this unique id from its source, if any (its documents pending or not)."""
        query = {"dossier_id": equal(dossier_id), "unique_id": equal(unique_id)}
        found = self.db.submission_sets.find_one(query)
        return _submission_set(found) if found else None

    def deposited(self, dossier_id: str, document_ids: list[str]) -> dict[str, Document]:
        """Those of these documents stored in the dossier, pending or not, by id: what a deposit's retry finds of
        the first attempt's writes. By _id, which the embedded store answers from its key."""
        found = self.db.documents.find({"_id": {"$in": document_ids}}, HIDDEN)
        return {
            record["_id"]: _document(record)
            for record in found
            if record["dossier_id"] == dossier_id
        }

    def release_deposit(self, dossier_id: str, deposit_id: str) -> None:
        """Every document of a deposit becomes everyone's at once, with its held event: one write, the deposit's
        commit. Documents already released are left as they are, so a retry releases what is left."""
        self.release_held_events(
            "documents",
            {"dossier_id": equal(dossier_id), "pending": equal(deposit_id)},
            ["pending", "pending_ms"],
        )
        # The set's own mark goes after (a set whose documents are out is complete, whatever its mark says);
        # a deposit without a set, its record.
        marked = self.db.submission_sets.update_one(
            {"_id": deposit_id, "dossier_id": equal(dossier_id)}, {"$unset": {"pending_ms": ""}}
        )
        if not marked.matched_count:
            self.db.deposits.delete_one({"_id": deposit_id})

    def begin_deposit(
        self, dossier_id: str, deposit_id: str, document_ids: Sequence[str], at: datetime
    ) -> None:
        """A deposit of documents together without a submission set: recorded before anything of it is written,
        as a set is, so that what a deposit cut short uploaded can be found and discarded."""
        try:
            self.db.deposits.insert_one(
                {
                    "_id": deposit_id,
                    "dossier_id": dossier_id,
                    "document_ids": list(document_ids),
                    "pending_ms": ms(at),
                }
            )
        except PyMongoError as error:
            raise ServiceUnavailable(
                "the record store is unavailable; nothing was stored"
            ) from error

    def _deposits_of(self, dossier_id: str) -> list[dict[str, Any]]:
        query = {"dossier_id": equal(dossier_id)}
        projection = {"document_ids": 1}
        return [
            *self.db.submission_sets.find(query, projection),
            *self.db.deposits.find(query, projection),
        ]

    def abandoned_deposits(self, started_before: datetime) -> list[tuple[str, str]]:
        """(dossier id, deposit id) of the deposits begun before then and never completed: only their pending
        documents and sets carry `pending_ms`, so the range on its own index finds them."""
        cutoff = {"pending_ms": {"$lte": ms(started_before)}}
        documents = self.db.documents.find(cutoff, {"dossier_id": 1, "pending": 1}).limit(500)
        sets = self.db.submission_sets.find(cutoff, {"dossier_id": 1}).limit(500)
        deposits = self.db.deposits.find(cutoff, {"dossier_id": 1}).limit(500)
        return sorted(
            {(found["dossier_id"], found["pending"]) for found in documents}
            | {(found["dossier_id"], found["_id"]) for found in [*sets, *deposits]}
        )

    def discard_deposit(self, dossier_id: str, deposit_id: str) -> int:
        """Its pending documents (never shown, their events never sent) and their content go; its set (or, without
        one, its record) too, with the content of each of its documents, unless a document of it is out. Run
        again after a failure, it finishes. How many documents went."""
        pending = {"dossier_id": equal(dossier_id), "pending": equal(deposit_id)}
        ids = [found["_id"] for found in self.db.documents.find(pending, {"_id": 1})]
        for document_id in ids:
            self.delete_content(document_id)
        self.db.documents.delete_many(pending)
        mine = {"_id": deposit_id, "dossier_id": equal(dossier_id)}
        found_set = self.db.submission_sets.find_one(mine)
        begun = found_set or self.db.deposits.find_one(mine)
        out = begun is not None and bool(self.deposited(dossier_id, list(begun["document_ids"])))
        if found_set is not None and out:  # complete: a set shown with its documents
            self.db.submission_sets.update_one(mine, {"$unset": {"pending_ms": ""}})
            return len(ids)
        if begun is not None and not out:
            # a document whose write failed had its content uploaded all the same
            for document_id in begun["document_ids"]:
                self.delete_content(document_id)
        self.db.submission_sets.delete_one(mine)
        self.db.deposits.delete_one(mine)
        return len(ids)

    def submission_sets(self, dossier_id: str) -> list[SubmissionSet]:
        """A dossier's submission sets, by the indexed equality (the search filters them in the service)."""
        found = self.db.submission_sets.find({"dossier_id": equal(dossier_id)})
        return [_submission_set(record) for record in found]

    def submission_set(self, set_id: str) -> SubmissionSet | None:
        found = self.db.submission_sets.find_one({"_id": set_id})
        return _submission_set(found) if found else None

    def documents_seen(
        self, dossier_id: str, grant: Grant, actor_id: str, document_ids: list[str]
    ) -> dict[str, Document]:
        """Those of these documents the actor may see under the grant, by id: the document search's own query
        (queries.document_query, every status but deleted), fetched like search_documents."""
        if not document_ids:
            return {}
        selection = queries.document_query(
            dossier_id,
            grant,
            actor_id,
            document_ids=document_ids,
            statuses=SEEN_IN_SETS,
        )
        return {
            record["_id"]: _document(record)
            for record in self.db.documents.find(_indexed(selection), HIDDEN)
            if matches(record, selection)
        }

    # Idempotency keys of deposits: (actor, key) -> the document the first request created.

    def claim_idempotency(
        self,
        actor_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        stale: timedelta = timedelta(minutes=1),
    ) -> IdempotencyClaim | None:
        """None when this request is the first with this key (it is now claimed), else the earlier one. A
        claim left unfinished for `stale` (its request died) is taken over."""
        record_id = idempotency_reference(actor_id, key)
        now_ms = ms(now)
        try:
            self.db.idempotency.insert_one(
                {
                    "_id": record_id,
                    "fingerprint": fingerprint,
                    "claimed_ms": now_ms,
                    "document_id": None,
                }
            )
            return None
        except DuplicateKeyError:
            earlier = self.db.idempotency.find_one({"_id": record_id})
        if (
            earlier is not None
            and earlier.get("document_id") is None
            and claim_is_stale(_moment(earlier["claimed_ms"]), now, stale)
        ):
            taken = self.db.idempotency.update_one(
                {"_id": record_id, "claimed_ms": earlier["claimed_ms"], "document_id": None},
                {"$set": {"fingerprint": fingerprint, "claimed_ms": now_ms}},
            )
            if taken.modified_count == 1:
                return None
        if earlier is None:
            return None
        return IdempotencyClaim(
            fingerprint=earlier["fingerprint"],
            claimed_at=_moment(earlier["claimed_ms"]),
            document_id=earlier.get("document_id"),
        )

    def document_by_idempotency(self, dossier_id: str, actor_id: str, key: str) -> Document | None:
        """The document stored under an idempotency key (the key rides in the document's own atomic insert)."""
        query = {"dossier_id": dossier_id, "idempotency": idempotency_reference(actor_id, key)}
        found = self.db.documents.find_one(query, HIDDEN)
        return _document(found) if found else None

    def complete_idempotency(self, actor_id: str, key: str, document_id: str) -> None:
        self.db.idempotency.update_one(
            {"_id": idempotency_reference(actor_id, key)}, {"$set": {"document_id": document_id}}
        )

    def release_idempotency(self, actor_id: str, key: str) -> None:
        self.db.idempotency.delete_one(
            {"_id": idempotency_reference(actor_id, key), "document_id": None}
        )

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


def _indexed(selection: dict[str, Any]) -> dict[str, Any]:
    """The part of a document query the store fetches by: the (dossier_id, status) equality."""
    indexed = {
        key: selection[key]
        for key in ("dossier_id", "status")
        if isinstance(selection.get(key), str)
    }
    if "dossier_id" not in indexed:
        raise ValueError("a document search is always within one dossier")
    return indexed


# Records and their documents, in one place.

LIFECYCLE_NAMES = {
    "closed_at": "close_at",
    "deletion_requested_at": "delete_at",
}  # as told -> as stored


def _dossier_document(dossier: Dossier) -> dict[str, Any]:
    return {
        "_id": dossier.id,
        "ins": dossier.ins,
        "patient_id": dossier.patient_id,
        "status": dossier.status.value,
        "opened_at": dossier.opened_at,
        "opened_by": dossier.opened_by,
        "channel": dossier.channel,
        "consent_to_opening": {
            "given": True,
            "recorded_by": dossier.consent_recorded_by,
            "at": dossier.opened_at,
        },
        **(_key_document(dossier.key) if dossier.key else {}),
    }


def _key_document(key: DossierKey) -> dict[str, Any]:
    return {"wrapped_key": key.wrapped, "master_key": key.master}


def _lifecycle_document(dossier: Dossier) -> dict[str, datetime]:
    """The moments of its latest transition, nested (a top-level datetime written by $set becomes a string)."""
    moments = {
        "closed_at": dossier.closed_at,
        "deletion_requested_at": dossier.deletion_requested_at,
        "reopened_at": dossier.reopened_at,
        "purge_at": dossier.purge_at,
    }
    return {LIFECYCLE_NAMES.get(name, name): at for name, at in moments.items() if at is not None}


def _dossier_or_none(document: dict[str, Any] | None) -> Dossier | None:
    return _dossier(document) if document is not None else None


def _dossier(document: dict[str, Any]) -> Dossier:
    moments = {name: _at(at) for name, at in (document.get("lifecycle") or {}).items()}
    wrapped = document.get("wrapped_key")
    return Dossier(
        id=document["_id"],
        ins=document["ins"],
        patient_id=document["patient_id"],
        status=Status(document["status"]),
        opened_at=document["opened_at"],
        opened_by=document.get("opened_by") or {},
        channel=document.get("channel", ""),
        consent_recorded_by=(document.get("consent_to_opening") or {}).get("recorded_by", ""),
        key=DossierKey(wrapped, document.get("master_key", "")) if wrapped is not None else None,
        closed_at=moments.get("close_at"),
        deletion_requested_at=moments.get("delete_at"),
        reopened_at=moments.get("reopened_at"),
        purge_at=moments.get("purge_at"),
    )


def _at(value: Any) -> datetime:
    # Nested datetimes come back as datetimes; a string is one that lost its type on the way.
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _state(document: dict[str, Any]) -> DossierState:
    return DossierState(
        id=document["_id"],
        ins=document["ins"],
        patient_id=document["patient_id"],
        status=Status(document["status"]),
        opened_at=document["opened_at"],
    )


def _space_document(version: PersonalSpaceVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "sealed": version.sealed,
        "updated": {"at": version.updated_at, "by": version.updated_by},
    }


def _space_version(document: dict[str, Any]) -> PersonalSpaceVersion:
    return PersonalSpaceVersion(
        version=document["version"],
        sealed=document["sealed"],
        updated_at=document["updated"]["at"],
        updated_by=document["updated"]["by"],
    )


def _line_document(line: FeedLine, received_at: datetime) -> dict[str, Any]:
    care = datetime.combine(line.care_date, time.min, tzinfo=UTC)
    return {
        "_id": line.line_id,
        "dossier_id": line.dossier_id,
        "line_id": line.line_id,
        "care_date": line.care_date.isoformat(),
        # an item's ATC class only when the feed gave one: lines without stay as they always were
        "items": [item.model_dump(mode="json", exclude_none=True) for item in line.items],
        "prescriber_rpps": line.prescriber_rpps,
        "billed_cents": line.billed_cents,
        "reimbursed_cents": line.reimbursed_cents,
        "care_ms": ms(care),
        "received_at": received_at,
    }


def _feed_line(document: dict[str, Any]) -> FeedLine:
    return FeedLine(
        line_id=document["_id"],
        dossier_id=document["dossier_id"],
        care_date=date.fromisoformat(str(document["care_date"])),
        items=tuple(ReimbursedItem.model_validate(item) for item in document["items"]),
        billed_cents=document.get("billed_cents", 0),
        reimbursed_cents=document.get("reimbursed_cents", 0),
        prescriber_rpps=document.get("prescriber_rpps"),
    )


def _metadata_document(metadata: Metadata) -> dict[str, Any]:
    """As the submission was: its fields as JSON, every one present (None when not given)."""

    def dumped(part: Coded | Concept | ImagingStudy | RelatedId | None) -> dict[str, Any] | None:
        return part.model_dump(mode="json") if part is not None else None

    return {
        "category": metadata.category,
        "type_code": metadata.type_code,
        "title": metadata.title,
        "care_date": metadata.care_date.isoformat(),
        "format": metadata.format,
        "confidentiality": metadata.confidentiality,
        "imaging_study": dumped(metadata.imaging_study),
        "unique_id": metadata.unique_id,
        "visibility": [code.value for code in metadata.visibility],
        "care_start": metadata.care_start,
        "care_end": metadata.care_end,
        "format_code": dumped(metadata.format_code),
        "facility_type": dumped(metadata.facility_type),
        "practice_setting": dumped(metadata.practice_setting),
        "events": [event.model_dump(mode="json") for event in metadata.events],
        "related": [related.model_dump(mode="json") for related in metadata.related],
    }


def _metadata(document: dict[str, Any]) -> Metadata:
    def parsed(model: type[Any], value: Any) -> Any:
        return model.model_validate(value) if value is not None else None

    care = document["care_date"]
    return Metadata(
        category=document["category"],
        type_code=document["type_code"],
        title=document["title"],
        care_date=care if isinstance(care, date) else date.fromisoformat(str(care)),
        format=document["format"],
        confidentiality=document.get("confidentiality", "N"),
        visibility=tuple(Visibility(code) for code in document.get("visibility") or []),
        unique_id=document.get("unique_id"),
        care_start=document.get("care_start"),
        care_end=document.get("care_end"),
        imaging_study=parsed(ImagingStudy, document.get("imaging_study")),
        format_code=parsed(Coded, document.get("format_code")),
        facility_type=parsed(Concept, document.get("facility_type")),
        practice_setting=parsed(Concept, document.get("practice_setting")),
        events=tuple(Concept.model_validate(event) for event in document.get("events") or []),
        related=tuple(
            RelatedId.model_validate(related) for related in document.get("related") or []
        ),
    )


def _document_document(document: Document) -> dict[str, Any]:
    stored: dict[str, Any] = {
        "_id": document.id,
        "dossier_id": document.dossier_id,
        **_metadata_document(document.metadata),
        "created_at": document.created_at,
        "created_ms": ms(document.created_at),
        "revision": document.revision,
        "size": document.size,
        "sha256": document.sha256,
        "status": document.status.value,
        "replaces": document.replaces,
        "replaced_by": document.replaced_by,
        "author": document.author,
        "patient_id": document.patient_id,
    }
    if document.idempotency is not None:
        stored |= {
            "idempotency": document.idempotency,
            "idempotency_fingerprint": document.idempotency_fingerprint,
        }
    if document.author_name is not None:
        stored["author_name"] = queries.name_fields(document.author_name)
    if document.pending is not None:
        stored["pending"] = document.pending
        stored["pending_ms"] = ms(document.created_at)  # until released (abandoned_deposits)
    if document.release_at is not None:
        stored["release_ms"] = ms(document.release_at)
    if document.remind_at is not None:
        stored["remind_ms"] = ms(document.remind_at)
    return stored


def _document(document: dict[str, Any]) -> Document:
    return Document(
        id=document["_id"],
        dossier_id=document["dossier_id"],
        patient_id=document.get("patient_id"),
        metadata=_metadata(document),
        author=document["author"],
        created_at=document["created_at"],
        size=document["size"],
        sha256=document["sha256"],
        status=DocumentStatus(document["status"]),
        replaces=document.get("replaces"),
        replaced_by=document.get("replaced_by"),
        revision=document.get("revision"),
        updated_at=_moment(document["updated_ms"]) if document.get("updated_ms") else None,
        release_at=_moment_or_none(document.get("release_ms")),
        remind_at=_moment_or_none(document.get("remind_ms")),
        idempotency=document.get("idempotency"),
        idempotency_fingerprint=document.get("idempotency_fingerprint"),
        author_name=_name(document.get("author_name")),
        pending=document.get("pending"),
    )


def _name(stored: dict[str, str] | None) -> PersonName | None:
    return PersonName(given=stored["given"], family=stored["family"]) if stored else None


def _submission_set_document(submission_set: SubmissionSet) -> dict[str, Any]:
    coded = submission_set.designation_type
    return {
        "_id": submission_set.id,
        "dossier_id": submission_set.dossier_id,
        "patient_id": submission_set.patient_id,
        "author": submission_set.author,
        "submitted_at": submission_set.submitted_at,
        "submitted_ms": ms(submission_set.submitted_at),
        "document_ids": list(submission_set.document_ids),
        "unique_id": submission_set.unique_id,
        "source_id": submission_set.source_id,
        "title": submission_set.title,
        "designation_type": coded.model_dump(mode="json") if coded is not None else None,
        "intended_recipients": list(submission_set.intended_recipients),
        "fingerprint": submission_set.fingerprint,
        "pending_ms": ms(
            submission_set.submitted_at
        ),  # until its deposit is released (abandoned_deposits)
        "claimed_ms": ms(submission_set.claimed_at or submission_set.submitted_at),
        **(
            {"author_name": queries.name_fields(submission_set.author_name)}
            if submission_set.author_name
            else {}
        ),
    }


def _submission_set(record: dict[str, Any]) -> SubmissionSet:
    coded = record.get("designation_type")
    return SubmissionSet(
        id=record["_id"],
        dossier_id=record["dossier_id"],
        patient_id=record["patient_id"],
        author=record["author"],
        submitted_at=_moment(record["submitted_ms"]),
        document_ids=tuple(record["document_ids"]),
        unique_id=record.get("unique_id"),
        source_id=record.get("source_id"),
        title=record.get("title"),
        designation_type=Coded.model_validate(coded) if coded is not None else None,
        intended_recipients=tuple(record.get("intended_recipients") or []),
        author_name=_name(record.get("author_name")),
        fingerprint=record.get("fingerprint"),
        pending="pending_ms" in record,
        claimed_at=_moment(record.get("claimed_ms", record["submitted_ms"]))
        if record.get("claimed_ms", 1)
        else None,  # 0: given up by an attempt that failed
    )
