"""Base of every service's store: one Mongo client per container, and the outbox relay.

A service's store.py subclasses `Store` (the only code that knows collection names and queries)
and declares it with `StoreProvider(ThatStore)`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from nameko import config
from nameko.extensions import DependencyProvider
from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.outbox import OUTBOX, PENDING, VERSION, OutboxRelay, entries, mark_pending
from services.common.settings import Settings
from services.common.settings_provider import bus_keys_of, settings_of
from services.common.validation import describe

Document = dict[str, Any]
T = TypeVar("T")
log = logging.getLogger(__name__)


def equal(value: Any) -> dict[str, Any]:
    """An equality on a scalar field, as every store query writes it. Same meaning on MongoDB; on the
    embedded store (nx-27017) a bare value also looks inside arrays through a sub-query that no index
    serves, so the query scans the whole collection, while `$eq` is answered from the index."""
    return {"$eq": value}


def each_of(
    collection: Collection[Document],
    field: str,
    values: Iterable[Any],
    projection: dict[str, int] | None = None,
) -> list[Document]:
    """The documents whose `field` is one of `values`, one indexed look-up per distinct value. The embedded
    store answers `$in` (and an `$or` of equalities) on any field but `_id` by scanning the whole collection
    (a json_each sub-query no index serves, seen in its explain); k look-ups stay k index searches."""
    found: list[Document] = []
    for value in dict.fromkeys(values):
        found.extend(collection.find({field: equal(value)}, projection))
    return found


def connect(settings: Settings) -> MongoClient[Document]:
    # tz_aware so every datetime read back is UTC-aware, like the ones we write.
    return MongoClient(settings.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)


class Reachable(Protocol):
    """What a service's health asks of its store, whichever it is (every <Svc>Records protocol has it)."""

    def reachable(self) -> bool: ...


class Store:
    service: ClassVar[str]
    outbox_collections: ClassVar[tuple[str, ...]] = ()

    def __init__(self, database: Database[Document], relay: OutboxRelay, settings: Settings):
        self.db = database
        self.relay = relay
        self.settings = settings

    def reachable(self) -> bool:
        """Whether the store answers at all (a ping): what the service's health reports."""
        try:
            self.db.command("ping")
        except PyMongoError:
            return False
        return True

    @classmethod
    def prepare(cls, database: Database[Document]) -> None:
        """Create the indexes the store relies on (idempotent)."""
        for name in cls.outbox_collections:
            database[name].create_index([("_outbox_pending", 1)])

    def _require_outbox(self, collection: str) -> None:
        if collection not in self.outbox_collections:
            raise ValueError(f"{collection} has no outbox")

    def insert_with_events(
        self, collection: str, document: Document, events: Iterable[Event], held: bool = False
    ) -> None:
        """Insert a document together with the events it causes (one atomic write). `held`: the events wait in
        the document, unpublished, until release_held_events releases them."""
        self._require_outbox(collection)
        stored = mark_pending(document, events)
        if held:
            stored[PENDING] = False  # the relay passes it by: its outbox is not due yet
        try:
            self.db[collection].insert_one(stored)
        except DuplicateKeyError:
            raise
        except PyMongoError as error:
            raise ServiceUnavailable(
                "the record store is unavailable; nothing was stored"
            ) from error
        self.relay.wake(collection)

    def release_held_events(
        self, collection: str, query: Document, unset: Iterable[str] = ()
    ) -> None:
        """Make the events held by the documents matching `query` due, in one write (their own, inserted with
        insert_with_events(held=True)), unsetting `unset` in the same write."""
        self._require_outbox(collection)
        update: Document = {"$set": {PENDING: True}, "$inc": {VERSION: 1}}
        if unset:
            update["$unset"] = {field: "" for field in unset}
        try:
            self.db[collection].update_many(query, update)
        except PyMongoError as error:
            raise ServiceUnavailable(
                "the record store is unavailable; the deposit is not complete, retry it"
            ) from error
        self.relay.wake(collection)

    def update_with_events(
        self,
        collection: str,
        query: Document,
        changes: Document,
        events: Iterable[Event],
        unset: Iterable[str] = (),
    ) -> Document | None:
        """Apply `changes` ($set) to the one document matching `query` together with its events, in one
        atomic write (compare-and-set on the document's version, retried on a concurrent change).
        Returns the document as it was before, or None when nothing matches. Top-level datetimes must be
        nested in `changes`: nx-27017 stores a top-level datetime written by $set as a string."""
        self._require_outbox(collection)
        new_entries = entries(events)
        try:
            for _ in range(10):
                current = self.db[collection].find_one(query)
                if current is None:
                    return None
                update: Document = {
                    "$set": {
                        **changes,
                        OUTBOX: [*current.get(OUTBOX, []), *new_entries],
                        PENDING: True,
                        VERSION: current.get(VERSION, 0) + 1,
                    }
                }
                if unset:
                    update["$unset"] = {field: "" for field in unset}
                written = self.db[collection].update_one(
                    {**query, "_id": current["_id"], VERSION: current.get(VERSION, 0)}, update
                )
                if written.modified_count == 1:
                    self.relay.wake(collection)
                    return current
        except PyMongoError as error:
            raise ServiceUnavailable(
                "the record store is unavailable; nothing was changed"
            ) from error
        raise ServiceUnavailable("the record is changing too often; nothing was changed, retry")

    @staticmethod
    def persistently(write: Callable[[], T], seconds: float, pause: float = 0.25) -> T:
        """Run an idempotent write, trying again for up to `seconds` while the store cannot be reached
        (restarting, failing over). For what must not be forgotten once the outside world has seen it:
        a message sent but not recorded as sent would be sent again."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return write()
            except ConnectionFailure:
                if time.monotonic() + pause > deadline:
                    raise
                log.warning("the store is unreachable; trying the write again in %.2f s", pause)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def received_event(self, payload: Any) -> Event | None:
        """The event in a consumed message, or None after parking a malformed one. Subscriptions already
        send malformed messages to the dead-letter queue before a handler runs (common/deadletters.py),
        so this is the second line: a handler called some other way still never requeues forever."""
        try:
            return Event.model_validate(payload)
        except ValidationError as error:
            event_id = payload.get("event_id") if isinstance(payload, dict) else None
            log.error("parked malformed event %s: %d problem(s)", event_id, error.error_count())
            self.db.parked_events.insert_one(
                {
                    "event_id": str(event_id),
                    "reasons": describe(error).details,
                    "payload": payload if isinstance(payload, dict) else str(payload),
                }
            )
            return None

    def insert_new(self, collection: str, document: Document, events: Iterable[Event]) -> bool:
        """insert_with_events, answering False (and storing nothing) when the key is already taken."""
        try:
            self.insert_with_events(collection, document, events)
        except DuplicateKeyError:
            return False
        return True


S = TypeVar("S", bound=Store)


class StoreProvider(DependencyProvider, Generic[S]):  # type: ignore[misc]
    """Creates the client at setup, starts the relay at start, closes both at stop."""

    def __init__(self, store_class: type[S]) -> None:
        self.store_class = store_class
        self.client: MongoClient[Document] | None = None
        self.store: S | None = None

    def setup(self) -> None:
        settings = settings_of(self.container)
        self.client = connect(settings)
        database = self.client[settings.database_name(self.store_class.service)]
        self.store_class.prepare(database)
        amqp_uri = config.get("AMQP_URI", settings.amqp_uri)
        relay = OutboxRelay(
            database,
            self.store_class.outbox_collections,
            amqp_uri,
            settings.outbox_interval_seconds,
            self.store_class.service,
            bus_keys_of(self.container),
        )
        self.store = self.store_class(database, relay, settings)

    def start(self) -> None:
        self.get_dependency(None).relay.start()

    def stop(self) -> None:
        if self.store is not None:
            self.store.relay.stop()
        if self.client is not None:
            self.client.close()
            self.client = None

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: object) -> S:
        if self.store is None:
            raise RuntimeError("store used before setup")
        return self.store
