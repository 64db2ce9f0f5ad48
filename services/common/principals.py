"""Who sent a message: the broker user RabbitMQ authenticated, named on every message we publish.

Every process connects as a broker user of its own (services/common/bus.py). Our publishers set the
`user_id` property of each message to that user, and RabbitMQ refuses a message whose `user_id` is not
the user of the connection that publishes it ("validated user id"): so a consumer knows, from the
broker's own check, which principal sent each call, reply and event, and decides from that. A message
without `user_id` comes from a publisher that is not ours, and is treated as from nobody.

Users are `<prefix><principal>`: the prefix keeps the users of several systems on one broker apart
(tests); a process learns it from its own user, which ends with its own principal's name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlparse

from nameko import config
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI

from services.common.signatures import OUTSTANDING, KeySource, encoded

SERVICES = ("identity", "consent", "dossier", "notify", "audit")
CLIENTS = "clients"  # the gateway and the admitted external services, calling with a user's token
OPERATORS = "operators"  # the operators' commands and scheduled jobs
EVERYONE = "everyone"  # every principal of the bus
GROUPS = frozenset({CLIENTS, OPERATORS, EVERYONE})


class Kind(StrEnum):
    SERVICE = "service"
    GATEWAY = "gateway"
    OPERATOR = "operator"
    CLIENT = (
        "client"  # an external service admitted to call the public RPCs and receive some events
    )


def kind_of(name: str) -> Kind:
    if name in SERVICES:
        return Kind.SERVICE
    if name == "gateway":
        return Kind.GATEWAY
    if name == "operator" or name.startswith("operator-"):
        return Kind.OPERATOR
    return Kind.CLIENT  # group names included: they never name a group (see `allowed`)


def allowed(caller: str, callers: frozenset[str]) -> bool:
    """Whether the principal named `caller` is among `callers` (names, or the groups above)."""
    groups = {EVERYONE} | (
        {caller} if caller not in GROUPS else set()
    )  # a principal named "operators" is no group
    kind = kind_of(caller)
    if kind in (Kind.GATEWAY, Kind.CLIENT):
        groups.add(CLIENTS)
    if kind is Kind.OPERATOR:
        groups.add(OPERATORS)
    return bool(groups & callers)


def vhost_of(amqp_uri: str) -> str:
    path = urlparse(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def user_prefix(amqp_uri: str) -> str:
    """Broker users are global: those of a vhost other than the default carry its name."""
    vhost = vhost_of(amqp_uri)
    return "dmp-" if vhost == "/" else f"{vhost}-"


def username_of(amqp_uri: str) -> str:
    return unquote(urlparse(amqp_uri).username or "guest")


def caller_of(user_id: object, own_user: str, own_name: str) -> str | None:
    """The principal that published a message, by its validated user id; None for a user of another system
    or a message without one."""
    if not isinstance(user_id, str) or not user_id or shared_user(own_user, own_name):
        return None
    prefix = own_user[: len(own_user) - len(own_name)]
    return (
        user_id[len(prefix) :]
        if user_id.startswith(prefix) and len(user_id) > len(prefix)
        else None
    )


def users_prefix_of(amqp_uri: str) -> str | None:
    """What the broker users of this system begin with, for a process connecting with `amqp_uri`; None when
    its user is not one of them (a user shared by every process: the in-process tests, a development set-up)."""
    prefix = user_prefix(amqp_uri)
    return prefix if username_of(amqp_uri).startswith(prefix) else None


def principal_of_uri(amqp_uri: str) -> str | None:
    """The principal a process connecting with `amqp_uri` is, by its broker user; None for a shared user."""
    prefix = users_prefix_of(amqp_uri)
    return None if prefix is None else username_of(amqp_uri)[len(prefix) :] or None


def shared_user(own_user: str, own_name: str) -> bool:
    """A process whose user is not `<prefix><own name>` shares one broker user with every other (the
    in-process tests, a development set-up): nobody's identity can be told from the bus there."""
    return not own_user.endswith(own_name)


@dataclass(frozen=True)
class Sender:
    """Tells who published each message a process receives."""

    own_user: str
    own_name: str

    @classmethod
    def for_service(cls, name: str) -> Sender:
        return cls(username_of(config.get(AMQP_URI_CONFIG_KEY, DEFAULT_AMQP_URI)), name)

    @property
    def shared(self) -> bool:
        return shared_user(self.own_user, self.own_name)

    def of(self, message: Any) -> str | None:
        return caller_of(message.properties.get("user_id"), self.own_user, self.own_name)


class NamedPublisher(Publisher):  # type: ignore[misc]
    """nameko's publisher, naming its broker user on every message (validated by RabbitMQ). A call that
    asks for a reply is remembered, so that only its service's signed answer is taken, and is signed as
    `principal`'s credential for that call when this process holds the principal's key (signatures.py).
    `keys`: the process's, asked at each message (services/common/signatures.py KeySource)."""

    def __init__(
        self, amqp_uri: str, principal: str | None = None, *, keys: KeySource, **options: Any
    ) -> None:
        super().__init__(amqp_uri, **options)
        self.principal = principal
        self.keys = keys

    def publish(self, payload: Any, **kwargs: Any) -> None:
        kwargs.setdefault("user_id", username_of(self.amqp_uri))
        correlation_id = kwargs.get("correlation_id")
        reply_to = kwargs.get("reply_to") or self.publish_kwargs.get("reply_to")
        if correlation_id and reply_to:
            routing_key = str(kwargs.get("routing_key", ""))
            OUTSTANDING.record(correlation_id, routing_key)
            keys = self.keys() if self.principal else None
            if keys is not None and self.principal in keys.signing:
                content_type, encoding, payload = encoded(
                    payload, kwargs.pop("serializer", self.serializer)
                )
                kwargs.update(content_type=content_type, content_encoding=encoding)
                headers = keys.sign_request(
                    self.principal,
                    self._exchange_name(kwargs),
                    routing_key,
                    correlation_id,
                    str(reply_to),
                    payload,
                    time.time_ns() // 1_000_000,
                )
                kwargs["extra_headers"] = {**kwargs.get("extra_headers", {}), **headers}
        super().publish(payload, **kwargs)

    def _exchange_name(self, kwargs: dict[str, Any]) -> str:
        exchange = kwargs.get("exchange", self.publish_kwargs.get("exchange"))
        return str(getattr(exchange, "name", exchange) or "")


class SignedPublisher(NamedPublisher):
    """Publishes events or replies signed as `principal` (services/common/signatures.py); a reply says which
    call it `answers`."""

    def __init__(
        self, amqp_uri: str, principal: str, answers: str = "", *, keys: KeySource, **options: Any
    ) -> None:
        super().__init__(amqp_uri, principal, keys=keys, **options)
        self.answers = answers

    def publish(self, payload: Any, **kwargs: Any) -> None:
        content_type, encoding, body = encoded(payload, kwargs.pop("serializer", self.serializer))
        headers = self.keys().sign(
            str(self.principal),
            self._exchange_name(kwargs),
            str(kwargs.get("routing_key", "")),
            body,
            str(kwargs.get("correlation_id") or ""),
            self.answers,
        )
        kwargs["extra_headers"] = {**kwargs.get("extra_headers", {}), **headers}
        super().publish(body, content_type=content_type, content_encoding=encoding, **kwargs)
