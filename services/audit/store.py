"""audit's collections: traces (append-only, one hash chain per patient), chain heads, signed
checkpoints, and tombstones of chains purged with their dossier."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.audit import chain, documents
from services.common.errors import ServiceUnavailable
from services.common.events import Event, EventType
from services.common.matching import matches
from services.common.store import Store, equal


class AuditStore(Store):
    service = "audit"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.traces.create_index([("chain", 1), ("seq", 1)], unique=True)
        database.traces.create_index([("patient_id", 1), ("occurred_ms", 1)])
        database.traces.create_index([("document_author", 1), ("occurred_ms", 1)])
        database.documents.create_index([("patient_id", 1)])

    def append(self, event: dict[str, Any], now: datetime) -> bool:
        """Add a trace at the end of its chain; False when this event was already traced. Concurrent
        writers race for the next sequence number: the unique (chain, seq) index lets one win. Three
        commands when nothing races (the head, the trace, the head again): a repeated event, a lost race
        and a head left behind by a writer that died are all told apart only once an insert is refused."""
        name = chain.chain_of(event)
        for _ in range(50):
            head = self.db.chain_heads.find_one({"_id": name})
            if head is None:
                if self._purged_after(name, event["occurred_ms"]):
                    return False  # a late event of a dossier already purged: nothing of it may linger
                head = {"seq": 0, "hash": chain.GENESIS}
            trace = {**event, "chain": name, "seq": head["seq"] + 1, "prev_hash": head["hash"], "recorded_at": now}
            trace["hash"] = chain.link(trace)
            try:
                self.db.traces.insert_one(trace)
            except DuplicateKeyError:
                if self.db.traces.find_one({"_id": event["_id"]}, {"_id": 1}) is not None:
                    return False  # this event is traced already (a redelivery, or another worker meanwhile)
                ahead = self.db.traces.find_one({"chain": equal(name), "seq": head["seq"] + 1})
                if ahead is not None:  # that place is taken: the head lags behind it, catch up and try again
                    self._move_head(name, head, ahead)
                continue
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

    def remember_document(self, event: Event) -> str | None:
        """Keep what this event says of its document (patient, author, visibility codes, newest event
        wins), before its trace is stored: the history must know at once whom to hide it from. Returns
        the document's author (for the author's history). A deposit's document is new: written at once,
        looked up only if it was not (one command, not two)."""
        assert event.document_id is not None
        at_ms = int(event.occurred_at.timestamp() * 1000)
        author = event.actor.id if event.type is EventType.DOCUMENT_ADDED and event.actor is not None else None
        known = None if event.type is EventType.DOCUMENT_ADDED else self.db.documents.find_one(
            {"_id": event.document_id})
        if known is None:
            visibility = documents.visibility_after(event, [])
            if visibility is None and event.type is not EventType.DOCUMENT_ADDED:
                return None  # not a document the trail has heard of (a refused guess of an id, say)
            record = {"_id": event.document_id, "patient_id": event.patient_id, "author": {"id": author},
                      "visibility": visibility or [], "visibility_ms": at_ms}
            try:
                self.db.documents.insert_one(record)
                return author
            except DuplicateKeyError:
                known = self.db.documents.find_one({"_id": event.document_id})
                assert known is not None
        changes: dict[str, Any] = {}
        if author is not None and known["author"]["id"] is None:
            changes["author"] = {"id": author}
        visibility = documents.visibility_after(event, list(known.get("visibility") or []))
        if visibility is not None and at_ms >= known["visibility_ms"]:
            changes.update(visibility=visibility, visibility_ms=at_ms)
        if changes:
            self.db.documents.update_one({"_id": event.document_id, "visibility_ms": known["visibility_ms"]},
                                         {"$set": changes})
        return author or known["author"]["id"]

    def hidden_documents(self, patient_id: str, hidden: dict[str, Any] | None) -> list[str]:
        """The ids of this patient's documents that `hidden` (grants.hidden_from) selects: one indexed
        fetch of the patient's documents, the filter applied here (common/matching.py says why)."""
        if hidden is None:
            return []
        records = self.db.documents.find({"patient_id": equal(patient_id)}, {"_id": 1, "visibility": 1, "author": 1})
        return [record["_id"] for record in records if matches(record, hidden)]

    def remember_dossier(self, event: Event) -> None:
        """The dossier's state (open, closed, deletion requested), from its lifecycle events."""
        state = documents.dossier_state_after(event)
        if state is None or event.patient_id is None:
            return
        at_ms = int(event.occurred_at.timestamp() * 1000)
        with contextlib.suppress(DuplicateKeyError):
            self.db.dossiers.insert_one({"_id": event.patient_id, "state": state, "state_ms": at_ms})
            return
        self.db.dossiers.update_one({"_id": event.patient_id, "state_ms": {"$lte": at_ms}},
                                    {"$set": {"state": state, "state_ms": at_ms}})

    def dossier_open(self, patient_id: str) -> bool:
        """False once the dossier is closed or its deletion requested (until it is reopened)."""
        known = self.db.dossiers.find_one({"_id": patient_id})
        return known is None or known["state"] == "open"

    def authored_in(self, patient_id: str, actor_id: str) -> bool:
        """Whether the trail holds any trace of a document this actor wrote in this patient's dossier."""
        query = {"patient_id": equal(patient_id), "document_author": equal(actor_id)}
        return self.db.traces.find_one(query, {"_id": 1}) is not None

    def chain_names(self) -> list[str]:
        return [head["_id"] for head in self.db.chain_heads.find({}, {"_id": 1})]

    def heads(self) -> dict[str, list[Any]]:
        return {head["_id"]: [head["seq"], head["hash"]] for head in self.db.chain_heads.find({})}

    def chain_traces(self, name: str) -> Any:
        return self.db.traces.find({"chain": equal(name)}).sort([("seq", 1)])

    def trace_at(self, name: str, seq: int) -> dict[str, Any] | None:
        return self.db.traces.find_one({"chain": equal(name), "seq": seq})

    def add_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.db.checkpoints.insert_one({"_id": checkpoint["at_ms"], **checkpoint})

    def checkpoints(self) -> list[dict[str, Any]]:
        return list(self.db.checkpoints.find({}).sort([("at_ms", 1)]))

    def purged_chains(self) -> dict[str, datetime]:
        """Every chain purged, with when its purge was decided."""
        return {t["_id"]: datetime.fromtimestamp(int(t.get("purge_ms", 0)) / 1000, UTC)
                for t in self.db.purged_chains.find({}, {"purge_ms": 1})}

    def _purged_after(self, name: str, occurred_ms: int) -> bool:
        """Whether this chain was purged by a purge decided after `occurred_ms`."""
        tombstone = self.db.purged_chains.find_one({"_id": name}, {"purge_ms": 1})
        return tombstone is not None and occurred_ms <= int(tombstone.get("purge_ms", 0))

    def purge_chain(self, name: str, at: datetime, event_id: str, decided: datetime) -> None:
        """Traces follow their dossier's retention: a tombstone says why the chain is gone, and when the
        purge was decided (events of the dossier that arrive later are dropped)."""
        tombstone = {"purged_at": at, "event_id": event_id, "purge_ms": int(decided.timestamp() * 1000)}
        try:
            self.db.purged_chains.insert_one({"_id": name, **tombstone})
        except DuplicateKeyError:  # purged before (an earlier dossier of the same patient)
            self.db.purged_chains.update_one({"_id": name}, {"$set": tombstone})
        self.db.traces.delete_many({"chain": equal(name)})
        self.db.chain_heads.delete_one({"_id": name})
        self.db.documents.delete_many({"patient_id": equal(name)})
        self.db.dossiers.delete_one({"_id": name})

    def history(self, indexed: dict[str, Any], selection: dict[str, Any], paged: dict[str, Any],
                limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(traces matching `selection`, the first `limit` matching `paged`, newest first). One fetch of
        the dossier's traces by an indexed equality (`indexed`), the rest of the filter applied here: the
        store answers $nin, $or, sorts on two keys and counts by loading a whole collection
        (common/matching.py), and the filter must hold before paging, so that pages stay full."""
        assert "patient_id" in indexed, "a history is always one patient's"
        if indexed["patient_id"] is None:
            return 0, []
        exact = {field: equal(value) for field, value in indexed.items()}
        records = [record for record in self.db.traces.find(exact) if matches(record, selection)]
        records.sort(key=lambda record: (record["occurred_ms"], record["_id"]), reverse=True)
        return len(records), [record for record in records if matches(record, paged)][:limit]
