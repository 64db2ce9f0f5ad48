"""Ended sessions: an access token of a session that was ended is refused by every verifier at once.

Access tokens are verified locally (services/common/tokens.py), so a logout that only revoked the
refresh token left the access token working for the rest of its 15 minutes, at the gateway and over
RPC. Each access token names its session (`sid`). When a session ends (logout, a replayed refresh
token), identity keeps it until the last of its access tokens has expired and publishes
`session_ended`. Every verifying process (each service container and the gateway) keeps the live
ended sessions in memory (`ENDED`), fed by a `SessionFeed`:

1. it binds a queue of its own to identity's `session_ended` events, then
2. loads every live ended session from identity (`identity.ended_sessions`), so that a replica started
   after a logout refuses its tokens too and nothing published between the two steps is missed, then
3. follows the events, and loads again every `RESYNC_SECONDS` and after any lost connection (an
   event published while the feed was disconnected went to a queue that no longer existed).

Until a process's first load has succeeded it cannot tell an ended session from a live one, so
verification waits for it (at most `PRIME_WAIT_SECONDS`) and then answers "unavailable" rather than
accept a token it cannot check. A process that runs no feed (a command-line tool, the fast unit tests)
checks signatures and expiry only.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlparse

from kombu.connection import Connection
from kombu.entity import Queue
from kombu.message import Message
from nameko import config
from nameko.constants import AMQP_SSL_CONFIG_KEY
from nameko.extensions import DependencyProvider

from services.common.clock import utcnow
from services.common.errors import ServiceUnavailable, Unauthenticated
from services.common.events import EventType
from services.common.principals import users_prefix_of
from services.common.settings_provider import bus_keys_of
from services.common.signatures import BadSignature, BusKeys, KeySource, raw_body
from services.common.subscriptions import source_exchange

log = logging.getLogger(__name__)

RESYNC_SECONDS = 60.0
PRIME_WAIT_SECONDS = 10.0
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class EndedSession:
    session_id: str
    until: datetime  # when the last access token of the session expires

    def as_message(self) -> dict[str, str]:
        return {"session_id": self.session_id, "until": self.until.isoformat()}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> EndedSession:
        return cls(str(message["session_id"]), datetime.fromisoformat(str(message["until"])))


class EndedSessions:
    """The live ended sessions known to this process. Safe to share between threads and greenthreads."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._feeds: set[object] = set()
        self._primed = threading.Event()

    def attach(self, feed: object) -> None:
        with self._lock:
            self._feeds.add(feed)

    def detach(self, feed: object) -> None:
        with self._lock:
            self._feeds.discard(feed)
            if not self._feeds:
                self._primed.clear()
                self._until.clear()

    def end(self, sessions: Iterable[EndedSession], complete: bool = False) -> None:
        """Record ended sessions; `complete` when they are every live one (a load from identity)."""
        now = utcnow()
        with self._lock:
            for session in sessions:
                self._until[session.session_id] = max(
                    session.until, self._until.get(session.session_id, session.until)
                )
            for session_id in [key for key, until in self._until.items() if until <= now]:
                del self._until[session_id]
        if complete:
            self._primed.set()

    def check(self, session_id: str) -> None:
        """Raise Unauthenticated when the session has ended."""
        with self._lock:
            followed = bool(self._feeds)
        if followed and not self._primed.wait(PRIME_WAIT_SECONDS):
            raise ServiceUnavailable("sessions cannot be checked yet; try again in a moment")
        with self._lock:
            until = self._until.get(session_id)
        if until is not None and until > utcnow():
            raise Unauthenticated("this session was ended; log in again")


ENDED = EndedSessions()


class IdentityFeed:
    """Follows one type of identity's events in a queue of this process's own, bound before `connected` runs
    (so that nothing published meanwhile is missed) and gone with the connection; connects again after any
    failure, calling `connected` afresh (an event published while disconnected went to no queue of ours)."""

    event_type: EventType
    queue_prefix: str  # services/common/bus.py lets each principal use queues beginning with its own name here

    def __init__(self, amqp_uri: str, keys: KeySource) -> None:
        self.amqp_uri = amqp_uri
        self.keys = keys  # the process's, which tell identity's events from forgeries
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def connected(self) -> None:
        """Bound and consuming: catch up on what may have been missed."""

    def disconnected(self) -> None:
        """The feed is interrupted: events may be missed until it is back."""

    def received(self, body: dict[str, Any]) -> None:
        """One event, published and signed by identity."""

    def idle(self) -> None:
        """Called about every second while following."""

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.event_type.value}-feed", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        # Not joined: the feed only follows (its queue is exclusive and goes with its connection) and holds
        # nothing to finish, so a stopping container need not wait out the second its thread waits for events.
        self._stopping.set()

    def _run(self) -> None:
        pause = RETRY_SECONDS
        while not self._stopping.is_set():
            try:
                self._follow()
                pause = RETRY_SECONDS
            except (
                Exception
            ) as error:  # the broker or identity is away (starting): try again, loading afresh
                self.disconnected()
                log.warning(
                    "%s feed interrupted (%s); retrying in %.1f s",
                    self.event_type.value,
                    type(error).__name__,
                    pause,
                )
                self._stopping.wait(pause)
                pause = min(pause * 2, MAX_RETRY_SECONDS)
        self.disconnected()

    def _follow(self) -> None:
        owner = unquote(urlparse(self.amqp_uri).username or "guest")
        queue = Queue(  # type: ignore[no-untyped-call]
            f"{self.queue_prefix}{owner}.{uuid.uuid4().hex}",
            exchange=source_exchange("identity"),
            routing_key=self.event_type.value,
            exclusive=True,
            auto_delete=True,
        )
        connection = Connection(self.amqp_uri, ssl=config.get(AMQP_SSL_CONFIG_KEY))  # type: ignore[no-untyped-call]
        with connection, connection.Consumer(queue, callbacks=[self._received], accept=["json"]):  # type: ignore[no-untyped-call]
            if self._stopping.is_set():
                return  # stopped while connecting: a stopped feed changes nothing any more
            self.connected()
            while not self._stopping.is_set():
                try:
                    connection.drain_events(timeout=1)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    connection.heartbeat_check()  # type: ignore[no-untyped-call]
                if not self._stopping.is_set():
                    self.idle()

    def _received(self, body: Any, message: Message) -> None:
        problem = (
            None if self._stopping.is_set() else from_identity(message, self.amqp_uri, self.keys())
        )
        if self._stopping.is_set():
            pass  # a stopped feed changes nothing any more; the queue goes with the connection
        elif problem is not None:  # a forged one would end a session, or misdirect a patient's mail
            log.error("a %s event was dropped: %s", self.event_type.value, problem)
        elif not isinstance(body, dict):
            log.warning("a %s event that is not an object was dropped", self.event_type.value)
        else:
            self.received(body)
        message.ack()  # type: ignore[no-untyped-call]


class SessionFeed(IdentityFeed):
    """Keeps `ENDED` current in this process (see the module's docstring). `load` returns every live
    ended session, from identity."""

    event_type = EventType.SESSION_ENDED
    queue_prefix = "sessions-ended."

    def __init__(
        self,
        amqp_uri: str,
        keys: KeySource,
        load: Callable[[], list[EndedSession]],
        sessions: EndedSessions = ENDED,
    ):
        super().__init__(amqp_uri, keys)
        self.load = load
        self.sessions = sessions
        self._loaded = 0.0

    def start(self) -> None:
        self.sessions.attach(self)
        super().start()

    def stop(self) -> None:
        super().stop()
        self.sessions.detach(self)

    def connected(self) -> None:
        self.sessions.end(self.load(), complete=True)  # after the binding: nothing falls in between
        self._loaded = time.monotonic()

    def idle(self) -> None:
        if time.monotonic() - self._loaded > RESYNC_SECONDS:
            self.connected()

    def received(self, body: dict[str, Any]) -> None:
        try:
            self.sessions.end([EndedSession.from_message(body.get("data", {}))])
        except (AttributeError, KeyError, TypeError, ValueError):
            log.warning("a session_ended event without a session was dropped")


def from_identity(message: Message, amqp_uri: str, keys: BusKeys) -> str | None:
    """Why a session_ended event is not identity's own, or None (services/common/signatures.py); `keys`:
    this process's."""
    prefix = users_prefix_of(amqp_uri)
    publisher = message.properties.get("user_id")
    if prefix is not None and publisher != f"{prefix}identity":
        return f"published by {str(publisher or 'an unknown sender')[:60]}"
    info = message.delivery_info
    try:
        signer = keys.signer_of(
            message.headers,
            str(info.get("exchange", "")),
            str(info.get("routing_key", "")),
            raw_body(message),
        )
    except BadSignature as error:
        return str(error)
    return None if signer == "identity" else f"signed by {signer}"


def session_until(issued_at: datetime, ttl_seconds: int, skew_seconds: int) -> datetime:
    """When the last access token of a session ended at `issued_at` can expire."""
    return issued_at + timedelta(seconds=ttl_seconds + skew_seconds)


class FeedProvider(DependencyProvider):  # type: ignore[misc]
    """Runs an IdentityFeed (made by `start`) for the life of a service container."""

    feed: IdentityFeed | None = None

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.feed = None

    kill = stop


class SessionFeedProvider(FeedProvider):
    """Runs a SessionFeed for the life of a service container, loading from identity over RPC."""

    def start(self) -> None:
        from services.common.rpc_client import RpcClient

        uri, keys = self.container.config["AMQP_URI"], bus_keys_of(self.container)

        def load() -> list[EndedSession]:
            with RpcClient(uri=uri, timeout=10, keys=keys) as identity:
                return [
                    EndedSession.from_message(item) for item in identity.identity.ended_sessions()
                ]

        self.feed = SessionFeed(uri, keys, load)
        self.feed.start()
