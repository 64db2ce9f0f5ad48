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
from services.common.signatures import BusKeys

log = logging.getLogger(__name__)

_lock = threading.Lock()


def publish_now(event: Event, amqp_uri: str, keys: BusKeys) -> None:
    """`amqp_uri` and `keys`: the process's (Settings.amqp_uri, Settings.bus_keys)."""
    exchange = get_event_exchange(event.source)
    # A publisher per event, signing with the keys it is handed: a publisher holds only its options, the
    # connection is kombu's, pooled by where it connects.
    publisher = SignedPublisher(
        amqp_uri, event.source, keys=lambda: keys, use_confirms=True, mandatory=True
    )
    try:
        # One trace at a time on that pooled connection, from every thread of the process.
        with _lock:
            publisher.publish(
                event.model_dump(mode="json"),
                exchange=exchange,
                declare=[exchange],
                routing_key=event.type.value,
            )
    except Exception:
        log.exception("could not trace %s %s (%s)", event.type.value, event.event_id, event.rule)
