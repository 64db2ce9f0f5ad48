"""Helpers for the stores' contract tests, which run each test on the in-memory store and on the Mongo one: what
the outbox of either would publish, so that a test asserts the events a write causes the same way on both."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.common.events import Event
from services.common.outbox import OUTBOX
from services.common.settings import Settings
from services.common.store import Store


class Recording(Protocol):
    """An in-memory store: the events its writes caused, in order."""

    events: list[Event]


STORES = ("memory", pytest.param("mongo", marks=pytest.mark.store))  # a `store` fixture's params


StoreT = TypeVar("StoreT", bound=Store)


def store_on(database: Database[dict[str, Any]], store_class: type[StoreT]) -> StoreT:
    """A `store_class` on `database`, its indexes made, its outbox relay never started: what its writes would
    publish stays in the documents."""
    from services.common.outbox import OutboxRelay

    store_class.prepare(database)
    relay = OutboxRelay(
        database,
        store_class.outbox_collections,
        "amqp://unused",
        1.0,
        store_class.service,
        Settings.load().bus_keys,
    )
    return store_class(database, relay, Settings.load())


@contextmanager
def mongo_store(request: pytest.FixtureRequest, store_class: type[Store]) -> Iterator[Any]:
    """A `store_class` on a database of its own on the test's store (the embedded one, or DMP_TEST_MONGO_URI's),
    its outbox relay not started; dropped afterwards."""
    environment: dict[str, str] = request.getfixturevalue("environment")
    name = (
        f"{environment['DMP_MONGO_DATABASE_PREFIX']}_{store_class.service}_{uuid.uuid4().hex[:8]}"
    )
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    database: Database[dict[str, Any]] = client[name]
    try:
        yield store_on(database, store_class)
    finally:
        client.drop_database(name)
        client.close()


def published(store: object) -> Counter[str]:
    """The ids of the events a store would publish, each as many times as it would be published."""
    if isinstance(store, Store):
        return Counter(
            entry["event"]["event_id"]
            for collection in store.outbox_collections
            for document in store.db[collection].find({})
            for entry in document.get(OUTBOX, [])
        )
    return Counter(event.event_id for event in cast(Recording, store).events)
