"""notify's collection: one delivery record per event and channel.

A delivery is claimed before anything is sent, so that copies of the same event handled at the
same time (redelivery, several replicas) send once. A claim is a lease: if its holder dies, the
event comes back from the broker and, once the lease has run out, another worker takes it over.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.common.store import Store

LEASE_MS = 60_000


class Claim(Enum):
    OURS = "ours"  # send it
    DONE = "done"  # already sent or failed for good: nothing to do
    BUSY = "busy"  # another worker holds a live lease: try again later


class NotifyStore(Store):
    service = "notify"

    def claim(self, delivery_id: str, fields: dict[str, Any], now: datetime) -> Claim:
        # Lease times are epoch milliseconds: nx-27017 turns a datetime written by $set into a string.
        now_ms = int(now.timestamp() * 1000)
        try:
            self.db.deliveries.insert_one(
                {"_id": delivery_id, **fields, "status": "sending", "claimed_ms": now_ms, "attempts": 1}
            )
            return Claim.OURS
        except DuplicateKeyError:
            pass
        current = self.db.deliveries.find_one({"_id": delivery_id})
        if current is None or current["status"] in {"sent", "failed"}:
            return Claim.DONE
        if current["claimed_ms"] > now_ms - LEASE_MS:
            return Claim.BUSY
        taken = self.db.deliveries.update_one(
            {"_id": delivery_id, "claimed_ms": current["claimed_ms"], "status": "sending"},
            {"$set": {"claimed_ms": now_ms}, "$inc": {"attempts": 1}},
        )
        return Claim.OURS if taken.modified_count == 1 else Claim.BUSY

    def finish(self, delivery_id: str, status: str, at: datetime, detail: str) -> None:
        # Nested, so that the datetime stays a datetime (see claim).
        self.db.deliveries.update_one(
            {"_id": delivery_id}, {"$set": {"status": status, "outcome": {"at": at, "detail": detail}}}
        )
