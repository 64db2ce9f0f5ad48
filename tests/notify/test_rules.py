"""notify's rules, without a broker or a store: channels, the digest, the backoff, the lease."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.events import ActorRef, Event, EventType
from services.notify import rules
from services.notify.messages import PATIENT
from services.notify.records import Channel, Channels, Delivery, DigestItem, Preferences, Routine
from services.notify.store import moment, ms

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
DOCTOR = ActorRef(kind="professional", id="rpps:10000000008", profession="10")


def event(
    type_: EventType = EventType.DOCUMENT_ADDED, at: datetime = NOON, event_id: str = "evt_1"
) -> Event:
    return Event(
        event_id=event_id,
        type=type_,
        source="dossier",
        occurred_at=at,
        patient_id="pat_1",
        actor=DOCTOR,
    )


@pytest.mark.parametrize(
    ("chosen", "channels"),
    [
        (Channels.EMAIL, (Channel.EMAIL,)),
        (Channels.SMS, (Channel.SMS,)),
        (Channels.BOTH, (Channel.EMAIL, Channel.SMS)),
    ],
)
def test_the_patient_is_told_on_the_channels_they_chose(
    chosen: Channels, channels: tuple[Channel, ...]
) -> None:
    assert rules.channels(Preferences(channels=chosen)) == channels


def test_professionals_are_told_by_email() -> None:
    assert rules.professional_channels() == (Channel.EMAIL,)


@pytest.mark.parametrize(
    ("type_", "routine", "waits"),
    [
        (EventType.DOCUMENT_ADDED, Routine.DAILY_DIGEST, True),
        (EventType.CONSENT_RECORDED, Routine.DAILY_DIGEST, True),
        (EventType.DOCUMENT_ADDED, Routine.IMMEDIATE, False),
        (EventType.FIRST_ACCESS, Routine.DAILY_DIGEST, False),  # always at once
        (EventType.EMERGENCY_ACCESS_STARTED, Routine.DAILY_DIGEST, False),
    ],
)
def test_only_routine_events_wait_for_a_digest_the_patient_chose(
    type_: EventType, routine: Routine, waits: bool
) -> None:
    assert rules.waits_for_digest(event(type_), Preferences(routine=routine)) is waits


@pytest.mark.parametrize(("attempts", "wait"), [(1, 30), (2, 60), (3, 120), (8, 3840)])
def test_the_backoff_doubles_after_each_failed_attempt(attempts: int, wait: int) -> None:
    assert rules.next_attempt(NOON, attempts, timedelta(seconds=30)) == NOON + timedelta(
        seconds=wait
    )


@pytest.mark.parametrize(("attempts", "gives_up"), [(1, False), (2, False), (3, True), (4, True)])
def test_no_attempt_after_the_last_one(attempts: int, gives_up: bool) -> None:
    assert rules.gives_up(attempts, max_attempts=3) is gives_up


@pytest.mark.parametrize(("held", "leased"), [(0, True), (59.999, True), (60, False), (61, False)])
def test_a_claim_is_its_holders_until_the_lease_runs_out(held: float, leased: bool) -> None:
    assert rules.still_leased(NOON, NOON + timedelta(seconds=held), LEASE) is leased


@pytest.mark.parametrize(("held", "ask"), [(0, False), (30, False), (30.001, True), (90, True)])
def test_the_store_is_asked_whether_the_claim_holds_only_past_half_the_lease(
    held: float, ask: bool
) -> None:
    assert rules.may_be_taken_over(NOON, NOON + timedelta(seconds=held), LEASE) is ask


@pytest.mark.parametrize(("held", "patience"), [(0, 59), (10, 49), (59, 0), (59.5, 0), (120, 0)])
def test_an_outcome_waits_for_the_store_while_the_claim_holds_less_a_second(
    held: float, patience: float
) -> None:
    assert rules.patience(NOON, NOON + timedelta(seconds=held), LEASE) == timedelta(
        seconds=patience
    )


def test_a_digest_gathers_one_patients_items_of_one_day_in_order() -> None:
    first, second = event(event_id="evt_1"), event(at=NOON + timedelta(hours=1), event_id="evt_2")
    next_day = event(at=NOON + timedelta(days=1), event_id="evt_3")
    other = DigestItem("evt_4:digest", "pat_2", NOON.date(), NOON, event(event_id="evt_4"))
    items = [
        DigestItem.of(first, "pat_1"),
        DigestItem.of(second, "pat_1"),
        DigestItem.of(next_day, "pat_1"),
        other,
    ]
    found = rules.digests(items)
    assert [(d.patient_id, d.day, [i.item_id for i in d.items]) for d in found] == [
        ("pat_1", date(2026, 3, 1), ["evt_1:digest", "evt_2:digest"]),
        ("pat_1", date(2026, 3, 2), ["evt_3:digest"]),
        ("pat_2", date(2026, 3, 1), ["evt_4:digest"]),
    ]


def test_delivery_ids_are_those_already_stored() -> None:
    # A redelivered event must find the delivery written by the previous version: same ids.
    assert Delivery.of_event(event(), PATIENT, "", Channel.SMS).delivery_id == "evt_1:patient:sms"
    digest = rules.digests([DigestItem.of(event(), "pat_1")])[0]
    assert digest.delivery(Channel.EMAIL).delivery_id == "digest:pat_1:2026-03-01:email"
    assert digest.delivery(Channel.EMAIL).event_id == "digest:2026-03-01"


@pytest.mark.parametrize("epoch_ms", [0, 1_700_000_000_123, 1_788_000_000_999])
def test_stored_milliseconds_read_back_unchanged(epoch_ms: int) -> None:
    # A claim is found again by its claimed_ms: no float may move it by one.
    assert ms(moment(epoch_ms)) == epoch_ms
