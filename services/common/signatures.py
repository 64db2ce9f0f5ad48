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
- Replays: a replayed event carries its original `event_id`, and every consumer is idempotent by it
  (the audit trail and notify keep the ids they processed); a replayed reply answers a call that is no
  longer waiting, and is dropped.

A process signs with its own key (DMP_BUS_SIGNING_KEY, `kid:<base64url seed>`; the in-process tests, which
run every service in one process, give it every service's key, comma-separated). Rotation, as for the
token keys: publish the new public key everywhere, switch the signing key, drop the old public key once
no queue holds a message it signed (docs/operations.md).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
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


def signed_bytes(exchange: str, routing_key: str, correlation_id: str, answers: str, body: bytes) -> bytes:
    head = "\n".join(("dmp-bus/1", exchange, routing_key, correlation_id, answers, ""))
    return head.encode() + body


@dataclass(frozen=True)
class BusKeys:
    signing: dict[str, SigningKey]  # by principal: the key this process signs that principal's messages with
    public: dict[str, Ed25519PublicKey]  # by key id

    @classmethod
    def from_env(cls) -> BusKeys:
        # the names spelt out: the manifests' test finds every variable the code reads by its name
        return _keys(os.environ.get("DMP_BUS_SIGNING_KEY", ""), os.environ.get("DMP_BUS_PUBLIC_KEYS", ""))

    def signer(self, principal: str) -> SigningKey:
        key = self.signing.get(principal)
        if key is None:
            raise ConfigurationError(
                f"{SIGNING_KEY} holds no key of {principal} (a key id {principal}.<version>): its events and "
                "replies would be refused by every consumer")
        return key

    def sign(self, principal: str, exchange: str, routing_key: str, body: bytes, correlation_id: str = "",
             answers: str = "") -> dict[str, str]:
        """The headers that prove `principal` sent `body` there."""
        key = self.signer(principal)
        signature = key.private_key.sign(signed_bytes(exchange, routing_key, correlation_id, answers, body))
        headers = {KID: key.kid, SIGNATURE: b64e(signature)}
        if answers:
            headers[ANSWERS] = answers
        return headers

    def signer_of(self, headers: dict[str, Any] | None, exchange: str, routing_key: str, body: bytes,
                  correlation_id: str = "") -> str:
        """The principal whose key signed this message, or BadSignature saying why none did."""
        headers = headers or {}
        kid, signature = headers.get(KID), headers.get(SIGNATURE)
        if not isinstance(kid, str) or not isinstance(signature, str):
            raise BadSignature("unsigned")
        key = self.public.get(kid)
        if key is None:
            raise BadSignature(f"signed with an unknown key ({kid[:40]})")
        answers = headers.get(ANSWERS, "")
        try:
            key.verify(b64d(signature), signed_bytes(exchange, routing_key, correlation_id, str(answers), body))
        except (InvalidSignature, ValueError):
            raise BadSignature(f"a signature by {principal_of_kid(kid)} that does not match the message") from None
        return principal_of_kid(kid)


@lru_cache(maxsize=4)
def _keys(signing_text: str, public_text: str) -> BusKeys:
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


def reply_problem(message: Any, users_prefix: str | None) -> str | None:
    """Why a reply must not be taken as the answer to our call, or None. `users_prefix`: what every broker
    user of this system begins with (None where all processes share one user, and nobody's can be told)."""
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
        signer = BusKeys.from_env().signer_of(headers, str(message.delivery_info.get("exchange", "")),
                                              str(message.delivery_info.get("routing_key", "")),
                                              raw_body(message), correlation_id)
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
