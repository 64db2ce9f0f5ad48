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
SWEEP_MAX_SECONDS = (
    10.0  # the longest an idle relay waits before looking for what others left pending
)


def next_sweep(interval: float, previous: float, quiet: bool) -> float:
    """How long a relay waits for a write before its next pass over every collection: the configured interval
    after a pass that failed, kept something pending or found another's leftovers; twice the last wait after a
    quiet pass, up to SWEEP_MAX_SECONDS (or the interval, if that is longer)."""
    if not quiet:
        return interval
    return min(max(previous * 2, interval), max(SWEEP_MAX_SECONDS, interval))


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
        self.kept_pending = (
            False  # the last pass left events pending (unroutable, or more than a batch)
        )
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
        wait = self.interval
        while True:
            # Reset before the pass, so that a write during the pass wakes the next one at once.
            self._wake, self._written = Signal(), set()
            sweep = written == set(self.collections)
            try:
                published = self.relay_once(written)
                quiet = not self.kept_pending and not (sweep and published)
            except Exception:  # the relay must outlive a broker or store outage
                log.exception("outbox relay pass failed; will retry")
                quiet = False
            # Woken by writes: a pass over the collections written (the dossier service has seven with an
            # outbox, and scanned them all after every write). Without a wake: all of them, for what a failed
            # pass or another replica left pending, soon after a pass that left or found some, less and less
            # often while there is none (an idle stack's store is not asked 40 times a second).
            wait = next_sweep(self.interval, wait, quiet)
            written = set(self.collections)
            with eventlet.Timeout(wait, False):
                self._wake.wait()
                written = self._written

    def relay_once(self, collections: Iterable[str] | None = None) -> int:
        """Publish every pending event of these collections (all, by default) once; return how many were
        confirmed."""
        published, self.kept_pending = 0, False
        for name in self.collections:
            if collections is not None and name not in collections:
                continue
            collection = self.database[name]
            found = list(collection.find({PENDING: True}, {OUTBOX: 1, VERSION: 1}).limit(BATCH))
            self.kept_pending |= len(found) == BATCH  # more than one batch: the rest next time
            for document in found:
                try:
                    for entry in document.get(OUTBOX, []):
                        self._publish(entry)
                        published += 1
                except UndeliverableMessage:
                    self.kept_pending = True
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
