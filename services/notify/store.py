"""notify's collections: deliveries (one per event, recipient and channel: the record of every
message, its attempts and fate), patient preferences, and the day's digest items.

A delivery is claimed before it is sent (a lease), so copies of the same event handled at the same
time send once; if its holder dies, the retry job takes it over once the lease has run out. Times that
are compared are epoch milliseconds (nx-27017 turns a datetime written by $set into a string): they are
records' datetimes everywhere but here (services/notify/records.py).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.store import Reachable, Store, equal
from services.notify import rules
from services.notify.records import (
    Channel,
    Channels,
    Claim,
    DeadLetter,
    Delivery,
    Digest,
    DigestItem,
    Preferences,
    Routine,
    Status,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def ms(moment: datetime) -> int:
    # In whole milliseconds, exactly (no float on the way): a claim is found again by its `claimed_ms`.
    return (moment - EPOCH) // MILLISECOND


def moment(epoch_ms: int) -> datetime:
    return EPOCH + epoch_ms * MILLISECOND


class NotifyRecords(Reachable, Protocol):
    """What notify and its use cases ask of their store: NotifyStore, or MemoryNotifyStore in fast tests."""

    def received_event(self, payload: Any) -> Event | None: ...

    def add_delivery(self, delivery: Delivery, now: datetime) -> Claim | None: ...

    def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Claim | None: ...

    def still_held(self, claim: Claim) -> bool: ...

    def sent(
        self, delivery_id: str, at: datetime, detail: str, patience: timedelta = ...
    ) -> None: ...

    def dead_letter(
        self, claim: Claim, at: datetime, detail: str, patience: timedelta = ...
    ) -> None: ...

    def retry_later(self, claim: Claim, at: datetime, detail: str) -> None: ...

    def due(self, now: datetime, lease: timedelta, limit: int = ...) -> list[str]: ...

    def dead_letters(self, limit: int) -> list[DeadLetter]: ...

    def replay(self, delivery_id: str, now: datetime) -> bool: ...

    def preferences(self, patient_id: str) -> Preferences: ...

    def set_preferences(self, patient_id: str, preferences: Preferences) -> None: ...

    def add_digest_item(self, item: DigestItem) -> None: ...

    def digest_days_before(self, day: date) -> list[DigestItem]: ...

    def drop_digest(self, digest: Digest) -> None: ...


class NotifyStore(Store):
    service = "notify"

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.deliveries.create_index([("status", 1), ("next_ms", 1)])
        database.deliveries.create_index([("status", 1), ("claimed_ms", 1)])
        database.digest_items.create_index([("day", 1), ("patient_id", 1)])

    # Deliveries

    def add_delivery(self, delivery: Delivery, now: datetime) -> Claim | None:
        """Record a delivery to make, claimed by its writer for its first attempt (one command: no claim to
        take afterwards); None when this event was already handled for this recipient."""
        claim = Claim(delivery, attempts=1, claimed_at=moment(ms(now)))
        try:
            self.db.deliveries.insert_one(
                {
                    **_delivery_document(delivery),
                    "next_ms": ms(now),
                    "status": Status.SENDING.value,
                    "attempts": 1,
                    "claimed_ms": ms(claim.claimed_at),
                }
            )
        except DuplicateKeyError:
            return None
        return claim

    def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Claim | None:
        """Take a pending delivery (or one whose holder's lease ran out); None if someone else holds it."""
        current = self.db.deliveries.find_one({"_id": delivery_id})
        if current is None or not rules.claimable(
            Status(current["status"]), moment(current["claimed_ms"]), now, lease
        ):
            return None
        taken = self.db.deliveries.update_one(
            {"_id": delivery_id, "status": current["status"], "claimed_ms": current["claimed_ms"]},
            {
                "$set": {"status": Status.SENDING.value, "claimed_ms": ms(now)},
                "$inc": {"attempts": 1},
            },
        )
        if taken.modified_count != 1:
            return None
        return Claim(
            _delivery(current), attempts=current["attempts"] + 1, claimed_at=moment(ms(now))
        )

    def still_held(self, claim: Claim) -> bool:
        """True while this claim is still the delivery's (no one took it over)."""
        return self.db.deliveries.find_one(_held(claim), {"_id": 1}) is not None

    def sent(
        self, delivery_id: str, at: datetime, detail: str, patience: timedelta = timedelta(0)
    ) -> None:
        """Record that a delivery went out, whoever holds it: a message sent is sent. Tried for up to
        `patience` if the store is unreachable (a sent message not recorded would go out again once its
        lease ran out)."""
        self._settle({"_id": delivery_id}, Status.SENT, at, detail, patience)

    def dead_letter(
        self, claim: Claim, at: datetime, detail: str, patience: timedelta = timedelta(0)
    ) -> None:
        """Give a delivery up, if this claim still holds it: an attempt that was taken over, or whose
        delivery was meanwhile recorded as sent, decides nothing."""
        self._settle(_held(claim), Status.DEAD_LETTER, at, detail, patience)

    def _settle(
        self, which: dict[str, Any], status: Status, at: datetime, detail: str, patience: timedelta
    ) -> None:
        # Nested, so that the datetime stays a datetime.
        self.persistently(
            lambda: self.db.deliveries.update_one(
                which, {"$set": {"status": status.value, "outcome": {"at": at, "detail": detail}}}
            ),
            patience.total_seconds(),
        )

    def retry_later(self, claim: Claim, at: datetime, detail: str) -> None:
        """Give the delivery back for another attempt at `at`, if this claim still holds it."""
        self.db.deliveries.update_one(
            _held(claim),
            {"$set": {"status": Status.PENDING.value, "next_ms": ms(at), "last_error": detail}},
        )

    def due(self, now: datetime, lease: timedelta, limit: int = 200) -> list[str]:
        """Deliveries to attempt now: pending ones whose time came, and abandoned claims."""
        ready = self.db.deliveries.find(
            {"status": equal(Status.PENDING.value), "next_ms": {"$lte": ms(now)}}, {"_id": 1}
        )
        abandoned = self.db.deliveries.find(
            {"status": equal(Status.SENDING.value), "claimed_ms": {"$lt": ms(now - lease)}},
            {"_id": 1},
        )
        return [d["_id"] for d in ready.limit(limit)] + [d["_id"] for d in abandoned.limit(limit)]

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        found = self.db.deliveries.find({"status": Status.DEAD_LETTER.value}, {"event": 0}).limit(
            limit
        )
        return [
            DeadLetter(
                d["_id"],
                Channel(d["channel"]),
                d["whom"],
                d["attempts"],
                (d.get("outcome") or {}).get("detail", ""),
            )
            for d in found
        ]

    def replay(self, delivery_id: str, now: datetime) -> bool:
        result = self.db.deliveries.update_one(
            {"_id": delivery_id, "status": Status.DEAD_LETTER.value},
            {"$set": {"status": Status.PENDING.value, "next_ms": ms(now), "attempts": 0}},
        )
        return result.modified_count == 1

    # Preferences and digests

    def preferences(self, patient_id: str) -> Preferences:
        found = self.db.preferences.find_one({"_id": patient_id}) or {}
        defaults = Preferences()
        return Preferences(
            channels=Channels(found.get("channels", defaults.channels)),
            routine=Routine(found.get("routine", defaults.routine)),
            language=found.get("language"),
        )

    def set_preferences(self, patient_id: str, preferences: Preferences) -> None:
        document = {
            "channels": preferences.channels.value,
            "routine": preferences.routine.value,
            "language": preferences.language,
        }
        try:
            self.db.preferences.insert_one({"_id": patient_id, **document})
        except DuplicateKeyError:
            self.db.preferences.update_one({"_id": patient_id}, {"$set": document})

    def add_digest_item(self, item: DigestItem) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a redelivered event: already in the digest
            self.db.digest_items.insert_one(
                {
                    "_id": item.item_id,
                    "patient_id": item.patient_id,
                    "day": item.day.isoformat(),
                    "at_ms": ms(item.at),
                    "event": item.event.model_dump(mode="json"),
                }
            )

    def digest_days_before(self, day: date) -> list[DigestItem]:
        found = self.db.digest_items.find({"day": {"$lt": day.isoformat()}}).sort(
            [("patient_id", 1), ("at_ms", 1)]
        )
        return [
            DigestItem(
                d["_id"],
                d["patient_id"],
                date.fromisoformat(d["day"]),
                moment(d["at_ms"]),
                Event.model_validate(d["event"]),
            )
            for d in found
        ]

    def drop_digest(self, digest: Digest) -> None:
        """The digest went out (or is recorded as a delivery to make): its items go."""
        self.db.digest_items.delete_many({"_id": {"$in": [item.item_id for item in digest.items]}})


# Deliveries and their documents, in one place.


def _delivery_document(delivery: Delivery) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": delivery.delivery_id,
        "event_id": delivery.event_id,
        "whom": delivery.whom,
        "patient_id": delivery.patient_id,
        "professional_id": delivery.professional_id,
        "channel": delivery.channel.value,
        "events": [event.model_dump(mode="json") for event in delivery.events],
    }
    if delivery.digest:
        document["digest"] = True
    return document


def _delivery(document: dict[str, Any]) -> Delivery:
    return Delivery(
        delivery_id=document["_id"],
        event_id=document["event_id"],
        whom=document["whom"],
        patient_id=document.get("patient_id"),
        professional_id=document.get("professional_id") or "",
        channel=Channel(document["channel"]),
        events=tuple(Event.model_validate(e) for e in document["events"]),
        digest=bool(document.get("digest")),
    )  # the store may answer 0/1


def _held(claim: Claim) -> dict[str, Any]:
    """The delivery, while this claim holds it: still sending, under this claim's time."""
    return {
        "_id": claim.delivery.delivery_id,
        "status": Status.SENDING.value,
        "claimed_ms": ms(claim.claimed_at),
    }
