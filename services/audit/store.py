"""audit's collection: one trace per event, keyed by the event id (so a redelivery is a no-op)."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.store import Store


class AuditStore(Store):
    service = "audit"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.traces.create_index([("patient_id", 1), ("occurred_at", 1)])

    def append(self, trace: dict[str, Any]) -> bool:
        """False when this event was already traced."""
        try:
            self.db.traces.insert_one(trace)
        except DuplicateKeyError:
            return False
        return True

    def history(self, patient_id: str, limit: int) -> list[dict[str, Any]]:
        cursor = self.db.traces.find({"patient_id": patient_id}).sort([("occurred_at", -1), ("_id", -1)])
        return list(cursor.limit(limit))
