"""The dossier store in memory, for the fast tests of the service's use cases: the records in dicts, the
same answers as services/dossier/store.py (tests/dossier/test_store.py runs the same contract on both).

What the Mongo store would publish through its outbox is collected in `events`, in the order of the writes.
Records are kept as given (the service's clock reads to the millisecond, as the store keeps times); the
moments the Mongo store turns into epoch milliseconds are compared and answered as such. Searches and
pages go through the store's own pure query and paging (one source of truth for who sees what), applied
to the records' stored form; everything else is a plain predicate on the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.grants import Grant
from services.common.matching import matches
from services.common.memory import MemoryStore
from services.dossier import queries
from services.dossier.records import (
    Document,
    DocumentStatus,
    Dossier,
    DossierState,
    FeedLine,
    IdempotencyClaim,
    Metadata,
    OpeningFee,
    PersonalSpaceVersion,
    PurgeRecord,
    SubmissionSet,
    Visibility,
)
from services.dossier.schemas import DocumentSearch
from services.dossier.store import (
    SEEN_IN_SETS,
    DossierRecords,
    as_stored,
    claim_is_stale,
    idempotency_reference,
    line_as_stored,
    page_of,
    same_fields,
    search_selection,
    stored_moment,
)

PURGE_BATCH, DUE_BATCH = 100, 500  # as many as one run of the Mongo store's jobs takes


@dataclass(frozen=True)
class _Access:
    dossier_id: str | None


def _state(dossier: Dossier) -> DossierState:
    return DossierState(
        dossier.id, dossier.ins, dossier.patient_id, dossier.status, dossier.opened_at
    )


def _invisible_and_due(document: Document, due: datetime | None, now: datetime) -> bool:
    return (
        due is not None
        and document.pending is None
        and stored_moment(due) <= stored_moment(now)
        and document.status is DocumentStatus.CURRENT
        and Visibility.INVISIBLE_TO_PATIENT in document.visibility
    )


class MemoryDossierStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.dossiers: dict[str, Dossier] = {}
        self.documents: dict[str, Document] = {}
        self.contents: dict[str, bytes] = {}
        self.accesses: dict[str, _Access] = {}
        self.first_accesses: set[str] = set()
        self.purges: dict[str, PurgeRecord] = {}
        self.spaces: dict[str, PersonalSpaceVersion] = {}
        self.space_history: dict[tuple[str, int], PersonalSpaceVersion] = {}
        self.lines: dict[str, FeedLine] = {}
        self.feed_batches: set[str] = set()
        self.fees: dict[str, OpeningFee] = {}
        self.claims: dict[str, IdempotencyClaim] = {}
        self.sets: dict[str, SubmissionSet] = {}  # submission sets, by id
        # deposits without a set under way, by id: (dossier id, its documents' ids, when it began)
        self.deposits: dict[str, tuple[str, tuple[str, ...], datetime]] = {}
        self.held: dict[
            str, list[Event]
        ] = {}  # the events of a deposit's pending documents, by deposit

    def _published(self, *events: Event) -> None:
        self.events.extend(events)

    # Dossiers

    def open_dossier(self, dossier: Dossier, event: Event) -> bool:
        if dossier.id in self.dossiers or self.dossier_by_ins(dossier.ins) is not None:
            return False
        self.dossiers[dossier.id] = dossier
        self._published(event)
        return True

    def dossier_by_ins(self, ins: str) -> Dossier | None:
        return next((d for d in self.dossiers.values() if d.ins == ins), None)

    def dossier_by_patient_id(self, patient_id: str) -> Dossier | None:
        return next((d for d in self.dossiers.values() if d.patient_id == patient_id), None)

    def dossier_by_id(self, dossier_id: str) -> Dossier | None:
        return self.dossiers.get(dossier_id)

    def dossier_of_document(self, document_id: str) -> str | None:
        document = self.documents.get(document_id)
        return document.dossier_id if document else None

    def change_dossier(self, before: Dossier, after: Dossier, event: Event) -> bool:
        current = self.dossiers.get(before.id)
        if current is None or current.status is not before.status:
            return False
        # What the Mongo store writes: only what changed from `before`, over the dossier as it is now.
        changed = replace(current, status=after.status)
        moments = ("closed_at", "deletion_requested_at", "reopened_at", "purge_at")
        if any(getattr(after, name) != getattr(before, name) for name in moments):
            changed = replace(changed, **{name: getattr(after, name) for name in moments})
        if after.key != before.key:
            changed = replace(changed, key=after.key)
        self.dossiers[before.id] = changed
        self._published(event)
        return True

    def _rewrappable(self, current_master: str) -> list[Dossier]:
        return [d for d in self.dossiers.values() if d.key and d.key.master != current_master]

    def keys_to_rewrap(self, current_master: str, limit: int) -> list[Dossier]:
        return self._rewrappable(current_master)[:limit]

    def count_keys_to_rewrap(self, current_master: str) -> int:
        return len(self._rewrappable(current_master))

    def due_for_purge(self, now: datetime) -> list[Dossier]:
        return [
            dossier
            for dossier in self.dossiers.values()
            if dossier.purge_at is not None
            and stored_moment(dossier.purge_at) <= stored_moment(now)
        ][:PURGE_BATCH]

    def purge(self, dossier: Dossier, event: Event) -> None:
        if dossier.id not in self.purges:  # reported once, however many runs it takes
            self.purges[dossier.id] = PurgeRecord(dossier.patient_id, event.occurred_at)
            self._published(event)
        for document in [d for d in self.documents.values() if d.dossier_id == dossier.id]:
            self.contents.pop(document.id, None)
            del self.documents[document.id]
        begun = [*(s.document_ids for s in self.sets.values() if s.dossier_id == dossier.id)]
        begun += [ids for (of, ids, _) in self.deposits.values() if of == dossier.id]
        for document_id in (d for ids in begun for d in ids):  # what a deposit cut short uploaded
            self.contents.pop(document_id, None)
        self.deposits = {k: d for k, d in self.deposits.items() if d[0] != dossier.id}
        self.accesses = {k: a for k, a in self.accesses.items() if a.dossier_id != dossier.id}
        self.lines = {k: line for k, line in self.lines.items() if line.dossier_id != dossier.id}
        self.spaces.pop(dossier.id, None)
        self.sets = {k: found for k, found in self.sets.items() if found.dossier_id != dossier.id}
        self.space_history = {k: v for k, v in self.space_history.items() if k[0] != dossier.id}
        self.dossiers.pop(dossier.id, None)

    def purge_record(self, dossier_id: str) -> PurgeRecord | None:
        return self.purges.get(dossier_id)

    def dossiers_of(self, patient_ids: list[str]) -> list[DossierState]:
        return [
            _state(dossier)
            for patient_id in dict.fromkeys(patient_ids)
            for dossier in self.dossiers.values()
            if dossier.patient_id == patient_id
        ]

    # The personal space

    def personal_space(self, dossier_id: str) -> PersonalSpaceVersion | None:
        return self.spaces.get(dossier_id)

    def save_personal_space(
        self, dossier_id: str, read: int, written: PersonalSpaceVersion, event: Event
    ) -> bool:
        if (dossier_id, read + 1) in self.space_history:
            return False  # someone else saved this version first
        # The history is written first, as in the Mongo store, even when the current version moved on.
        self.space_history[(dossier_id, read + 1)] = written
        current = self.spaces.get(dossier_id)
        if (current is None) != (read == 0) or (current is not None and current.version != read):
            return False
        self.spaces[dossier_id] = written
        self._published(event)
        return True

    def personal_space_history(self, dossier_id: str) -> list[PersonalSpaceVersion]:
        versions = [v for (owner, _), v in self.space_history.items() if owner == dossier_id]
        return sorted(versions, key=lambda version: version.version, reverse=True)

    # The reimbursement feed

    def dossiers_by_ins(self, ins_list: list[str]) -> dict[str, DossierState]:
        wanted = set(ins_list)
        return {d.ins: _state(d) for d in self.dossiers.values() if d.ins in wanted}

    def add_reimbursements(
        self, feed_lines: list[FeedLine], received_at: datetime
    ) -> list[FeedLine]:
        inserted = []
        for line in feed_lines:
            if line.line_id not in self.lines:  # a line id is taken once, across all dossiers
                self.lines[line.line_id] = line
                inserted.append(line)
        return inserted

    def record_feed(self, batch_id: str, events: list[Event]) -> None:
        if events and batch_id not in self.feed_batches:
            self.feed_batches.add(batch_id)
            self._published(*events)

    def reimbursements_page(
        self, dossier_id: str, cursor: str | None, limit: int
    ) -> tuple[int, list[FeedLine], str | None]:
        mine = {k: line for k, line in self.lines.items() if line.dossier_id == dossier_id}
        stored = (line_as_stored(line) for line in mine.values())
        total, page, next_cursor = page_of(
            stored, {"dossier_id": dossier_id}, cursor, limit, "care_ms"
        )
        return total, [mine[line["_id"]] for line in page], next_cursor

    def reimbursements_since(self, dossier_id: str, since: date) -> list[FeedLine]:
        return [
            line
            for line in self.lines.values()
            if line.dossier_id == dossier_id and line.care_date >= since
        ]

    # The pharmacy fee ledger

    def charge_opening_fee(self, fee: OpeningFee) -> bool:
        if fee.patient_id in self.fees:
            return False  # this patient's dossier was already paid for
        self.fees[fee.patient_id] = fee
        return True

    def opening_fees(self, month: str) -> list[OpeningFee]:
        return sorted(
            (fee for fee in self.fees.values() if fee.month == month),
            key=lambda fee: (fee.organisation, fee.opened_at),
        )

    # Documents

    def put_content(self, document_id: str, sealed: bytes) -> None:
        if document_id in self.contents:  # GridFS refuses a second file of the same id
            raise ServiceUnavailable("the content store is unavailable; nothing was stored")
        self.contents[document_id] = sealed

    def content(self, document_id: str) -> bytes | None:
        return self.contents.get(document_id)

    def delete_content(self, document_id: str) -> None:
        self.contents.pop(document_id, None)

    def add_document(self, document: Document, event: Event) -> None:
        if document.id in self.documents:
            raise DuplicateKeyError(f"a document {document.id} is already stored")
        self.documents[document.id] = document
        if (
            document.pending is not None
        ):  # held until its deposit is released, as the Mongo store does
            self.held.setdefault(document.pending, []).append(event)
        else:
            self._published(event)

    def _of(self, dossier_id: str) -> list[Document]:
        return [d for d in self.documents.values() if d.dossier_id == dossier_id]

    def same_document(self, dossier_id: str, sha256: str, metadata: Metadata) -> bool:
        fields = same_fields(metadata)
        return any(
            d.sha256 == sha256
            and d.status is DocumentStatus.CURRENT
            and d.pending is None
            and same_fields(d.metadata) == fields
            for d in self._of(dossier_id)
        )

    def unique_id_used(self, dossier_id: str, unique_id: str) -> bool:
        return any(d.metadata.unique_id == unique_id for d in self._of(dossier_id))

    def search_documents(
        self, dossier_id: str, grant: Grant, actor_id: str, search: DocumentSearch
    ) -> tuple[int, list[Document], str | None]:
        selection = search_selection(dossier_id, grant, actor_id, search)
        stored = (as_stored(d) for d in self._of(dossier_id))
        total, page, next_cursor = page_of(stored, selection, search.cursor, search.limit)
        return total, [self.documents[record["_id"]] for record in page], next_cursor

    def visible_documents(self, dossier_id: str, grant: Grant, actor_id: str) -> list[Document]:
        selection = queries.document_query(dossier_id, grant, actor_id)
        return [d for d in self._of(dossier_id) if matches(as_stored(d), selection)]

    def add_submission_set(self, submission_set: SubmissionSet) -> bool:
        if submission_set.id in self.sets:
            return False
        self.sets[submission_set.id] = replace(
            submission_set, pending=True, claimed_at=submission_set.submitted_at
        )
        return True

    def take_over_deposit(self, submission_set: SubmissionSet, now: datetime) -> bool:
        current = self.sets.get(submission_set.id)
        if current is None or current.claimed_at != submission_set.claimed_at:
            return False
        self.sets[submission_set.id] = replace(current, claimed_at=stored_moment(now))
        return True

    def interrupt_deposit(self, dossier_id: str, set_id: str) -> None:
        current = self.sets.get(set_id)
        if current is not None and current.dossier_id == dossier_id:
            self.sets[set_id] = replace(current, claimed_at=None)

    def submission_set_of_unique_id(self, dossier_id: str, unique_id: str) -> SubmissionSet | None:
        return next(
            (
                found
                for found in self.sets.values()
                if found.dossier_id == dossier_id and found.unique_id == unique_id
            ),
            None,
        )

    def deposited(self, dossier_id: str, document_ids: list[str]) -> dict[str, Document]:
        return {
            document_id: self.documents[document_id]
            for document_id in document_ids
            if document_id in self.documents
            and self.documents[document_id].dossier_id == dossier_id
        }

    def release_deposit(self, dossier_id: str, deposit_id: str) -> None:
        for document in self._of(dossier_id):
            if document.pending == deposit_id:
                self.documents[document.id] = replace(document, pending=None)
        self._published(*self.held.pop(deposit_id, []))
        if deposit_id in self.sets:
            self.sets[deposit_id] = replace(self.sets[deposit_id], pending=False)
        else:
            self.deposits.pop(deposit_id, None)

    def begin_deposit(
        self, dossier_id: str, deposit_id: str, document_ids: Sequence[str], at: datetime
    ) -> None:
        self.deposits[deposit_id] = (dossier_id, tuple(document_ids), at)

    def abandoned_deposits(self, started_before: datetime) -> list[tuple[str, str]]:
        documents = {
            (d.dossier_id, d.pending)
            for d in self.documents.values()
            if d.pending is not None
            and stored_moment(d.created_at) <= stored_moment(started_before)
        }
        sets = {
            (found.dossier_id, found.id)
            for found in self.sets.values()
            if found.pending and stored_moment(found.submitted_at) <= stored_moment(started_before)
        }
        deposits = {
            (dossier_id, deposit_id)
            for deposit_id, (dossier_id, _, began) in self.deposits.items()
            if stored_moment(began) <= stored_moment(started_before)
        }
        return sorted(documents | sets | deposits)

    def discard_deposit(self, dossier_id: str, deposit_id: str) -> int:
        gone = [d.id for d in self._of(dossier_id) if d.pending == deposit_id]
        for document_id in gone:
            self.contents.pop(document_id, None)
            del self.documents[document_id]
        self.held.pop(deposit_id, None)
        found = self.sets.get(deposit_id)
        if found is not None and found.dossier_id == dossier_id:
            if self.deposited(dossier_id, list(found.document_ids)):
                self.sets[deposit_id] = replace(found, pending=False)
            else:
                for document_id in found.document_ids:
                    self.contents.pop(document_id, None)
                del self.sets[deposit_id]
        begun = self.deposits.get(deposit_id)
        if begun is not None and begun[0] == dossier_id:
            if not self.deposited(dossier_id, list(begun[1])):
                for document_id in begun[1]:
                    self.contents.pop(document_id, None)
            del self.deposits[deposit_id]
        return len(gone)

    def submission_sets(self, dossier_id: str) -> list[SubmissionSet]:
        return [found for found in self.sets.values() if found.dossier_id == dossier_id]

    def submission_set(self, set_id: str) -> SubmissionSet | None:
        return self.sets.get(set_id)

    def documents_seen(
        self, dossier_id: str, grant: Grant, actor_id: str, document_ids: list[str]
    ) -> dict[str, Document]:
        selection = queries.document_query(
            dossier_id, grant, actor_id, document_ids=document_ids, statuses=SEEN_IN_SETS
        )
        wanted = set(document_ids)
        return {
            d.id: d
            for d in self._of(dossier_id)
            if d.id in wanted and matches(as_stored(d), selection)
        }

    def document(self, dossier_id: str, document_id: str) -> Document | None:
        document = self.documents.get(document_id)
        if document is None or document.dossier_id != dossier_id or document.pending:
            return None
        return document

    def due_for_release(self, now: datetime) -> list[Document]:
        due = [d for d in self.documents.values() if _invisible_and_due(d, d.release_at, now)]
        return due[:DUE_BATCH]

    def due_for_reminder(self, now: datetime) -> list[Document]:
        due = [d for d in self.documents.values() if _invisible_and_due(d, d.remind_at, now)]
        return due[:DUE_BATCH]

    def reminded(self, document: Document, event: Event) -> bool:
        current = self.documents.get(document.id)
        if current is None or current.status is not document.status:
            return False
        self.documents[document.id] = replace(current, remind_at=None)
        self._published(event)
        return True

    def revise_document(
        self,
        before: Document,
        after: Document,
        event: Event,
        at: datetime,
        expected: int | None = None,
    ) -> Document | None:
        current = self.documents.get(before.id)
        if (
            (expected is not None and expected != (before.revision or 1))
            or current is None
            or current.status is not before.status
            or current.revision != before.revision
        ):
            return None  # changed meanwhile
        revision, updated_at = (before.revision or 1) + 1, stored_moment(at)
        changed = replace(current, revision=revision, updated_at=updated_at)
        if after.status is not before.status:
            changed = replace(changed, status=after.status)
        if after.visibility != before.visibility:
            changed = changed.with_visibility(after.visibility)
        if after.replaced_by != before.replaced_by:
            changed = replace(changed, replaced_by=after.replaced_by)
        if after.release_at != before.release_at:
            changed = replace(changed, release_at=after.release_at)
        self.documents[before.id] = changed
        self._published(event)
        return replace(after, revision=revision, updated_at=updated_at)

    # Idempotency keys of deposits

    def claim_idempotency(
        self,
        actor_id: str,
        key: str,
        fingerprint: str,
        now: datetime,
        stale: timedelta = timedelta(minutes=1),
    ) -> IdempotencyClaim | None:
        reference = idempotency_reference(actor_id, key)
        earlier = self.claims.get(reference)
        if earlier is None or (
            earlier.document_id is None and claim_is_stale(earlier.claimed_at, now, stale)
        ):
            self.claims[reference] = IdempotencyClaim(fingerprint, stored_moment(now), None)
            return None
        return earlier

    def document_by_idempotency(self, dossier_id: str, actor_id: str, key: str) -> Document | None:
        reference = idempotency_reference(actor_id, key)
        return next((d for d in self._of(dossier_id) if d.idempotency == reference), None)

    def complete_idempotency(self, actor_id: str, key: str, document_id: str) -> None:
        reference = idempotency_reference(actor_id, key)
        if reference in self.claims:
            self.claims[reference] = replace(self.claims[reference], document_id=document_id)

    def release_idempotency(self, actor_id: str, key: str) -> None:
        reference = idempotency_reference(actor_id, key)
        claim = self.claims.get(reference)
        if claim is not None and claim.document_id is None:
            del self.claims[reference]

    # Accesses

    def record_access(self, event: Event, also: Iterable[Event] = ()) -> None:
        if event.event_id in self.accesses:
            raise DuplicateKeyError(f"an access {event.event_id} is already recorded")
        self.accesses[event.event_id] = _Access(event.dossier_id)
        self._published(event, *also)

    def accessed_before(self, dossier_id: str, actor_id: str) -> bool:
        return f"{dossier_id}|{actor_id}" in self.first_accesses

    def mark_accessed(self, dossier_id: str, actor_id: str) -> None:
        self.first_accesses.add(f"{dossier_id}|{actor_id}")


_check: type[DossierRecords] = MemoryDossierStore
