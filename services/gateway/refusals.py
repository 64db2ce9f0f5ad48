"""Refused tokens leave a trace. A token that fails verification speaks for nobody we know, so the
refusal cannot go to a patient's trail: it is published as an `authentication_refused` event (source
"gateway") that audit appends to its system chain, with the reason, the route template, the request
id and the client's address. Never the token itself, nor the path (it carries an INS).

Published with broker confirms (to audit's durable queue, declared by the set-up); if the broker is down
the refusal is still answered (401) and the failure to trace it is logged.
"""

from __future__ import annotations

import logging
import threading

from nameko.amqp.publish import Publisher
from nameko.standalone.events import get_event_exchange

from services.common.clock import utcnow
from services.common.events import Event, EventType, Outcome
from services.common.settings import Settings

log = logging.getLogger("dmp.gateway")
SOURCE = "gateway"

_lock = threading.Lock()
_publisher: Publisher | None = None


def _get_publisher() -> Publisher:
    global _publisher
    if _publisher is None:
        _publisher = Publisher(Settings.from_env().amqp_uri, use_confirms=True, mandatory=True)
    return _publisher


def authentication_refused(reason: str, route: str, request_id: str, client: str) -> Event:
    return Event.of(EventType.AUTHENTICATION_REFUSED, SOURCE, utcnow(), None, outcome=Outcome.DENIED, rule="R-TOKEN",
                    data={"reason": reason[:200], "route": route[:200], "request_id": request_id[:64],
                          "client": client[:64]})


def trace_refusal(event: Event) -> None:
    exchange = get_event_exchange(SOURCE)
    try:
        with _lock:  # one publisher (and its pooled connection) for the gateway's worker threads
            _get_publisher().publish(event.model_dump(mode="json"), exchange=exchange,
                                     declare=[exchange], routing_key=event.type.value)
    except Exception:  # the 401 is answered all the same; the operator sees this line
        log.exception("could not trace refused token (request %s)", event.data.get("request_id"))
