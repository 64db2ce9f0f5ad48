"""notify's collection: one delivery record per event and channel.

A delivery is claimed before anything is sent, so that copies of the same event handled at the
same time (redelivery, several replicas) send once. A claim is a lease: if its holder dies, the
event comes back from the broker and, once the lease has run out, another worker takes it over.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.common.store import Store

LEASE = timedelta(seconds=60)


class Claim(Enum):
    OURS = "ours"  # send it
    DONE = "done"  # already sent or failed for good: nothing to do
    BUSY = "busy"  # another worker holds a live lease: try again later


class NotifyStore(Store):
    service = "notify"

    def claim(self, delivery_id: str, fields: dict[str, Any], now: datetime) -> Claim:
        try:
            self.db.deliveries.insert_one(
                {"_id": delivery_id, **fields, "status": "sending", "claimed_at": now, "attempts": 1}
            )
            return Claim.OURS
        except DuplicateKeyError:
            pass
        current = self.db.deliveries.find_one({"_id": delivery_id})
        if current is None or current["status"] in {"sent", "failed"}:
            return Claim.DONE
        if current["claimed_at"] > now - LEASE:
            return Claim.BUSY
        taken = self.db.deliveries.update_one(
            {"_id": delivery_id, "claimed_at": current["claimed_at"], "status": "sending"},
            {"$set": {"claimed_at": now}, "$inc": {"attempts": 1}},
        )
        return Claim.OURS if taken.modified_count == 1 else Claim.BUSY

    def finish(self, delivery_id: str, status: str, at: datetime, detail: str) -> None:
        self.db.deliveries.update_one(
            {"_id": delivery_id}, {"$set": {"status": status, "finished_at": at, "detail": detail}}
        )
