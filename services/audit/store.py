"""audit's collections: traces (append-only, one hash chain per patient), chain heads, signed
checkpoints, and tombstones of chains purged with their dossier.

Times that are compared are kept as epoch milliseconds (`*_ms`) beside the dates people see: nx-27017
turns a top-level datetime written by $set into a string. The store turns documents into records
(services/audit/records.py) and back, here and nowhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.audit import chain, checkpoints, documents
from services.audit.chain import Break
from services.audit.records import (
    Checkpoint,
    DossierState,
    Head,
    HistoryPage,
    HistorySelection,
    Trace,
)
from services.common.errors import ServiceUnavailable
from services.common.events import ActorRef, Event, EventType, Outcome
from services.common.grants import Grant
from services.common.paging import decode_cursor, encode_cursor
from services.common.store import Reachable, Store, equal


class AuditRecords(Reachable, Protocol):
    """What audit and its use cases ask of their store: AuditStore, or MemoryAuditStore in fast tests."""

    def received_event(self, payload: Any) -> Event | None: ...

    def append(self, trace: Trace, now: datetime) -> bool: ...

    def remember_document(self, event: Event) -> str | None: ...

    def hidden_documents(self, grant: Grant, reader_id: str) -> list[str]: ...

    def remember_dossier(self, event: Event) -> None: ...

    def dossier_open(self, patient_id: str) -> bool: ...

    def authored_in(self, patient_id: str, actor_id: str) -> bool: ...

    def chain_names(self) -> list[str]: ...

    def heads(self) -> dict[str, Head]: ...

    def first_break(self, name: str) -> tuple[Break | None, int, str]: ...

    def hash_at(self, name: str, seq: int) -> str | None: ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def purged_chains(self) -> dict[str, datetime]: ...

    def purge_chain(self, name: str, at: datetime, event_id: str, decided: datetime) -> None: ...

    def history(
        self, selection: HistorySelection, cursor: str | None, limit: int
    ) -> HistoryPage: ...


class AuditStore(Store):
    service = "audit"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.traces.create_index([("chain", 1), ("seq", 1)], unique=True)
        database.traces.create_index([("patient_id", 1), ("occurred_ms", 1)])
        database.traces.create_index([("document_author", 1), ("occurred_ms", 1)])
        database.documents.create_index([("patient_id", 1)])

    def append(self, trace: Trace, now: datetime) -> bool:
        """Add a trace at the end of its chain; False when this event was already traced. Concurrent
        writers race for the next sequence number: the unique (chain, seq) index lets one win. Three
        commands when nothing races (the head, the trace, the head again): a repeated event, a lost race
        and a head left behind by a writer that died are all told apart only once an insert is refused."""
        event = trace_document(trace)
        name = chain.chain_of(event)
        for _ in range(50):
            head = self.db.chain_heads.find_one({"_id": name})
            if head is None:
                if self._purged_after(name, event["occurred_ms"]):
                    return (
                        False  # a late event of a dossier already purged: nothing of it may linger
                    )
                head = {"seq": 0, "hash": chain.GENESIS}
            linked = linked_document(event, name, head["seq"] + 1, head["hash"], now)
            try:
                self.db.traces.insert_one(linked)
            except DuplicateKeyError:
                if self.db.traces.find_one({"_id": event["_id"]}, {"_id": 1}) is not None:
                    return False  # this event is traced already (a redelivery, or another worker meanwhile)
                ahead = self.db.traces.find_one({"chain": equal(name), "seq": head["seq"] + 1})
                if (
                    ahead is not None
                ):  # that place is taken: the head lags behind it, catch up and try again
                    self._move_head(name, head, ahead)
                continue
            self._move_head(name, head, linked)
            return True
        raise ServiceUnavailable("the audit chain is too busy; the event will be retried")

    def _move_head(self, name: str, head: dict[str, Any], trace: dict[str, Any]) -> None:
        if head["seq"] == 0:
            try:
                self.db.chain_heads.insert_one(
                    {"_id": name, "seq": trace["seq"], "hash": trace["hash"]}
                )
                return
            except DuplicateKeyError:
                pass
        self.db.chain_heads.update_one(
            {"_id": name, "seq": {"$lt": trace["seq"]}},
            {"$set": {"seq": trace["seq"], "hash": trace["hash"]}},
        )

    def remember_document(self, event: Event) -> str | None:
        """Keep what this event says of its document (patient, author, visibility codes, newest event
        wins), before its trace is stored: the history must know at once whom to hide it from. Returns
        the document's author (for the author's history). A deposit's document is new: written at once,
        looked up only if it was not (one command, not two)."""
        if event.document_id is None:
            raise ValueError("a document's event names its document")
        author = documents.author_of(event)
        found = (
            None
            if event.type is EventType.DOCUMENT_ADDED
            else self.db.documents.find_one({"_id": event.document_id})
        )
        if found is None:
            created = documents.new_document(event)
            if created is None:
                return None
            try:
                self.db.documents.insert_one(_document_record(event.document_id, created))
                return author
            except DuplicateKeyError:
                found = self.db.documents.find_one({"_id": event.document_id})
                if found is None:  # taken a moment ago: the store answers from a replica behind
                    raise ServiceUnavailable(
                        "the document's record is not readable yet; try again"
                    ) from None
        known = _known_document(found)
        after = documents.document_after(event, known)
        changes: dict[str, Any] = {}
        if after.author != known.author:
            changes["author"] = {"id": after.author}
        if (
            ms(after.visibility_at) != ms(known.visibility_at)
            or after.visibility != known.visibility
        ):
            changes.update(visibility=list(after.visibility), visibility_ms=ms(after.visibility_at))
        if changes:
            self.db.documents.update_one(
                {"_id": event.document_id, "visibility_ms": ms(known.visibility_at)},
                {"$set": changes},
            )
        return author or known.author

    def hidden_documents(self, grant: Grant, reader_id: str) -> list[str]:
        """The ids of the grant's patient's documents hidden from this reader (documents.hidden): one
        indexed fetch of the patient's documents, the filter applied here (common/matching.py says why)."""
        if not grant.hidden_visibility or not grant.patient_id:
            return []
        records = self.db.documents.find({"patient_id": equal(grant.patient_id)})
        return [
            record["_id"]
            for record in records
            if documents.hidden(_known_document(record), grant, reader_id)
        ]

    def remember_dossier(self, event: Event) -> None:
        """The dossier's state (open, closed, deletion requested), from its lifecycle events."""
        state = documents.dossier_state_after(event)
        if state is None or event.patient_id is None:
            return
        at_ms = ms(event.occurred_at)
        with contextlib.suppress(DuplicateKeyError):
            self.db.dossiers.insert_one(
                {"_id": event.patient_id, "state": state.value, "state_ms": at_ms}
            )
            return
        self.db.dossiers.update_one(
            {"_id": event.patient_id, "state_ms": {"$lte": at_ms}},
            {"$set": {"state": state.value, "state_ms": at_ms}},
        )

    def dossier_open(self, patient_id: str) -> bool:
        """False once the dossier is closed or its deletion requested (until it is reopened)."""
        known = self.db.dossiers.find_one({"_id": patient_id})
        return known is None or known["state"] == DossierState.OPEN.value

    def authored_in(self, patient_id: str, actor_id: str) -> bool:
        """Whether the trail holds any trace of a document this actor wrote in this patient's dossier."""
        query = {"patient_id": equal(patient_id), "document_author": equal(actor_id)}
        return self.db.traces.find_one(query, {"_id": 1}) is not None

    def chain_names(self) -> list[str]:
        return [head["_id"] for head in self.db.chain_heads.find({}, {"_id": 1})]

    def heads(self) -> dict[str, Head]:
        return {
            head["_id"]: Head(head["seq"], head["hash"]) for head in self.db.chain_heads.find({})
        }

    def chain_traces(self, name: str) -> Iterable[dict[str, Any]]:
        """A chain's traces in sequence order, as stored: what chain.py hashes (its canonical form is
        defined over the stored trace, so that existing chains, and anyone with the trail, check it)."""
        return self.db.traces.find({"chain": equal(name)}).sort([("seq", 1)])

    def first_break(self, name: str) -> tuple[Break | None, int, str]:
        """chain.first_break of this chain: (the first broken or missing link or None, last seq, last hash)."""
        return chain.first_break(name, self.chain_traces(name))

    def hash_at(self, name: str, seq: int) -> str | None:
        """The stored hash of this chain's trace `seq`, None when there is no such trace."""
        trace = self.db.traces.find_one({"chain": equal(name), "seq": seq}, {"hash": 1})
        return None if trace is None else str(trace["hash"])

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        at_ms = checkpoints.signed_ms(
            checkpoint.at
        )  # the checkpoint's key, and what its signature covers
        self.db.checkpoints.insert_one(
            {
                "_id": at_ms,
                "heads": {name: [head.seq, head.hash] for name, head in checkpoint.heads.items()},
                "at_ms": at_ms,
                "kid": checkpoint.kid,
                "signature": checkpoint.signature,
            }
        )

    def checkpoints(self) -> list[Checkpoint]:
        return [
            Checkpoint(
                at=checkpoints.signed_at(record["at_ms"]),
                heads={name: Head(seq, digest) for name, (seq, digest) in record["heads"].items()},
                kid=record["kid"],
                signature=record["signature"],
            )
            for record in self.db.checkpoints.find({}).sort([("at_ms", 1)])
        ]

    def purged_chains(self) -> dict[str, datetime]:
        """Every chain purged, with when its purge was decided."""
        return {
            t["_id"]: _moment(int(t.get("purge_ms", 0)))
            for t in self.db.purged_chains.find({}, {"purge_ms": 1})
        }

    def _purged_after(self, name: str, occurred_ms: int) -> bool:
        """Whether this chain was purged by a purge decided after `occurred_ms`."""
        tombstone = self.db.purged_chains.find_one({"_id": name}, {"purge_ms": 1})
        return tombstone is not None and occurred_ms <= int(tombstone.get("purge_ms", 0))

    def purge_chain(self, name: str, at: datetime, event_id: str, decided: datetime) -> None:
        """Traces follow their dossier's retention: a tombstone says why the chain is gone, and when the
        purge was decided (events of the dossier that arrive later are dropped)."""
        tombstone = {"purged_at": at, "event_id": event_id, "purge_ms": ms(decided)}
        try:
            self.db.purged_chains.insert_one({"_id": name, **tombstone})
        except DuplicateKeyError:  # purged before (an earlier dossier of the same patient)
            self.db.purged_chains.update_one({"_id": name}, {"$set": tombstone})
        self.db.traces.delete_many({"chain": equal(name)})
        self.db.chain_heads.delete_one({"_id": name})
        self.db.documents.delete_many({"patient_id": equal(name)})
        self.db.dossiers.delete_one({"_id": name})

    def history(self, selection: HistorySelection, cursor: str | None, limit: int) -> HistoryPage:
        """The traces `selection` picks, newest first (history_page). One fetch of the dossier's traces by an
        indexed equality, the rest of the filter applied by history_page: the store answers $nin, $or, sorts on
        two keys and counts by loading a whole collection (common/matching.py)."""
        if selection.patient_id is None:
            return history_page((), selection, cursor, limit)
        indexed: dict[str, Any] = {"patient_id": equal(selection.patient_id)}
        if selection.document_author is not None:
            indexed["document_author"] = equal(selection.document_author)
        stamped = (
            (record["occurred_ms"], trace_from_document(record))
            for record in self.db.traces.find(indexed)
        )
        return history_page(stamped, selection, cursor, limit)


# The history's selection and paging over traces, pure, what both stores answer (this one fetches a
# dossier's traces by an indexed equality and hands them here; the in-memory one hands its own): newest first
# on the trace's time in epoch milliseconds, as stored, then its event id; a cursor is the last trace's
# position (services/common/paging.py's format, so that cursors issued before still page on).

Stamped = tuple[int, Trace]  # a trace with its time in epoch ms, as the store keeps and compares it


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def selects(selection: HistorySelection, occurred_ms: int, trace: Trace) -> bool:
    """Whether the history shows this trace (the day's end excluded from `before`, as before)."""
    if selection.patient_id is None or trace.patient_id != selection.patient_id:
        return False
    if selection.document_author is not None and (
        trace.document_id is None or trace.document_author != selection.document_author
    ):
        return False
    if selection.since is not None and occurred_ms < ms(selection.since):
        return False
    if selection.before is not None and occurred_ms >= ms(selection.before):
        return False
    if selection.actor_id and (trace.actor is None or trace.actor.id != selection.actor_id):
        return False
    if selection.type and trace.type.value != selection.type:
        return False
    # every trace of a document this reader may not see, whatever its type
    return trace.document_id is None or trace.document_id not in selection.hidden_documents


def history_page(
    traces: Iterable[Stamped], selection: HistorySelection, cursor: str | None, limit: int
) -> HistoryPage:
    """The traces `selection` picks, newest first: their count, the first `limit` after `cursor`. The filter
    holds before paging, so that pages stay full."""
    position = decode_cursor(cursor) if cursor else None  # a foreign cursor is refused in any case
    if selection.patient_id is None:
        return HistoryPage(0, (), None)
    selected = sorted(
        ((at_ms, trace) for at_ms, trace in traces if selects(selection, at_ms, trace)),
        key=lambda stamped: (stamped[0], stamped[1].event_id),
        reverse=True,
    )
    following = [
        stamped
        for stamped in selected
        if position is None or (stamped[0], stamped[1].event_id) < position
    ][: limit + 1]
    shown = following[:limit]
    last = {"occurred_ms": shown[-1][0], "_id": shown[-1][1].event_id} if shown else {}
    return HistoryPage(
        total=len(selected),
        traces=tuple(trace for _, trace in shown),
        next_cursor=encode_cursor(last, "occurred_ms") if len(following) > limit else None,
    )


# Traces, documents and their stored forms, in one place.


def _document_record(document_id: str, known: documents.KnownDocument) -> dict[str, Any]:
    return {
        "_id": document_id,
        "patient_id": known.patient_id,
        "author": {"id": known.author},
        "visibility": list(known.visibility),
        "visibility_ms": ms(known.visibility_at),
    }


def _known_document(record: dict[str, Any]) -> documents.KnownDocument:
    return documents.KnownDocument(
        patient_id=record.get("patient_id"),
        author=(record.get("author") or {}).get("id"),
        visibility=tuple(record.get("visibility") or ()),
        visibility_at=_moment(int(record["visibility_ms"])),
    )


def trace_document(trace: Trace) -> dict[str, Any]:
    """A trace as stored, before its place in its chain: the event's fields as the bus carries them, its date
    as a date (history sorts and filters by time) and as epoch ms (compared)."""
    document: dict[str, Any] = {
        "_id": trace.event_id,
        "type": trace.type.value,
        "source": trace.source,
        "occurred_at": trace.occurred_at,
        "actor": None if trace.actor is None else trace.actor.model_dump(mode="json"),
        "patient_id": trace.patient_id,
        "dossier_id": trace.dossier_id,
        "document_id": trace.document_id,
        "outcome": trace.outcome.value,
        "rule": trace.rule,
        "emergency": trace.emergency,
        "data": dict(trace.data),
        "occurred_ms": ms(trace.occurred_at),
    }
    if trace.document_id:
        document["document_author"] = trace.document_author
    return document


def linked_document(
    document: dict[str, Any], name: str, seq: int, previous: str, now: datetime
) -> dict[str, Any]:
    """A stored trace (trace_document) at its place in its chain, with the hash that links it."""
    linked = {**document, "chain": name, "seq": seq, "prev_hash": previous, "recorded_at": now}
    linked["hash"] = chain.link(linked)
    return linked


def trace_from_document(document: dict[str, Any]) -> Trace:
    actor = document.get("actor")
    return Trace(
        event_id=document["_id"],
        type=EventType(document["type"]),
        source=document["source"],
        occurred_at=document["occurred_at"],
        outcome=Outcome(document["outcome"]),
        # as written: a trace from before a field of the actor existed keeps it unset (labels.public shows it so)
        actor=None if actor is None else ActorRef.model_validate(actor),
        patient_id=document.get("patient_id"),
        dossier_id=document.get("dossier_id"),
        document_id=document.get("document_id"),
        rule=document.get("rule"),
        emergency=bool(document.get("emergency")),  # the store may answer 0/1
        data=dict(document.get("data") or {}),
        document_author=document.get("document_author"),
    )
