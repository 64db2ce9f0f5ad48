"""Floors: the least a call can cost on this machine, measured in the same run as what is compared to them.

- a raw request-reply over RabbitMQ with kombu (an echo server thread, no framework): what any RPC costs;
- raw pymongo inserts and finds (by _id) on the same store the services use.

Each sequentially (one caller) and with 10 concurrent callers (each with its own connection).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import kombu as _kombu
from pymongo import MongoClient

from bench.common import Measure, Section, concurrent, sequential

CALLERS = 10
BULK = 1000
# kombu's partial annotations leave its calls untyped: speak to it as Any.
kombu: Any = _kombu


@contextmanager
def echo_server(amqp_uri: str) -> Iterator[str]:
    """A thread answering every request on a fresh queue with its own body; yields the queue's name."""
    name = f"bench-echo-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    started = threading.Event()

    def serve() -> None:
        with kombu.Connection(amqp_uri) as connection:
            channel = connection.channel()
            producer = kombu.Producer(channel, exchange=kombu.Exchange(""), auto_declare=False)
            queue = kombu.Queue(
                name,
                exchange=kombu.Exchange(""),
                routing_key=name,
                auto_delete=True,
                channel=channel,
            )

            def reply(body: Any, message: Any) -> None:
                producer.publish(
                    body,
                    routing_key=message.properties["reply_to"],
                    serializer="json",
                    correlation_id=message.properties["correlation_id"],
                )
                message.ack()

            with kombu.Consumer(channel, queues=[queue], callbacks=[reply], accept=["json"]):
                started.set()
                while not stop.is_set():
                    try:
                        connection.drain_events(timeout=0.2)
                    except TimeoutError:
                        continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not started.wait(30):
        raise TimeoutError("the echo server did not start")
    try:
        yield name
    finally:
        stop.set()
        thread.join(5)


class EchoClient:
    """One caller: its own connection, channel and exclusive reply queue."""

    def __init__(self, amqp_uri: str, server_queue: str) -> None:
        self.connection = kombu.Connection(amqp_uri)
        channel = self.connection.channel()
        self.server_queue = server_queue
        self.reply_queue = kombu.Queue(
            f"bench-reply-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True, channel=channel
        )
        self.reply_queue.declare()
        self.producer = kombu.Producer(channel, exchange=kombu.Exchange(""), auto_declare=False)
        self.answers: set[str] = set()
        self.consumer = kombu.Consumer(
            channel,
            queues=[self.reply_queue],
            callbacks=[self._answer],
            accept=["json"],
            no_ack=True,
        )
        self.consumer.consume()

    def _answer(self, body: Any, message: Any) -> None:
        self.answers.add(message.properties["correlation_id"])

    def call(self, n: int = 0) -> None:
        correlation = uuid.uuid4().hex
        self.producer.publish(
            {"n": n},
            routing_key=self.server_queue,
            serializer="json",
            reply_to=self.reply_queue.name,
            correlation_id=correlation,
        )
        while correlation not in self.answers:
            self.connection.drain_events(timeout=10)
        self.answers.discard(correlation)

    def close(self) -> None:
        self.connection.release()


def run(amqp_uri: str, mongo_uri: str, quick: bool) -> Section:
    rounds = 100 if quick else 1000
    section = Section("floors")
    clients: list[EchoClient] = []
    with echo_server(amqp_uri) as queue:
        first = EchoClient(amqp_uri, queue)
        clients.append(first)
        section.add(sequential("AMQP request-reply (kombu echo)", first.call, rounds))

        def echo_caller(index: int) -> Callable[[int], object]:
            client = EchoClient(amqp_uri, queue)
            clients.append(client)
            return client.call

        section.add(
            concurrent(
                "AMQP request-reply (kombu echo)", echo_caller, CALLERS, rounds // CALLERS * 2
            )
        )
        for client in clients:
            client.close()

    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    collection = mongo["bench_floor"][f"writes_{uuid.uuid4().hex[:6]}"]
    record = {
        "dossier_id": "dos_bench",
        "category": "10",
        "title": "a document's metadata",
        "size": 12345,
    }
    section.add(
        sequential(
            "store insert_one",
            lambda: collection.insert_one({**record, "_id": uuid.uuid4().hex}),
            rounds,
        )
    )
    section.add(
        concurrent(
            "store insert_one",
            lambda i: lambda n: collection.insert_one({**record, "_id": uuid.uuid4().hex}),
            CALLERS,
            rounds // CALLERS * 2,
        )
    )
    ids = [doc["_id"] for doc in collection.find({}, {"_id": 1}).limit(500)]
    section.add(
        sequential(
            "store find_one by _id",
            lambda: collection.find_one({"_id": ids[len(ids) // 2]}),
            rounds,
        )
    )
    section.add(
        concurrent(
            "store find_one by _id",
            lambda i: lambda n: collection.find_one({"_id": ids[n % len(ids)]}),
            CALLERS,
            rounds // CALLERS * 2,
        )
    )
    line = {
        "dossier_id": "dos_bench",
        "care_date": "2026-01-02",
        "items": [{"system": "CIP13", "code": "3400930000000", "quantity": 1}],
        "prescriber_rpps": "10000000009",
        "billed_cents": 1000,
        "reimbursed_cents": 700,
        "care_ms": 1767312000000,
    }
    bulk = section.add(
        sequential(
            f"store insert_many ({BULK} reimbursement-line documents)",
            lambda: collection.insert_many(
                [{**line, "_id": uuid.uuid4().hex} for _ in range(BULK)], ordered=False
            ),
            3 if quick else 10,
            warmup=1,
        )
    )
    section.figures["store insert_many documents per second"] = bulk.per_second * BULK
    collection.drop()
    mongo.close()
    return section


def floor(section: Section, name: str, callers: int = 1) -> Measure:
    return next(m for m in section.measures if m.name == name and m.callers == callers)
