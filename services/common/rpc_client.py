"""Calling services: `RpcClient` from outside a nameko service (the gateway, the operators' commands, the
benchmarks), `ServiceRpc` from inside one. Both are nameko's, with two changes found by the benchmarks
(py-spy on the dossier service; a nameko RPC hop measured 17x the raw request-reply floor):

- nameko's standalone reply listener makes a new consuming generator for every reply it waits for, and
  kombu opens a new AMQP connection for each (plus a second one for its lost-reply check), declares the
  consumer, then cancels it and closes the connection once the reply is in: two connection handshakes
  per call. `RpcClient`'s listener keeps one consuming generator, hence one connection and one consumer,
  for the client's life, and makes a new one only after its connection failed (the reply waits in the
  reply queue meanwhile, and nameko's lost-reply check runs on that reconnection, as before).
- Both declare the caller's reply queue before publishing each request, so that the answer has somewhere
  to go. The queue expires when unused (`x-expires`), and kombu never caches the declaration of such a
  queue: every call paid three more round trips to the broker (exchange, queue, binding). The reply
  queue is consumed for as long as the caller lives, so it cannot expire meanwhile: here it is declared
  once per connection (kombu's cache, dropped with the connection, so it is declared again after a
  reconnection).

A client left idle (a gateway overnight) is driven by nobody: no heartbeat goes out, the broker drops
its reply connection, and the reply queue, consumed by nobody, expires (`DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS`,
nameko's 5 minutes by default). The declaration cached per connection would never bring it back, and
every later call answered `ReplyQueueExpiredWithPendingReplies` for ever. So a call made after the
client sat idle for half the expiry declares the queue again first (three round trips, once per idle
spell); and should the queue be lost anyway (a broker restart), that one call fails, its lost reply is
forgotten and the next call declares the queue again.

Like nameko's standalone client, one `RpcClient` serves one thread at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import Any, ParamSpec, Protocol, TypeVar, cast
from urllib.parse import unquote, urlparse

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.connection import Connection
from kombu.entity import Queue
from kombu.exceptions import OperationalError
from nameko import config, rpc
from nameko.amqp.publish import get_connection
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI
from nameko.exceptions import ReplyQueueExpiredWithPendingReplies, RpcTimeout
from nameko.standalone.rpc import ClusterRpcClient, ReplyListener

from services.audit.client import AuditClient
from services.common.principals import NamedPublisher, principal_of_uri, users_prefix_of
from services.common.settings import Settings
from services.common.settings_provider import bus_keys_of, settings_of
from services.common.signatures import BusKeys, KeySource, reply_problem
from services.consent.client import ConsentClient
from services.dossier.client import DossierClient
from services.identity.client import IdentityClient
from services.notify.client import NotifyClient

log = logging.getLogger(__name__)
BROKER_ERRORS = (
    OperationalError,
    AmqpConnectionError,
)  # the broker refused or dropped the connection
CONNECTION_ERRORS = (OSError, *BROKER_ERRORS)  # the same, or the socket under it


Arguments = ParamSpec("Arguments")
Answer = TypeVar("Answer")


class Cluster(Protocol):
    """Every service's proxy, typed by its client (services/<service>/client.py)."""

    identity: IdentityClient
    consent: ConsentClient
    dossier: DossierClient
    notify: NotifyClient
    audit: AuditClient


def call_async(
    method: Callable[Arguments, Answer], *args: Arguments.args, **kwargs: Arguments.kwargs
) -> Any:
    """Send a call without waiting for its answer (nameko's `call_async`), its arguments checked by the
    method's typed client: `call_async(self.notify.deliver_identity_message, message)`."""
    return cast(Any, method).call_async(*args, **kwargs)


class ReplyQueue(Queue):
    """A caller's reply queue, declared once per connection (see the module's docstring)."""

    can_cache_declaration = True


def declared_once(queue: Queue) -> None:
    # nameko builds the queue inside its own set-up and hands that very object to its publisher.
    queue.__class__ = ReplyQueue


def forged(message: Any, amqp_uri: str, keys: BusKeys) -> bool:
    """A reply not published and signed by the service called, for the call made (services/common/
    signatures.py): to be acknowledged and dropped, so that the caller waits on for the real answer."""
    problem = reply_problem(message, users_prefix_of(amqp_uri), keys)
    if problem is not None:
        log.error("dropped a reply: %s", problem)
    return problem is not None


class LastingReplyListener(ReplyListener):  # type: ignore[misc]
    """Waits for replies on one lasting connection (see the module's docstring)."""

    replies: Generator[None, None, None] | None = None
    keys: KeySource  # its client's
    expiry_seconds: float = 300.0
    last_used = 0.0  # monotonic time the reply queue was last known to exist; 0: declare before the next call

    def register_for_reply(self, correlation_id: str) -> Callable[[], Any]:
        # called before each request is published: the reply must find its queue
        if time.monotonic() - self.last_used > self.expiry_seconds / 2:
            # a connection of its own: a pooled one sat idle as long, and is likely as dead
            with Connection(self.amqp_uri, ssl=self.ssl) as connection:  # type: ignore[no-untyped-call]
                self.queue.bind(connection.default_channel).declare()
            self.last_used = time.monotonic()
            # the idle reply connection is likely dead: consume on a fresh one at once, before the new
            # queue, consumed by nobody meanwhile, could expire again
            self._close_replies()
        waiter: Callable[[], Any] = super().register_for_reply(correlation_id)
        return waiter

    def consume_reply(self, correlation_id: str) -> Any:
        try:
            reply = self._consume_reply(correlation_id)
        except ReplyQueueExpiredWithPendingReplies:
            # those replies went nowhere: forget them, or every later reconnection would fail the same way
            self.pending.clear()
            self.last_used = 0.0
            raise
        self.last_used = time.monotonic()
        return reply

    def _consume_reply(self, correlation_id: str) -> Any:
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
                log.info(
                    "the reply connection was lost (%s); connecting again", type(error).__name__
                )
                reconnected = True
            except BaseException:
                self.replies = None
                raise
        return self.pending.pop(correlation_id)

    def handle_message(self, body: Any, message: Any) -> None:
        if forged(message, self.amqp_uri, self.keys()):
            self.consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def stop(self) -> None:
        super().stop()
        self._close_replies()

    def _close_replies(self) -> None:
        if self.replies is not None:
            replies, self.replies = self.replies, None
            try:
                replies.close()  # leaves kombu's consumer context: cancels the consumer, closes the connection
            except CONNECTION_ERRORS:
                log.debug("closing a lost reply connection failed", exc_info=True)


class RpcClient(ClusterRpcClient):  # type: ignore[misc]
    """nameko's cluster client on one lasting reply connection: `with RpcClient(uri=…, timeout=…,
    keys=settings.bus_keys) as cluster: cluster.dossier.search(token, ins)`. `keys`: the process's, which
    sign its requests and verify the answers."""

    publisher_cls = (
        NamedPublisher  # every request names its broker user (services/common/principals.py)
    )

    def __init__(
        self, *args: Any, keys: KeySource, reply_expiry_seconds: int = 300, **kwargs: Any
    ) -> None:
        # its requests signed as the principal its broker user is, when this process holds that key
        kwargs.setdefault(
            "principal",
            principal_of_uri(
                kwargs.get("uri") or config.get(AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI)
            ),
        )
        super().__init__(*args, keys=keys, **kwargs)  # to its publisher
        # nameko builds its listener inside __init__ and binds the call path to that very object;
        # giving the object the lasting class changes how it waits, and nothing else.
        self.reply_listener.__class__ = LastingReplyListener
        self.reply_listener.keys = keys
        self.client.register_for_reply = (
            self.reply_listener.register_for_reply
        )  # was bound before the change
        declared_once(self.reply_listener.queue)
        # Named after the broker user, who alone may consume it (services/common/bus.py), not nameko's
        # "standalone_rpc_client", which every client would share.
        owner = unquote(urlparse(self.reply_listener.amqp_uri).username or "guest")
        self.reply_listener.queue.name = (
            f"rpc.reply-{owner}-{self.reply_listener.queue.routing_key}"
        )
        # before anything declares it: the queue's expiry is an argument of its declaration
        # (DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS; 300 s is nameko's own default)
        self.reply_listener.queue.queue_arguments["x-expires"] = reply_expiry_seconds * 1000
        self.reply_listener.expiry_seconds = float(reply_expiry_seconds)

    def __enter__(self) -> Cluster:
        return cast(Cluster, super().__enter__())


class VerifyingReplyListener(rpc.ReplyListener):  # type: ignore[misc]
    """nameko's reply listener of a service, taking only the answers of the services it called."""

    def handle_message(self, body: Any, message: Any) -> None:
        if forged(message, self.amqp_uri, settings_of(self.container).bus_keys()):
            self.consumer.ack_message(message)
            return
        super().handle_message(body, message)


class Onward:
    """A client of one service that hands it, in place of each access token or credential the caller may act
    on, a credential addressed to that service (services/common/tokens.py): no user token travels on."""

    def __init__(self, client: Any, caller: str, callee: str, settings: Settings) -> None:
        self._client, self._caller, self._callee = client, caller, callee
        self._settings = settings

    def __getattr__(self, method: str) -> OnwardMethod:
        return OnwardMethod(
            getattr(self._client, method), self._caller, self._callee, self._settings
        )


class OnwardMethod:
    def __init__(self, method: Any, caller: str, callee: str, settings: Settings) -> None:
        self._method, self._caller, self._callee = method, caller, callee
        self._settings = settings

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._method(*self._onward(args), **kwargs)

    def call_async(self, *args: Any, **kwargs: Any) -> Any:
        return self._method.call_async(*self._onward(args), **kwargs)

    def _onward(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        from services.common.tokens import onward  # tokens imports (through sessions) this module

        return onward(args, self._caller, self._callee, self._settings)


class OnwardCluster:
    """`Onward` for every service of a cluster proxy:
    `OnwardCluster(proxy, "gateway", settings).dossier.search(...)`."""

    def __init__(self, proxy: Any, caller: str, settings: Settings) -> None:
        self._proxy, self._caller, self._settings = proxy, caller, settings

    def __getattr__(self, service: str) -> Onward:
        return Onward(getattr(self._proxy, service), self._caller, service, self._settings)


class ServiceRpc(rpc.ServiceRpc):  # type: ignore[misc]
    """nameko's dependency for calling another service, its reply queue declared once per connection, only
    signed answers taken, and credentials for it in place of the caller's: `identity = ServiceRpc("identity")`."""

    publisher_cls = NamedPublisher
    reply_listener = VerifyingReplyListener()

    def get_dependency(self, worker_ctx: Any) -> Onward:
        return Onward(
            super().get_dependency(worker_ctx),
            self.container.service_name,
            self.target_service,
            settings_of(self.container),
        )

    def setup(self) -> None:
        self.publisher_options["principal"] = (
            self.container.service_name
        )  # signs its requests (signatures.py)
        self.publisher_options["keys"] = bus_keys_of(self.container)
        super().setup()
        queue = self.reply_listener.queue
        declared_once(queue)
        # nameko starts a container's extensions all at once: under load, a worker can wait for a reply
        # before the reply listener has first connected, and the listener, finding replies pending and no
        # queue yet, dies (ReplyQueueExpiredWithPendingReplies), leaving the service deaf to every answer
        # (found by the fault test: consent restarted under load never answered again). Declared here,
        # before anything starts.
        with get_connection(
            self.reply_listener.amqp_uri, config.get(AMQP_SSL_CONFIG_KEY)
        ) as connection:
            queue.bind(connection.default_channel).declare()
