"""Calling the services from outside a nameko service: the gateway, the operators' commands, the benchmarks.

`RpcClient` is nameko's standalone `ClusterRpcClient` with one change, found by the benchmarks: nameko's
reply listener makes a new consuming generator for every reply it waits for, and kombu opens a new AMQP
connection for each (plus a second one for its lost-reply check), declares the consumer, then cancels
it and closes the connection once the reply is in. Every call thus paid two connection handshakes:
a nameko RPC hop measured 17x the raw request-reply floor. Here the listener keeps one consuming
generator, hence one connection and one consumer, for the client's life, and makes a new one only
after its connection failed (the reply waits in the reply queue meanwhile, and nameko's lost-reply
check runs on that reconnection, as before).

Like nameko's client, one instance serves one thread at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcClient, ReplyListener

log = logging.getLogger(__name__)
CONNECTION_ERRORS = (OSError, OperationalError, AmqpConnectionError)


class LastingReplyListener(ReplyListener):  # type: ignore[misc]
    """Waits for replies on one lasting connection (see the module's docstring)."""

    replies: Generator[None, None, None] | None = None

    def consume_reply(self, correlation_id: str) -> Any:
        if self.consumer.should_stop:
            raise RuntimeError("Stopped and can no longer be used")
        reconnected = False
        while not self.pending.get(correlation_id):
            if self.replies is None:
                self.replies = self.consumer.consume(timeout=self.timeout)
            try:
                next(self.replies)
            except TimeoutError:
                self.replies = None
                raise RpcTimeout() from None
            except CONNECTION_ERRORS as error:
                # The lasting connection died while idle (the broker restarted, or closed it): connect
                # again once, and wait on; a second failure is the caller's to see.
                self.replies = None
                if reconnected:
                    raise
                log.info("the reply connection was lost (%s); connecting again", type(error).__name__)
                reconnected = True
            except BaseException:
                self.replies = None
                raise
        return self.pending.pop(correlation_id)

    def stop(self) -> None:
        super().stop()
        if self.replies is not None:
            replies, self.replies = self.replies, None
            try:
                replies.close()  # leaves kombu's consumer context: cancels the consumer, closes the connection
            except CONNECTION_ERRORS:
                log.debug("closing a lost reply connection failed", exc_info=True)


class RpcClient(ClusterRpcClient):  # type: ignore[misc]
    """nameko's cluster client on one lasting reply connection: `with RpcClient(uri=…, timeout=…) as cluster:
    cluster.dossier.search(token, ins)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # nameko builds its listener inside __init__ and binds the call path to that very object;
        # giving the object the lasting class changes how it waits, and nothing else.
        self.reply_listener.__class__ = LastingReplyListener
