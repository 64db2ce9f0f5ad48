"""notify's collections: deliveries (one per event, recipient and channel: the record of every
message, its attempts and fate), patient preferences, and the day's digest items.

A delivery is claimed before it is sent (a lease), so copies of the same event handled at the same
time send once; if its holder dies, the retry job takes it over once the lease has run out. Times that
are compared are epoch milliseconds (nx-27017 turns a datetime written by $set into a string).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.store import Store, equal

DUE = {"status": {"$in": ["pending", "sending"]}}


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class NotifyStore(Store):
    service = "notify"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.deliveries.create_index([("status", 1), ("next_ms", 1)])
        database.deliveries.create_index([("status", 1), ("claimed_ms", 1)])
        database.digest_items.create_index([("day", 1), ("patient_id", 1)])

    # Deliveries

    def add_delivery(self, delivery: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        """Record a delivery to make, claimed by its writer for its first attempt (one command: no claim to
        take afterwards); None when this event was already handled for this recipient."""
        claimed = {**delivery, "status": "sending", "attempts": 1, "claimed_ms": ms(now)}
        try:
            self.db.deliveries.insert_one(claimed)
        except DuplicateKeyError:
            return None
        return claimed

    def claim(self, delivery_id: str, now: datetime, lease_ms: int) -> dict[str, Any] | None:
        """Take a pending delivery (or one whose holder's lease ran out); None if someone else holds it."""
        current = self.db.deliveries.find_one({"_id": delivery_id})
        if current is None or current["status"] not in {"pending", "sending"}:
            return None
        if current["status"] == "sending" and current["claimed_ms"] > ms(now) - lease_ms:
            return None
        taken = self.db.deliveries.update_one(
            {"_id": delivery_id, "status": current["status"], "claimed_ms": current["claimed_ms"]},
            {"$set": {"status": "sending", "claimed_ms": ms(now)}, "$inc": {"attempts": 1}},
        )
        if taken.modified_count != 1:
            return None
        return {**current, "attempts": current["attempts"] + 1, "status": "sending", "claimed_ms": ms(now)}

    def still_held(self, delivery_id: str, claimed_ms: int) -> bool:
        """True while the claim taken at `claimed_ms` is still the delivery's (no one took it over)."""
        return self.db.deliveries.find_one(
            {"_id": delivery_id, "status": "sending", "claimed_ms": claimed_ms}, {"_id": 1}) is not None

    def finish(self, delivery_id: str, status: str, now: datetime, detail: str, patience_seconds: float = 0) -> None:
        """Record a delivery's fate, trying for up to `patience_seconds` if the store is unreachable: a sent
        message whose outcome is not recorded is sent again once its lease runs out."""
        # Nested, so that the datetime stays a datetime.
        self.persistently(lambda: self.db.deliveries.update_one(
            {"_id": delivery_id}, {"$set": {"status": status, "outcome": {"at": now, "detail": detail}}}),
            patience_seconds)

    def retry_later(self, delivery_id: str, next_ms: int, detail: str) -> None:
        self.db.deliveries.update_one({"_id": delivery_id},
                                      {"$set": {"status": "pending", "next_ms": next_ms, "last_error": detail}})

    def due(self, now: datetime, lease_ms: int, limit: int = 200) -> list[str]:
        """Deliveries to attempt now: pending ones whose time came, and abandoned claims."""
        now_ms = ms(now)
        ready = self.db.deliveries.find({"status": equal("pending"), "next_ms": {"$lte": now_ms}}, {"_id": 1})
        abandoned = self.db.deliveries.find({"status": equal("sending"), "claimed_ms": {"$lt": now_ms - lease_ms}},
                                            {"_id": 1})
        return [d["_id"] for d in ready.limit(limit)] + [d["_id"] for d in abandoned.limit(limit)]

    def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        return list(self.db.deliveries.find({"status": "dead_letter"}, {"event": 0}).limit(limit))

    def replay(self, delivery_id: str, now_ms: int) -> bool:
        result = self.db.deliveries.update_one({"_id": delivery_id, "status": "dead_letter"},
                                               {"$set": {"status": "pending", "next_ms": now_ms, "attempts": 0}})
        return result.modified_count == 1

    # Preferences and digests

    def preferences(self, patient_id: str) -> dict[str, Any]:
        return self.db.preferences.find_one({"_id": patient_id}) or {}

    def set_preferences(self, patient_id: str, preferences: dict[str, Any]) -> None:
        try:
            self.db.preferences.insert_one({"_id": patient_id, **preferences})
        except DuplicateKeyError:
            self.db.preferences.update_one({"_id": patient_id}, {"$set": preferences})

    def add_digest_item(self, item: dict[str, Any]) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a redelivered event: already in the digest
            self.db.digest_items.insert_one(item)

    def digest_days_before(self, day: str) -> list[dict[str, Any]]:
        return list(self.db.digest_items.find({"day": {"$lt": day}}).sort([("patient_id", 1), ("at_ms", 1)]))

    def drop_digest_items(self, ids: list[str]) -> None:
        self.db.digest_items.delete_many({"_id": {"$in": ids}})
