"""notify's rules, as pure functions: who hears on which channel, when a routine event waits for the
digest, the retry backoff, and the lease arithmetic that keeps a message from going out twice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from services.common.events import Event
from services.notify import messages
from services.notify.records import (
    DUE,
    Channel,
    Channels,
    Digest,
    DigestItem,
    Preferences,
    Routine,
    Status,
)

CHANNELS = {
    Channels.EMAIL: (Channel.EMAIL,),
    Channels.SMS: (Channel.SMS,),
    Channels.BOTH: (Channel.EMAIL, Channel.SMS),
}


def channels(preferences: Preferences) -> tuple[Channel, ...]:
    return CHANNELS[preferences.channels]


def professional_channels() -> tuple[Channel, ...]:
    return (Channel.EMAIL,)  # professionals are told by email only


def waits_for_digest(event: Event, preferences: Preferences) -> bool:
    return messages.is_routine(event) and preferences.routine is Routine.DAILY_DIGEST


def gives_up(attempts: int, max_attempts: int) -> bool:
    """After a transient failure: no further attempt once `attempts` (the failed one included) reached the
    maximum."""
    return attempts >= max_attempts


def next_attempt(now: datetime, attempts: int, base: timedelta) -> datetime:
    """Exponential backoff: base after the first failure, doubled after each next one."""
    doublings: int = 2 ** (attempts - 1)
    return now + base * doublings


def still_leased(claimed_at: datetime, now: datetime, lease: timedelta) -> bool:
    """A claim taken at `claimed_at` is its holder's alone until the lease runs out."""
    return claimed_at > now - lease


def abandoned(claimed_at: datetime, now: datetime, lease: timedelta) -> bool:
    """A claim whose lease ran out: the retry job takes the delivery over (the store asks the same)."""
    return claimed_at < now - lease


def claimable(status: Status, claimed_at: datetime, now: datetime, lease: timedelta) -> bool:
    """Whether an attempt may take this delivery now: pending, or claimed by a holder whose lease ran out."""
    if status not in DUE:
        return False
    return status is not Status.SENDING or not still_leased(claimed_at, now, lease)


def may_be_taken_over(claimed_at: datetime, now: datetime, lease: timedelta) -> bool:
    """Whether another attempt can have taken the delivery over, so that the store must be asked before
    sending. Within half the lease nobody can have (the clocks of notify's nodes agree far better than
    that)."""
    return now - claimed_at > lease / 2


def patience(claimed_at: datetime, now: datetime, lease: timedelta) -> timedelta:
    """How long recording an outcome may wait for an unreachable store: while the claim still holds, less
    a second's margin (past the lease, the retry job would send the message again)."""
    return max(timedelta(0), claimed_at + lease - now - timedelta(seconds=1))


def digests(items: Iterable[DigestItem]) -> list[Digest]:
    """One digest per patient and day, its items in the order given (the store gives them by patient,
    then time)."""
    groups: dict[tuple[str, date], list[DigestItem]] = {}
    for item in items:
        groups.setdefault((item.patient_id, item.day), []).append(item)
    return [Digest(patient_id, day, tuple(found)) for (patient_id, day), found in groups.items()]
