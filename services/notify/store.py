"""notify's collection: one delivery record per event and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.common.store import Store


class NotifyStore(Store):
    service = "notify"

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        return self.db.deliveries.find_one({"_id": delivery_id})

    def begin(self, delivery_id: str, event_id: str, patient_id: str, at: datetime) -> None:
        """Record the attempt before sending, so a crash leaves a trace of it."""
        try:
            self.db.deliveries.insert_one({
                "_id": delivery_id, "event_id": event_id, "patient_id": patient_id,
                "status": "sending", "updated_at": at, "attempts": 1,
            })
        except DuplicateKeyError:  # an earlier attempt died before finishing
            self.db.deliveries.update_one(
                {"_id": delivery_id}, {"$set": {"status": "sending", "updated_at": at}, "$inc": {"attempts": 1}}
            )

    def finish(self, delivery_id: str, status: str, at: datetime, detail: str) -> None:
        self.db.deliveries.update_one(
            {"_id": delivery_id}, {"$set": {"status": status, "updated_at": at, "detail": detail}}
        )
