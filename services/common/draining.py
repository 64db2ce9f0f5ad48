"""Consumers that stop gracefully (SIGTERM, a Kubernetes rollout): the broker is told to send no
more, every message already received is worked on and acknowledged over the still-open connection,
and only then is the connection closed. nameko's own consumer closes its connection as soon as it is
asked to stop, so a worker finishing afterwards cannot acknowledge: the broker hands its message to
another replica, which does the work a second time (tests/deploy/test_graceful_shutdown.py).
"""

from __future__ import annotations

import threading
from typing import Any

from nameko.amqp.consume import Consumer as AmqpConsumer
from nameko.messaging import Consumer as MessagingConsumer
from nameko.rpc import Rpc, RpcConsumer

# The longest a stop waits for received messages to be settled: the longest request
# (DMP_RPC_TIMEOUT_SECONDS, 30 s) with margin, below the pods' grace period (60 s, deploy/k8s). Past
# it (a worker stuck, the broker gone), nameko ends the consumer and the broker redelivers.
DRAIN_SECONDS = 40.0


class DrainingConsumer(AmqpConsumer):  # type: ignore[misc]
    """An AMQP consumer whose stop drains: cancel, settle what was received, then close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False
        self.unsettled: set[Any] = set()
        self.consuming: list[Any] = []
        self.closed = threading.Event()

    def run(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().run(*args, **kwargs)
        finally:
            self.closed.set()

    def stop(self) -> None:
        """Returns once every message received has been acknowledged or handed back (or after
        DRAIN_SECONDS)."""
        self.stopping = True
        if not self.unsettled:
            self.should_stop = True  # nothing to wait for; also ends a reconnection loop
        if self.ready.is_set():
            self.closed.wait(DRAIN_SECONDS)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        self.consuming = super().get_consumers(consumer_cls, channel)
        return self.consuming

    def on_iteration(self) -> None:
        if not self.stopping:
            return
        for consumer in self.consuming:
            consumer.cancel()  # basic.cancel: the broker sends this consumer nothing more
        self.consuming = []
        if not self.unsettled:
            self.should_stop = True  # the loop exits and closes the connection

    def on_message(self, body: Any, message: Any) -> None:
        if self.stopping:  # arrived before the cancel took effect: not started, handed back
            self.requeue_message(message)
            return
        self.unsettled.add(id(message))
        super().on_message(body, message)

    def ack_message(self, message: Any) -> None:
        super().ack_message(message)
        self.unsettled.discard(id(message))

    def requeue_message(self, message: Any) -> None:
        super().requeue_message(message)
        self.unsettled.discard(id(message))

    def settled(self, message: Any) -> None:
        """A message acknowledged elsewhere (moved to the dead-letter queue): a stop need not wait for it."""
        self.unsettled.discard(id(message))


class DrainingRpcConsumer(RpcConsumer):  # type: ignore[misc]
    consumer_cls = DrainingConsumer


class DrainingRpc(Rpc):  # type: ignore[misc]
    rpc_consumer = DrainingRpcConsumer()


class DrainingMessageConsumer(MessagingConsumer):  # type: ignore[misc]
    consumer_cls = DrainingConsumer
