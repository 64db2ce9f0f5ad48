"""The transactional outbox: an action and its events are written in the same document.

Without multi-document transactions (which not every store the services run on has), MongoDB is atomic
for one document only, so the events of an action ride inside the document the action writes: `_outbox`
holds them and `_outbox_pending` marks the document for the relay. A relay per container publishes pending events
to RabbitMQ with publisher confirms and `mandatory` routing, and clears them only after the broker
has confirmed. A crash anywhere leaves the events pending, so they are published again later:
delivery is at-least-once and every consumer is idempotent by `event_id`.

The trace context of the request is stored with each event, so the consumers' spans join the
trace of the request that caused the event even though the relay publishes it later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import eventlet
from eventlet.event import Event as Signal
from nameko.amqp.publish import UndeliverableMessage
from nameko.messaging import encode_to_headers
from nameko.standalone.events import get_event_exchange
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from pymongo.database import Database

from services.common.events import Event
from services.common.principals import SignedPublisher
from services.common.signatures import KeySource

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

PENDING = "_outbox_pending"
OUTBOX = "_outbox"
VERSION = "_version"
BATCH = 200


def entries(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Outbox entries for events, each with the current trace context."""
    result = []
    for event in events:
        carrier: dict[str, str] = {}
        inject(carrier)
        result.append({"event": event.model_dump(mode="json"), "trace": carrier})
    return result


def mark_pending(document: dict[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """The document to insert, carrying its events."""
    pending = entries(events)
    return {**document, OUTBOX: pending, PENDING: bool(pending), VERSION: 0}


class OutboxRelay:
    """Publishes what the stores left pending. One per service container."""

    def __init__(
        self,
        database: Database[dict[str, Any]],
        collections: Iterable[str],
        amqp_uri: str,
        interval_seconds: float,
        service: str,
        keys: KeySource,
    ) -> None:
        self.database = database
        self.collections = tuple(collections)
        self.interval = interval_seconds
        # signed as the service, the source of every event it stores (services/common/signatures.py)
        self.publisher = SignedPublisher(
            amqp_uri, service, keys=keys, use_confirms=True, mandatory=True
        )
        self._wake = Signal()
        self._written: set[str] = set()  # collections written since the last pass began
        self._thread: eventlet.greenthread.GreenThread | None = None

    def start(self) -> None:
        if self.collections and self._thread is None:
            self._thread = eventlet.spawn(self._run)

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

    def wake(self, collection: str) -> None:
        """Ask for a pass over `collection` now rather than at the next interval."""
        self._written.add(collection)
        if not self._wake.ready():
            self._wake.send(True)

    def _run(self) -> None:
        written = set(self.collections)  # the first pass looks everywhere
        while True:
            # Reset before the pass, so that a write during the pass wakes the next one at once.
            self._wake, self._written = Signal(), set()
            try:
                self.relay_once(written)
            except Exception:  # the relay must outlive a broker or store outage
                log.exception("outbox relay pass failed; will retry")
            # Woken by writes: a pass over the collections written (the dossier service has seven with an
            # outbox, and scanned them all after every write). At each interval without a wake: all of them,
            # for what a failed pass or another replica left pending.
            written = set(self.collections)
            with eventlet.Timeout(self.interval, False):
                self._wake.wait()
                written = self._written

    def relay_once(self, collections: Iterable[str] | None = None) -> int:
        """Publish every pending event of these collections (all, by default) once; return how many were
        confirmed."""
        published = 0
        for name in self.collections:
            if collections is not None and name not in collections:
                continue
            collection = self.database[name]
            for document in collection.find({PENDING: True}, {OUTBOX: 1, VERSION: 1}).limit(BATCH):
                try:
                    for entry in document.get(OUTBOX, []):
                        self._publish(entry)
                        published += 1
                except UndeliverableMessage:
                    continue  # kept pending; the others are not held back by it
                # Cleared only if nothing was added meanwhile (compare-and-set on the version);
                # otherwise the next pass publishes again and consumers drop the duplicates.
                collection.update_one(
                    {"_id": document["_id"], VERSION: document.get(VERSION, 0), PENDING: True},
                    {"$set": {OUTBOX: [], PENDING: False}, "$inc": {VERSION: 1}},
                )
        return published

    def _publish(self, entry: dict[str, Any]) -> None:
        event = entry["event"]
        parent = extract(entry.get("trace", {}))
        name = f"publish {event['source']}.{event['type']}"
        with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.PRODUCER):
            headers: dict[str, str] = {}
            inject(headers)
            try:
                exchange = get_event_exchange(event["source"])
                self.publisher.publish(
                    event,
                    exchange=exchange,
                    declare=[
                        exchange
                    ],  # its subscribers' queues are the set-up's (services/common/bus.py)
                    routing_key=event["type"],
                    headers=encode_to_headers(headers),
                )
            except UndeliverableMessage:
                # No subscription takes this event type: keep it rather than drop it.
                log.warning(
                    "event %s (%s) not routable yet; kept", event["event_id"], event["type"]
                )
                raise
