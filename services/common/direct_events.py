"""Publishing an event now, without a store: the trace of a refusal that writes nothing else (a token the
gateway refused, a call a service refused on the bus). With broker confirms and `mandatory`, so that it is
known to have reached the audit trail's queue; if the broker is down, the refusal is answered all the same
and the failure to trace it is logged (with ids only)."""

from __future__ import annotations

import logging
import threading

from nameko.standalone.events import get_event_exchange

from services.common.events import Event
from services.common.principals import SignedPublisher

log = logging.getLogger(__name__)

_lock = threading.Lock()
_publishers: dict[
    str, SignedPublisher
] = {}  # by source: the in-process tests run every service in one


def _publisher(source: str, amqp_uri: str) -> SignedPublisher:
    if source not in _publishers:
        _publishers[source] = SignedPublisher(amqp_uri, source, use_confirms=True, mandatory=True)
    return _publishers[source]


def publish_now(event: Event, amqp_uri: str) -> None:
    """`amqp_uri`: the process's (Settings.amqp_uri)."""
    exchange = get_event_exchange(event.source)
    try:
        with _lock:  # one publisher (and its pooled connection) for every thread of the process
            _publisher(event.source, amqp_uri).publish(
                event.model_dump(mode="json"),
                exchange=exchange,
                declare=[exchange],
                routing_key=event.type.value,
            )
    except Exception:
        log.exception("could not trace %s %s (%s)", event.type.value, event.event_id, event.rule)
