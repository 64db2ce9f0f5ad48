"""Reading queues straight off the broker, as an operator would (dead letters, mostly)."""

from __future__ import annotations

from typing import Any

from kombu.connection import Connection
from kombu.entity import Queue
from nameko import config


def connect() -> Any:
    """A kombu connection to the test's virtual host."""
    return Connection(config["AMQP_URI"])  # type: ignore[no-untyped-call]


def drain(connection: Any, queue_name: str) -> list[Any]:
    """Every message waiting in a queue (taken off it)."""
    channel = connection.channel()
    queue: Any = Queue(queue_name, durable=True, auto_delete=False)(channel)  # type: ignore[no-untyped-call]
    queue.declare()  # as the service declares it: draining before the first letter finds it empty, not missing
    taken = []
    while (message := queue.get(no_ack=True)) is not None:
        taken.append(message)
    channel.close()
    return taken
