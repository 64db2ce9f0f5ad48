"""Refused tokens leave a trace. A token that fails verification speaks for nobody we know, so the
refusal cannot go to a patient's trail: it is published as an `authentication_refused` event (source
"gateway") that audit appends to its system chain, with the reason, the route template, the request
id and the client's address. Never the token itself, nor the path (it carries an INS).

Published with broker confirms (to audit's durable queue, declared by the set-up); if the broker is down
the refusal is still answered (401) and the failure to trace it is logged.
"""

from __future__ import annotations

from services.common.clock import utcnow
from services.common.direct_events import publish_now
from services.common.events import Event, EventType, Outcome
from services.common.settings import Settings

SOURCE = "gateway"


def authentication_refused(reason: str, route: str, request_id: str, client: str) -> Event:
    return Event.of(
        EventType.AUTHENTICATION_REFUSED,
        SOURCE,
        utcnow(),
        None,
        outcome=Outcome.DENIED,
        rule="R-TOKEN",
        data={
            "reason": reason[:200],
            "route": route[:200],
            "request_id": request_id[:64],
            "client": client[:64],
        },
    )


def trace_refusal(settings: Settings, event: Event) -> None:
    publish_now(event, settings.amqp_uri, settings.bus_keys())
