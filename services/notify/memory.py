"""notify's store in memory, for the fast tests: the same answers as NotifyStore (services/notify/store.py)
over the records themselves. The contract tests (tests/notify/test_store.py) run both.

Times are kept to the millisecond, as the real store keeps them: a claim is found again by its moment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from services.common.memory import MemoryStore
from services.notify import rules
from services.notify.records import (
    Claim,
    DeadLetter,
    Delivery,
    Digest,
    DigestItem,
    Preferences,
    Status,
)
from services.notify.store import NotifyRecords, moment, ms


def _stored(at: datetime) -> datetime:
    return moment(ms(at))


@dataclass(frozen=True)
class Tracked:
    """A delivery as the store holds it: where it is, how many attempts it took, and its fate."""

    delivery: Delivery
    status: Status
    attempts: int
    next_at: datetime
    claimed_at: datetime
    outcome: str = ""
    last_error: str = ""


class MemoryNotifyStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.deliveries: dict[
            str, Tracked
        ] = {}  # in insertion order, like the real store's answers
        self.chosen: dict[str, Preferences] = {}
        self.digest_items: dict[str, DigestItem] = {}

    def add_delivery(self, delivery: Delivery, now: datetime) -> Claim | None:
        if delivery.delivery_id in self.deliveries:
            return None
        at = _stored(now)
        self.deliveries[delivery.delivery_id] = Tracked(delivery, Status.SENDING, 1, at, at)
        return Claim(delivery, attempts=1, claimed_at=at)

    def claim(self, delivery_id: str, now: datetime, lease: timedelta) -> Claim | None:
        current = self.deliveries.get(delivery_id)
        if current is None or not rules.claimable(current.status, current.claimed_at, now, lease):
            return None
        taken = replace(
            current,
            status=Status.SENDING,
            attempts=current.attempts + 1,
            claimed_at=_stored(now),
        )
        self.deliveries[delivery_id] = taken
        return Claim(taken.delivery, taken.attempts, taken.claimed_at)

    def still_held(self, claim: Claim) -> bool:
        current = self.deliveries.get(claim.delivery.delivery_id)
        return (
            current is not None
            and current.status is Status.SENDING
            and current.claimed_at == _stored(claim.claimed_at)
        )

    def sent(
        self, delivery_id: str, at: datetime, detail: str, patience: timedelta = timedelta(0)
    ) -> None:
        self._change(delivery_id, status=Status.SENT, outcome=detail)

    def dead_letter(
        self, claim: Claim, at: datetime, detail: str, patience: timedelta = timedelta(0)
    ) -> None:
        if self.still_held(claim):
            self._change(claim.delivery.delivery_id, status=Status.DEAD_LETTER, outcome=detail)

    def retry_later(self, claim: Claim, at: datetime, detail: str) -> None:
        if self.still_held(claim):
            self._change(
                claim.delivery.delivery_id,
                status=Status.PENDING,
                next_at=_stored(at),
                last_error=detail,
            )

    def _change(self, delivery_id: str, **changes: Any) -> None:
        current = self.deliveries.get(delivery_id)
        if current is not None:  # the real store's update of nothing
            self.deliveries[delivery_id] = replace(current, **changes)

    def due(self, now: datetime, lease: timedelta, limit: int = 200) -> list[str]:
        tracked = self.deliveries.values()
        ready = [
            t.delivery.delivery_id
            for t in tracked
            if t.status is Status.PENDING and t.next_at <= _stored(now)
        ]
        abandoned = [
            t.delivery.delivery_id
            for t in tracked
            if t.status is Status.SENDING and rules.abandoned(t.claimed_at, _stored(now), lease)
        ]
        return ready[:limit] + abandoned[:limit]

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        return [
            DeadLetter(
                t.delivery.delivery_id, t.delivery.channel, t.delivery.whom, t.attempts, t.outcome
            )
            for t in self.deliveries.values()
            if t.status is Status.DEAD_LETTER
        ][:limit]

    def replay(self, delivery_id: str, now: datetime) -> bool:
        current = self.deliveries.get(delivery_id)
        if current is None or current.status is not Status.DEAD_LETTER:
            return False
        self._change(delivery_id, status=Status.PENDING, next_at=_stored(now), attempts=0)
        return True

    def preferences(self, patient_id: str) -> Preferences:
        return self.chosen.get(patient_id, Preferences())

    def set_preferences(self, patient_id: str, preferences: Preferences) -> None:
        self.chosen[patient_id] = preferences

    def add_digest_item(self, item: DigestItem) -> None:
        # A redelivered event is in the digest already; the real store keeps the time to the millisecond.
        self.digest_items.setdefault(item.item_id, replace(item, at=_stored(item.at)))

    def digest_days_before(self, day: date) -> list[DigestItem]:
        return sorted(
            (item for item in self.digest_items.values() if item.day < day),
            key=lambda item: (item.patient_id, item.at),
        )

    def drop_digest(self, digest: Digest) -> None:
        for item in digest.items:
            self.digest_items.pop(item.item_id, None)


_check: type[NotifyRecords] = MemoryNotifyStore
