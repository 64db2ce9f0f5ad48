"""audit's store in memory, for the fast tests: the same answers as AuditStore (services/audit/store.py)
over records. The contract tests (tests/audit/test_store.py) run both.

A chain's traces are hashed over their stored form (services/audit/chain.py says why): each trace keeps
that form's hash, and the chain is checked over the form rebuilt by the store's own functions, so that a
trace changed here after it was linked (as a test tampers with it) breaks the chain as it would there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.audit import chain, checkpoints, documents
from services.audit.chain import Break
from services.audit.documents import KnownDocument
from services.audit.records import (
    Checkpoint,
    DossierState,
    Head,
    HistoryPage,
    HistorySelection,
    Trace,
)
from services.audit.store import AuditRecords, history_page, linked_document, ms, trace_document
from services.common.events import Event
from services.common.grants import Grant
from services.common.memory import MemoryStore


@dataclass(frozen=True)
class Linked:
    """A trace at its place in its chain."""

    trace: Trace
    chain: str
    seq: int
    prev_hash: str
    hash: str
    recorded_at: datetime
    occurred_ms: int  # as the store keeps it: what the history sorts and compares on

    def stored(self) -> dict[str, Any]:
        """The form the chain is hashed over, as the real store holds it."""
        return {
            **trace_document(self.trace),
            "chain": self.chain,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "recorded_at": self.recorded_at,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Tombstone:
    purged_at: datetime
    event_id: str
    purge_ms: int


class MemoryAuditStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.traces: dict[str, Linked] = {}  # by event id, in the order they were stored
        self.chain_heads: dict[str, Head] = {}
        self.documents: dict[str, KnownDocument] = {}
        self.dossiers: dict[str, tuple[DossierState, int]] = {}  # the state, and its event's ms
        self.signed: dict[int, Checkpoint] = {}  # by their moment in ms, the checkpoint's key
        self.tombstones: dict[str, Tombstone] = {}
        self._lock = threading.Lock()  # writers race on a chain's next place, as on the real store

    def append(self, trace: Trace, now: datetime) -> bool:
        document = trace_document(trace)
        name = chain.chain_of(document)
        with self._lock:
            if trace.event_id in self.traces:
                return False  # traced already (a redelivery)
            head = self.chain_heads.get(name)
            if head is None:
                if self._purged_after(name, document["occurred_ms"]):
                    return False  # a late event of a dossier already purged: nothing may linger
                head = Head(0, chain.GENESIS)
            linked = linked_document(document, name, head.seq + 1, head.hash, now)
            self.traces[trace.event_id] = Linked(
                trace, name, linked["seq"], head.hash, linked["hash"], now, linked["occurred_ms"]
            )
            self.chain_heads[name] = Head(linked["seq"], linked["hash"])
            return True

    def _purged_after(self, name: str, occurred_ms: int) -> bool:
        tombstone = self.tombstones.get(name)
        return tombstone is not None and occurred_ms <= tombstone.purge_ms

    def remember_document(self, event: Event) -> str | None:
        if event.document_id is None:
            raise ValueError("a document's event names its document")
        known = self.documents.get(event.document_id)
        if known is None:
            created = documents.new_document(event)
            if created is None:
                return None
            self.documents[event.document_id] = created
            return created.author
        self.documents[event.document_id] = documents.document_after(event, known)
        return documents.author_of(event) or known.author

    def hidden_documents(self, grant: Grant, reader_id: str) -> list[str]:
        if not grant.patient_id:
            return []
        return [
            document_id
            for document_id, document in self.documents.items()
            if document.patient_id == grant.patient_id
            and documents.hidden(document, grant, reader_id)
        ]

    def remember_dossier(self, event: Event) -> None:
        state = documents.dossier_state_after(event)
        if state is None or event.patient_id is None:
            return
        at_ms = ms(event.occurred_at)
        known = self.dossiers.get(event.patient_id)
        if known is None or known[1] <= at_ms:  # a late, older event changes nothing
            self.dossiers[event.patient_id] = (state, at_ms)

    def dossier_open(self, patient_id: str) -> bool:
        known = self.dossiers.get(patient_id)
        return known is None or known[0] is DossierState.OPEN

    def authored_in(self, patient_id: str, actor_id: str) -> bool:
        return any(
            linked.trace.patient_id == patient_id and linked.trace.document_author == actor_id
            for linked in self.traces.values()
        )

    def chain_names(self) -> list[str]:
        return list(self.chain_heads)

    def heads(self) -> dict[str, Head]:
        return dict(self.chain_heads)

    def chain(self, name: str) -> list[Linked]:
        """A chain's traces in sequence order."""
        return sorted(
            (linked for linked in self.traces.values() if linked.chain == name),
            key=lambda linked: linked.seq,
        )

    def first_break(self, name: str) -> tuple[Break | None, int, str]:
        return chain.first_break(name, [linked.stored() for linked in self.chain(name)])

    def hash_at(self, name: str, seq: int) -> str | None:
        return next((linked.hash for linked in self.chain(name) if linked.seq == seq), None)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        at_ms = checkpoints.signed_ms(checkpoint.at)
        if at_ms in self.signed:  # the real store's unique key: one checkpoint per millisecond
            raise DuplicateKeyError(f"a checkpoint at {at_ms} exists")
        self.signed[at_ms] = Checkpoint(
            at=checkpoints.signed_at(at_ms),
            heads=dict(checkpoint.heads),
            kid=checkpoint.kid,
            signature=checkpoint.signature,
        )

    def checkpoints(self) -> list[Checkpoint]:
        return [self.signed[at_ms] for at_ms in sorted(self.signed)]

    def purged_chains(self) -> dict[str, datetime]:
        return {
            name: datetime.fromtimestamp(tombstone.purge_ms / 1000, UTC)
            for name, tombstone in self.tombstones.items()
        }

    def purge_chain(self, name: str, at: datetime, event_id: str, decided: datetime) -> None:
        self.tombstones[name] = Tombstone(at, event_id, ms(decided))
        self.traces = {key: linked for key, linked in self.traces.items() if linked.chain != name}
        self.chain_heads.pop(name, None)
        self.documents = {
            key: document for key, document in self.documents.items() if document.patient_id != name
        }
        self.dossiers.pop(name, None)

    def history(self, selection: HistorySelection, cursor: str | None, limit: int) -> HistoryPage:
        stamped = ((linked.occurred_ms, linked.trace) for linked in self.traces.values())
        return history_page(stamped, selection, cursor, limit)


_check: type[AuditRecords] = MemoryAuditStore
