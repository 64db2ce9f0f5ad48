"""Signed messages: every event and every RPC reply carries the Ed25519 signature of the principal entitled
to send it, so that no one who reaches the broker, its administrator included, can forge one.

The broker's permissions and validated user ids (services/common/bus.py, principals.py) say which broker
user published a message; a stolen broker password, a permission set too wide or the broker itself would
defeat them. A signature cannot be made without the sender's private key, which only its own process holds:

- What is signed: exactly the bytes that travel, with where they go: `dmp-bus/1`, the exchange, the routing
  key, the correlation id and, for a reply, the request it answers (`x-dmp-answers`: `service.method`),
  then the body. A signed event moved to another exchange or type, or a reply moved to another call, no
  longer verifies.
- Who signed: the key id, in `x-dmp-kid`, is `<principal>.<version>`; the verifier knows each principal's
  public keys (DMP_BUS_PUBLIC_KEYS, comma-separated `kid:<base64url key>`) and takes the principal from the
  key it verified with, never from the message. An event verifies only under its source's key; a reply only
  under the key of the service that was called, for the call that was made (`Outstanding`).
- Requests: a service's (or the gateway's) call of another service is signed too, as a short-lived
  credential of that one call: `dmp-bus-request/1`, the exchange, the routing key (`service.method`: the
  callee and what is asked), the correlation id, where the answer goes (`reply_to`) and when it was
  signed (`x-dmp-sent`, epoch milliseconds), then the body. The callee takes it only from the broker user
  of its signer, within `REQUEST_SECONDS` of its signing, once (`SeenRequests`).
- Replays: a replayed event carries its original `event_id`, and every consumer is idempotent by it
  (the audit trail and notify keep the ids they processed); a replayed reply answers a call that is no
  longer waiting, and is dropped; a replayed request is refused by the process that saw it (traced, not
  answered: the genuine call's answer is the caller's), and by every process once its signing is
  `REQUEST_SECONDS` old.

A process signs with its own key (DMP_BUS_SIGNING_KEY, `kid:<base64url seed>`; the in-process tests, which
run every service in one process, give it every service's key, comma-separated). Rotation, as for the
token keys: publish the new public key everywhere, switch the signing key, drop the old public key once
no queue holds a message it signed (docs/operations.md).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import kombu.serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common.errors import ConfigurationError
from services.common.keys import SigningKey, b64d, b64e, parse_public_keys

KID = "x-dmp-kid"
SIGNATURE = "x-dmp-signature"
ANSWERS = "x-dmp-answers"  # on a reply: the `service.method` of the call it answers
SENT = "x-dmp-sent"  # on a request: when it was signed, epoch milliseconds
REQUEST_SECONDS = (
    120  # how long a signed request may be taken (a caller waits 60 s at most, retries aside)
)
SIGNING_KEY = "DMP_BUS_SIGNING_KEY"
PUBLIC_KEYS = "DMP_BUS_PUBLIC_KEYS"


def signing_variable(name: str) -> str:
    """Where a set-up keeps each principal's signing key before handing it to that principal's process."""
    return f"{SIGNING_KEY}_{name.upper()}"


def own_signing_key(env: dict[str, str], name: str) -> dict[str, str]:
    """`env` for the process of principal `name`: its own signing key as DMP_BUS_SIGNING_KEY, nobody else's."""
    kept = {key: value for key, value in env.items() if not key.startswith(SIGNING_KEY)}
    own = env.get(signing_variable(name))
    return {**kept, SIGNING_KEY: own} if own else kept


class BadSignature(Exception):
    """A message whose signature is missing, unknown, wrong, or by a principal not entitled to send it."""


def principal_of_kid(kid: str) -> str:
    return kid.partition(".")[0]


def signed_bytes(
    exchange: str, routing_key: str, correlation_id: str, answers: str, body: bytes
) -> bytes:
    head = "\n".join(("dmp-bus/1", exchange, routing_key, correlation_id, answers, ""))
    return head.encode() + body


def request_bytes(
    exchange: str, routing_key: str, correlation_id: str, reply_to: str, sent: str, body: bytes
) -> bytes:
    head = "\n".join(
        ("dmp-bus-request/1", exchange, routing_key, correlation_id, reply_to, sent, "")
    )
    return head.encode() + body


@dataclass(frozen=True)
class BusKeys:
    signing: dict[
        str, SigningKey
    ]  # by principal: the key this process signs that principal's messages with
    public: dict[str, Ed25519PublicKey]  # by key id

    def signer(self, principal: str) -> SigningKey:
        key = self.signing.get(principal)
        if key is None:
            raise ConfigurationError(
                f"{SIGNING_KEY} holds no key of {principal} (a key id {principal}.<version>): its events and "
                "replies would be refused by every consumer"
            )
        return key

    def sign(
        self,
        principal: str,
        exchange: str,
        routing_key: str,
        body: bytes,
        correlation_id: str = "",
        answers: str = "",
    ) -> dict[str, str]:
        """The headers that prove `principal` sent `body` there."""
        key = self.signer(principal)
        signature = key.private_key.sign(
            signed_bytes(exchange, routing_key, correlation_id, answers, body)
        )
        headers = {KID: key.kid, SIGNATURE: b64e(signature)}
        if answers:
            headers[ANSWERS] = answers
        return headers

    def sign_request(
        self,
        principal: str,
        exchange: str,
        routing_key: str,
        correlation_id: str,
        reply_to: str,
        body: bytes,
        sent_ms: int,
    ) -> dict[str, str]:
        """The headers that make a request `principal`'s credential for this one call."""
        key = self.signer(principal)
        sent = str(sent_ms)
        signature = key.private_key.sign(
            request_bytes(exchange, routing_key, correlation_id, reply_to, sent, body)
        )
        return {KID: key.kid, SIGNATURE: b64e(signature), SENT: sent}

    def signer_of(
        self,
        headers: dict[str, Any] | None,
        exchange: str,
        routing_key: str,
        body: bytes,
        correlation_id: str = "",
    ) -> str:
        """The principal whose key signed this event or reply, or BadSignature saying why none did."""
        answers = str((headers or {}).get(ANSWERS, ""))
        return self._verified(
            headers, signed_bytes(exchange, routing_key, correlation_id, answers, body)
        )

    def requester_of(
        self,
        headers: dict[str, Any] | None,
        exchange: str,
        routing_key: str,
        correlation_id: str,
        reply_to: str,
        body: bytes,
    ) -> tuple[str, int]:
        """(the principal whose key signed this request, when it signed it), or BadSignature."""
        sent = (headers or {}).get(SENT)
        if not isinstance(sent, str) or not sent.isdigit() or len(sent) > 16:
            raise BadSignature(
                "unsigned" if sent is None else "a request without a valid signing time"
            )
        data = request_bytes(exchange, routing_key, correlation_id, reply_to, sent, body)
        return self._verified(headers, data), int(sent)

    def _verified(self, headers: dict[str, Any] | None, data: bytes) -> str:
        headers = headers or {}
        kid, signature = headers.get(KID), headers.get(SIGNATURE)
        if not isinstance(kid, str) or not isinstance(signature, str):
            raise BadSignature("unsigned")
        key = self.public.get(kid)
        if key is None:
            raise BadSignature(f"signed with an unknown key ({kid[:40]})")
        try:
            key.verify(b64d(signature), data)
        except (InvalidSignature, ValueError):
            raise BadSignature(
                f"a signature by {principal_of_kid(kid)} that does not match the message"
            ) from None
        return principal_of_kid(kid)


# Where a publisher or listener that lasts gets the process's keys, asked at each message: a bound
# `Settings.bus_keys`, read through the container's current settings (replaced when they are read again).
KeySource = Callable[[], BusKeys]


@lru_cache(maxsize=4)
def bus_keys(signing_text: str, public_text: str) -> BusKeys:
    if not public_text:
        raise ConfigurationError(f"{PUBLIC_KEYS} is not set: nothing on the bus could be verified")
    signing: dict[str, SigningKey] = {}
    for item in filter(None, (part.strip() for part in signing_text.split(","))):
        key = SigningKey.parse(item, SIGNING_KEY)
        signing.setdefault(principal_of_kid(key.kid), key)  # the first of a principal's keys signs
    return BusKeys(signing, parse_public_keys(public_text, PUBLIC_KEYS))


def encoded(payload: Any, serializer: str) -> tuple[str, str, bytes]:
    """(content type, encoding, bytes) of a payload, as kombu would send it: signed, then sent as they are."""
    content_type, encoding, data = kombu.serialization.dumps(payload, serializer=serializer)  # type: ignore[no-untyped-call]
    return content_type, encoding, data if isinstance(data, bytes) else data.encode(encoding)


class Outstanding:
    """The calls this process is waiting on, by correlation id: which `service.method` each went to, so that
    a reply is accepted only from that service and for that call. Bounded: a call that timed out is
    forgotten in time, and its late reply is dropped like a stranger's."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._calls: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, correlation_id: str, routing_key: str) -> None:
        with self._lock:
            self._calls[correlation_id] = routing_key
            while len(self._calls) > self.capacity:
                self._calls.popitem(last=False)

    def called(self, correlation_id: str) -> str | None:
        with self._lock:
            return self._calls.get(correlation_id)

    def answered(self, correlation_id: str) -> None:
        with self._lock:
            self._calls.pop(correlation_id, None)


OUTSTANDING = Outstanding()


@dataclass(frozen=True)
class Untakable:
    """Why a request is not taken. `copy`: it is a copy of one taken already, whose own answer is on its
    way to the caller, under the same correlation id: a refusal of the copy must not be answered."""

    reason: str
    copy: bool = False


class SeenRequests:
    """The signed requests this process took within the last `REQUEST_SECONDS`, so that none is taken twice.
    A message the broker redelivers (its consumer lost its connection before acknowledging it) is the same
    request, not a replay: the broker marks it, and only a publisher, never the broker, makes a copy."""

    def __init__(self, seconds: int = REQUEST_SECONDS, capacity: int = 1_000_000) -> None:
        self.window_ms, self.capacity = seconds * 1000, capacity
        self._seen: OrderedDict[tuple[str, str], int] = (
            OrderedDict()
        )  # (signer, correlation id) -> signed at
        self._lock = threading.Lock()

    def problem(
        self, signer: str, correlation_id: str, sent_ms: int, now_ms: int, redelivered: bool
    ) -> Untakable | None:
        """Why this request must not be taken now, or None (and it is remembered)."""
        if sent_ms < now_ms - self.window_ms:
            return Untakable(
                f"a request signed by {signer} {(now_ms - sent_ms) // 1000} s ago: too old to be taken"
            )
        if sent_ms > now_ms + self.window_ms // 4:  # clocks differ a little, not by minutes
            return Untakable(f"a request signed by {signer} in the future")
        key = (signer, correlation_id)
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now_ms - self.window_ms:
                self._seen.popitem(last=False)
            if key in self._seen and not redelivered:
                return Untakable(f"a request of {signer} already taken (a replay)", copy=True)
            self._seen[key] = sent_ms
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
        return None


SEEN_REQUESTS = SeenRequests()


def reply_problem(message: Any, users_prefix: str | None, keys: BusKeys) -> str | None:
    """Why a reply must not be taken as the answer to our call, or None. `users_prefix`: what every broker
    user of this system begins with (None where all processes share one user, and nobody's can be told);
    `keys`: this process's (Settings.bus_keys)."""
    correlation_id = str(message.properties.get("correlation_id") or "")
    called = OUTSTANDING.called(correlation_id)
    if called is None:
        return "a reply to no call this process is waiting on"
    service = called.partition(".")[0]
    user_id = message.properties.get("user_id")
    if users_prefix is not None and user_id != f"{users_prefix}{service}":
        return f"a reply to a call of {service} published by {str(user_id or 'an unknown sender')[:60]}"
    headers = message.headers or {}
    if headers.get(ANSWERS) != called:
        return f"a reply that does not say it answers {called}"
    try:
        signer = keys.signer_of(
            headers,
            str(message.delivery_info.get("exchange", "")),
            str(message.delivery_info.get("routing_key", "")),
            raw_body(message),
            correlation_id,
        )
    except BadSignature as error:
        return f"a reply to {called}: {error}"
    if signer != service:
        return f"a reply to a call of {service} signed by {signer}"
    OUTSTANDING.answered(correlation_id)
    return None


def raw_body(message: Any) -> bytes:
    """The bytes a message arrived as: what its signature covers."""
    body = message.body
    return body if isinstance(body, bytes) else str(body).encode()
