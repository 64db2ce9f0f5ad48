"""audit's collections: traces (append-only, one hash chain per patient), chain heads, signed
checkpoints, and tombstones of chains purged with their dossier."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.audit import chain
from services.common.errors import ServiceUnavailable
from services.common.events import Event, EventType
from services.common.store import Store


class AuditStore(Store):
    service = "audit"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.traces.create_index([("chain", 1), ("seq", 1)], unique=True)
        database.traces.create_index([("patient_id", 1), ("occurred_ms", 1)])
        database.traces.create_index([("document_author", 1), ("occurred_ms", 1)])

    def append(self, event: dict[str, Any], now: datetime) -> bool:
        """Add a trace at the end of its chain; False when this event was already traced. Concurrent
        writers race for the next sequence number: the unique (chain, seq) index lets one win."""
        if self.db.traces.find_one({"_id": event["_id"]}, {"_id": 1}) is not None:
            return False
        name = chain.chain_of(event)
        for _ in range(50):
            head = self.db.chain_heads.find_one({"_id": name}) or {"seq": 0, "hash": chain.GENESIS}
            ahead = self.db.traces.find_one({"chain": name, "seq": head["seq"] + 1})
            if ahead is not None:  # the head lags behind (a writer died between its two writes): catch up
                self._move_head(name, head, ahead)
                continue
            trace = {**event, "chain": name, "seq": head["seq"] + 1, "prev_hash": head["hash"], "recorded_at": now}
            trace["hash"] = chain.link(trace)
            try:
                self.db.traces.insert_one(trace)
            except DuplicateKeyError:
                if self.db.traces.find_one({"_id": event["_id"]}, {"_id": 1}) is not None:
                    return False  # the same event, traced by another worker meanwhile
                continue  # another event took this place in the chain: try the next one
            self._move_head(name, head, trace)
            return True
        raise ServiceUnavailable("the audit chain is too busy; the event will be retried")

    def _move_head(self, name: str, head: dict[str, Any], trace: dict[str, Any]) -> None:
        if head["seq"] == 0:
            try:
                self.db.chain_heads.insert_one({"_id": name, "seq": trace["seq"], "hash": trace["hash"]})
                return
            except DuplicateKeyError:
                pass
        self.db.chain_heads.update_one({"_id": name, "seq": {"$lt": trace["seq"]}},
                                       {"$set": {"seq": trace["seq"], "hash": trace["hash"]}})

    def document_author(self, document_id: str, event: Event) -> str | None:
        """Who wrote a document, remembered from its document_added event (for the author's history)."""
        if event.type is EventType.DOCUMENT_ADDED and event.actor is not None:
            with contextlib.suppress(DuplicateKeyError):
                self.db.document_authors.insert_one({"_id": document_id, "author": event.actor.id})
            return event.actor.id
        known = self.db.document_authors.find_one({"_id": document_id})
        return known["author"] if known else None

    def track_invisibility(self, event: Event) -> None:
        """Remember which documents are still invisible to their patient, so that the patient's history
        does not reveal them before the announcement consultation."""
        if event.document_id is None:
            return
        if event.type is EventType.DOCUMENT_ADDED and event.data.get("invisible_to_patient") == "true":
            with contextlib.suppress(DuplicateKeyError):
                self.db.invisible_documents.insert_one({"_id": event.document_id, "patient_id": event.patient_id})
        elif event.type is EventType.DOCUMENT_RELEASED:
            self.db.invisible_documents.delete_one({"_id": event.document_id})

    def invisible_documents(self, patient_id: str) -> list[str]:
        return [d["_id"] for d in self.db.invisible_documents.find({"patient_id": patient_id}, {"_id": 1})]

    def chain_names(self) -> list[str]:
        return [head["_id"] for head in self.db.chain_heads.find({}, {"_id": 1})]

    def heads(self) -> dict[str, list[Any]]:
        return {head["_id"]: [head["seq"], head["hash"]] for head in self.db.chain_heads.find({})}

    def chain_traces(self, name: str) -> Any:
        return self.db.traces.find({"chain": name}).sort([("seq", 1)])

    def trace_at(self, name: str, seq: int) -> dict[str, Any] | None:
        return self.db.traces.find_one({"chain": name, "seq": seq})

    def add_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.db.checkpoints.insert_one({"_id": checkpoint["at_ms"], **checkpoint})

    def checkpoints(self) -> list[dict[str, Any]]:
        return list(self.db.checkpoints.find({}).sort([("at_ms", 1)]))

    def purged_chains(self) -> set[str]:
        return {t["_id"] for t in self.db.purged_chains.find({}, {"_id": 1})}

    def purge_chain(self, name: str, at: datetime, event_id: str) -> None:
        """Traces follow their dossier's retention: a tombstone says why the chain is gone."""
        with contextlib.suppress(DuplicateKeyError):
            self.db.purged_chains.insert_one({"_id": name, "purged_at": at, "event_id": event_id})
        self.db.traces.delete_many({"chain": name})
        self.db.chain_heads.delete_one({"_id": name})

    def history(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        cursor = self.db.traces.find(query).sort([("occurred_ms", -1), ("_id", -1)])
        return list(cursor.limit(limit))

    def count(self, query: dict[str, Any]) -> int:
        return self.db.traces.count_documents(query)
