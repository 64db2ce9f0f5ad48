"""Durable subscriptions: which service must receive which events, declared in one place.

A queue that exists only once its consumer has run loses every event published before: an event
routed to no queue is dropped, and one routed to notify alone would never reach the audit trail.
So each subscription is a named durable queue declared with its bindings by the set-up, before any
service starts (services/common/bus.py `declare_topology`): no subscriber misses an event, and no
producer needs the right to create its consumers' queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kombu.entity import Exchange, Queue, binding
from nameko.standalone.events import get_event_exchange

from services.common.entrypoints import consume
from services.common.errors import DmpError

F = TypeVar("F", bound=Callable[..., Any])
ALL = "#"


@dataclass(frozen=True)
class Subscription:
    consumer: str
    source: str
    event_types: tuple[str, ...]

    @property
    def queue(self) -> Queue:
        exchange = source_exchange(self.source)
        return Queue(  # type: ignore[no-untyped-call]
            f"{self.consumer}.from-{self.source}",
            bindings=[
                binding(exchange, routing_key=event_type)  # type: ignore[no-untyped-call]
                for event_type in self.event_types
            ],
            durable=True,
            auto_delete=False,
        )


def source_exchange(source: str) -> Exchange:
    """A source's event exchange as a consumer sees it: declared by the set-up (services/common/bus.py), only
    checked here, since a consumer may not create or delete a source's exchange."""
    exchange: Exchange = get_event_exchange(source)
    exchange.passive = True
    return exchange


SUBSCRIPTIONS = (
    Subscription("audit", "identity", (ALL,)),
    Subscription("audit", "consent", (ALL,)),
    Subscription("audit", "dossier", (ALL,)),
    Subscription("audit", "gateway", (ALL,)),  # refused tokens (services/gateway/refusals.py)
    Subscription(
        "audit", "notify", (ALL,)
    ),  # calls refused on the bus (services/common/deadletters.py)
    Subscription("audit", "audit", (ALL,)),
    Subscription(
        "notify",
        "dossier",
        ("document_added", "first_access", "document_released", "invisibility_reminder_due"),
    ),
    Subscription(
        "notify",
        "consent",
        (
            "emergency_access_started",
            "consent_recorded",
            "care_team_joined",
            "medecin_traitant_proposed",
            "medecin_traitant_declared",
            "medecin_traitant_ended",
        ),
    ),
    Subscription("identity", "dossier", ("dossier_opened",)),
    Subscription("consent", "identity", ("account_status_changed",)),
)


def subscription(consumer: str, source: str) -> Subscription:
    return next(s for s in SUBSCRIPTIONS if s.consumer == consumer and s.source == source)


def subscribe(consumer: str, source: str) -> Callable[[F], F]:
    """Consume a subscription: acknowledged after the handler returns, requeued if it raises; a malformed
    message goes to the consumer's dead-letter queue with the reason (common/deadletters.py)."""
    decorator: Callable[[F], F] = consume(
        subscription(consumer, source).queue, requeue_on_error=True, expected_exceptions=(DmpError,)
    )
    return decorator
