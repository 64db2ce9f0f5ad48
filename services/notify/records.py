"""What notify keeps, as values: deliveries and the claims taken on them, the patient's preferences, the
day's digest items, the messages that went out before the store heard of it. The store turns them into
documents and back (services/notify/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.common.events import Event
from services.notify.messages import PATIENT


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Status(StrEnum):
    """Where a delivery is: waiting for its (next) attempt, claimed by an attempt, or done."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD_LETTER = "dead_letter"  # given up on; an operator may replay it


DUE = (Status.PENDING, Status.SENDING)  # what an attempt may claim


class Channels(StrEnum):
    """The patient's choice of channels."""

    EMAIL = "email"
    SMS = "sms"
    BOTH = "both"


class Routine(StrEnum):
    """When routine events (new documents, ...) are told."""

    IMMEDIATE = "immediate"
    DAILY_DIGEST = "daily_digest"


@dataclass(frozen=True)
class Preferences:
    channels: Channels = Channels.EMAIL
    routine: Routine = Routine.IMMEDIATE
    language: str | None = None  # None: the language of the patient's account


@dataclass(frozen=True)
class Delivery:
    """One message to make: an event, or a day's digest, to one recipient on one channel. Its id is
    deterministic, so that a redelivered event is one delivery."""

    delivery_id: str
    event_id: str
    whom: str  # PATIENT or a professional's role (messages.py)
    patient_id: str | None
    professional_id: str  # the professional told, "" when the patient is
    channel: Channel
    events: tuple[Event, ...]
    digest: bool = False

    @classmethod
    def of_event(cls, event: Event, whom: str, professional_id: str, channel: Channel) -> Delivery:
        return cls(
            f"{event.event_id}:{whom}:{channel.value}",
            event.event_id,
            whom,
            event.patient_id,
            professional_id,
            channel,
            (event,),
        )


@dataclass(frozen=True)
class Claim:
    """A delivery taken by one attempt: only its holder sends, until its lease runs out."""

    delivery: Delivery
    attempts: int  # this one included
    claimed_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    delivery_id: str
    channel: Channel
    whom: str
    attempts: int
    reason: str


@dataclass(frozen=True)
class DigestItem:
    """A routine event waiting for the patient's daily digest of the day it happened."""

    item_id: str
    patient_id: str
    day: date
    at: datetime
    event: Event

    @classmethod
    def of(cls, event: Event, patient_id: str) -> DigestItem:
        return cls(
            f"{event.event_id}:digest",
            patient_id,
            event.occurred_at.date(),
            event.occurred_at,
            event,
        )


@dataclass(frozen=True)
class Digest:
    """A patient's routine events of one day, told in one message."""

    patient_id: str
    day: date
    items: tuple[DigestItem, ...]

    def delivery(self, channel: Channel) -> Delivery:
        return Delivery(
            f"digest:{self.patient_id}:{self.day.isoformat()}:{channel.value}",
            f"digest:{self.day.isoformat()}",
            PATIENT,
            self.patient_id,
            "",
            channel,
            tuple(item.event for item in self.items),
            digest=True,
        )


@dataclass(frozen=True)
class Sent:
    """A message the server accepted, as the local journal keeps it until the store has its outcome."""

    delivery_id: str
    detail: str
    at: datetime
