"""consent's collections: the patient's authorisations of professionals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.store import Store


def consent_id(ins: str, professional_id: str) -> str:
    # Deterministic, so that recording the same consent twice is one record.
    return f"{professional_id}|{ins}"


class ConsentStore(Store):
    service = "consent"
    outbox_collections = ("consents",)

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.consents.create_index([("ins", 1)])

    def record(self, consent: dict[str, Any], event: Event) -> bool:
        """False when this consent was already recorded."""
        return self.insert_new("consents", consent, [event])

    def apply_status(self, actor_id: str, status: str, changed_ms: int) -> None:
        """Keep the newest status of an account (events may arrive late or twice)."""
        try:
            self.db.account_status.insert_one({"_id": actor_id, "status": status, "changed_ms": changed_ms})
        except DuplicateKeyError:
            self.db.account_status.update_one(
                {"_id": actor_id, "changed_ms": {"$lt": changed_ms}},
                {"$set": {"status": status, "changed_ms": changed_ms}},
            )

    def suspended(self, actor_id: str) -> bool:
        record = self.db.account_status.find_one({"_id": actor_id})
        return record is not None and record["status"] == "suspended"

    def find(self, ins: str, professional_id: str) -> dict[str, Any] | None:
        return self.db.consents.find_one({"_id": consent_id(ins, professional_id)}, {"_outbox": 0})

    def has_consent(self, ins: str, professional_id: str, now: datetime) -> bool:
        consent = self.find(ins, professional_id)
        if consent is None or consent.get("withdrawn_at") is not None:
            return False
        expires_at = consent.get("expires_at")
        return expires_at is None or expires_at > now
