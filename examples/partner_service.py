"""A partner's service on the DMP's bus, written from the published contract alone.

The patient portal of a hospital (the fictional Hôpital Saint-Exemple) shows a logged-in patient where their
DMP stands, asking `dossier.status` with the patient's access token, and tells the ward when a document is
deposited in a dossier, from `document_added` events. It uses none of the DMP's code: the AsyncAPI document
the gateway serves (`/api/v1/asyncapi.json`) says where each method and event is, which arguments a method
takes and how every reply and event is signed; kombu speaks AMQP and cryptography checks Ed25519.

What the DMP's operators hand a partner when they admit it (docs/operations.md, "Admitting an external
service"):

- its AMQP URI, as `python -m services.common.broker_admin admit partner --events dossier:document_added`
  prints it: `amqp://<prefix>partner:<password>@<broker>:5672/<vhost>`;
- its name, `partner`, which its events queue carries: `partner.from-dossier`;
- the bus's public keys, `DMP_BUS_PUBLIC_KEYS`: comma-separated `<kid>:<base64url raw Ed25519 public key>`.

Run it with its secrets in the environment, not on the command line that other users can list:
PARTNER_AMQP_URI, DMP_BUS_PUBLIC_KEYS and, to ask where a patient's dossier stands, PATIENT_ACCESS_TOKEN:

    python examples/partner_service.py --gateway https://dmp.example --name partner \\
        --events dossier:document_added --ins "$INS"

It prints the dossier's status for that patient, then each event it can trust as it arrives; a message whose
signature does not hold is dropped, and the log says why. Only this file's own imports are needed:
`pip install kombu cryptography`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import time
import urllib.request
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.message import Message
from kombu.messaging import Consumer, Producer

log = logging.getLogger("partner")

# How messages are signed, as the contract's message traits signedEvent and signedReply say it.
PROTOCOL = "dmp-bus/1"
KID, SIGNATURE, ANSWERS = "x-dmp-kid", "x-dmp-signature", "x-dmp-answers"
CLIENTS = "clients"  # in x-dmp-callers: the methods an admitted external service may call
SEEN = 10_000  # event ids remembered: delivery is at least once, and a replay must not count twice


class ContractError(Exception):
    """The contract does not offer what this service needs, or says something it does not understand."""


class Untrusted(Exception):
    """A message not to act on: unsigned, signed by someone other than its sender, or changed since."""


class RemoteError(Exception):
    """The method answered with an error (a refusal, a bad argument): nameko's exc_type and value."""

    def __init__(self, exc_type: str, value: str) -> None:
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value


@dataclass(frozen=True)
class Method:
    """A method of the bus, as the contract places it."""

    name: str  # service.method
    exchange: str
    routing_key: str
    arguments: tuple[str, ...]  # in the order the method takes them

    @property
    def service(self) -> str:
        return self.name.partition(".")[0]


@dataclass(frozen=True)
class EventFeed:
    """Where one source's events of one type are published."""

    source: str
    exchange: str
    routing_key: str


class Contract:
    """The AsyncAPI 3.0 document of the bus."""

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("asyncapi") != "3.0.0":
            raise ContractError(
                f"an AsyncAPI {document.get('asyncapi')!r} document; this service reads 3.0.0"
            )
        self.document = document
        for trait, headers in (
            ("signedEvent", [KID, SIGNATURE]),
            ("signedReply", [ANSWERS, KID, SIGNATURE]),
        ):
            # refuse to start rather than verify what is no longer signed that way
            said = self.resolve(f"#/components/messageTraits/{trait}")
            required = said.get("headers", {}).get("required", [])
            if sorted(required) != headers or PROTOCOL not in str(said.get("description", "")):
                raise ContractError(
                    f"the contract's {trait} is not the {PROTOCOL} signature this service checks"
                )

    @classmethod
    def fetch(cls, gateway_url: str, timeout: float = 10.0) -> Contract:
        url = f"{gateway_url.rstrip('/')}/api/v1/asyncapi.json"
        if urlparse(url).scheme not in ("https", "http"):
            raise ContractError(f"not an HTTP URL: {url}")
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked just above)
            document: dict[str, Any] = json.load(response)
        return cls(document)

    def resolve(self, reference: str) -> dict[str, Any]:
        node: Any = self.document
        for step in reference.removeprefix("#/").split("/"):
            node = (
                node.get(step.replace("~1", "/").replace("~0", "~"))
                if isinstance(node, dict)
                else None
            )
        if not reference.startswith("#/") or not isinstance(node, dict):
            raise ContractError(f"the contract's reference {reference} leads nowhere")
        return node

    def method(self, name: str) -> Method:
        operation = self.document.get("operations", {}).get(name)
        if not isinstance(operation, dict) or "reply" not in operation:
            raise ContractError(f"the bus has no method {name}")
        if CLIENTS not in operation.get("x-dmp-callers", []):
            raise ContractError(
                f"{name} is not open to external services (callers: {operation.get('x-dmp-callers')})"
            )
        channel = self.resolve(operation["channel"]["$ref"])
        binding = channel["bindings"]["amqp"]
        if binding.get("is") != "routingKey":
            raise ContractError(f"{name} is not reached by a routing key")
        (request,) = channel["messages"].values()
        arguments = self.resolve(request["$ref"])["payload"]["properties"]["args"].get("items", [])
        return Method(
            name,
            binding["exchange"]["name"],
            channel["address"],
            tuple(argument["title"] for argument in arguments),
        )

    def events(self, source: str, event_type: str) -> EventFeed:
        operation = self.document.get("operations", {}).get(f"{source}.emits")
        if not isinstance(operation, dict) or operation.get("action") != "send":
            raise ContractError(f"{source} emits no events")
        channel = self.resolve(operation["channel"]["$ref"])
        (message,) = channel["messages"].values()
        types = self.resolve(
            self.resolve(message["$ref"])["payload"]["properties"]["type"]["$ref"]
        )["enum"]
        if event_type not in types:
            raise ContractError(f"no event type {event_type} on the bus")
        return EventFeed(
            source,
            channel["bindings"]["amqp"]["exchange"]["name"],
            channel["address"].replace("{type}", event_type),
        )


def public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """DMP_BUS_PUBLIC_KEYS: `<kid>:<base64url raw key>`, comma-separated."""
    keys = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, _, material = item.partition(":")
        keys[kid] = Ed25519PublicKey.from_public_bytes(unpadded_b64decode(material))
    if not keys:
        raise ValueError("no public key given: nothing on the bus could be trusted")
    return keys


def unpadded_b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Delivered:
    """A message as it arrived: its body, its headers, and where it came through (the signature covers them)."""

    exchange: str
    routing_key: str
    correlation_id: str
    headers: dict[str, Any]
    body: bytes

    @classmethod
    def of(cls, message: Message) -> Delivered:
        body = message.body
        return cls(
            str(message.delivery_info.get("exchange", "")),
            str(message.delivery_info.get("routing_key", "")),
            str(message.properties.get("correlation_id") or ""),
            dict(message.headers or {}),
            body if isinstance(body, bytes) else str(body).encode(),
        )


def signer(keys: dict[str, Ed25519PublicKey], message: Delivered) -> str:
    """The principal whose key signed exactly this message, there: Untrusted if none did."""
    kid, signature = message.headers.get(KID), message.headers.get(SIGNATURE)
    if not isinstance(kid, str) or not isinstance(signature, str):
        raise Untrusted("unsigned")
    key = keys.get(kid)
    if key is None:
        raise Untrusted(f"signed with a key the DMP did not publish ({kid[:40]})")
    answers = str(message.headers.get(ANSWERS, ""))
    signed = "\n".join(
        (PROTOCOL, message.exchange, message.routing_key, message.correlation_id, answers, "")
    )
    try:
        key.verify(unpadded_b64decode(signature), signed.encode() + message.body)
    except (InvalidSignature, ValueError, binascii.Error):
        raise Untrusted(
            f"a signature by {kid.partition('.')[0]} that does not match the message"
        ) from None
    return kid.partition(".")[0]  # the key's principal, never what the message claims


def trusted_event(keys: dict[str, Ed25519PublicKey], message: Delivered) -> dict[str, Any]:
    """The event, if its source signed it where it arrived and it says it is that source's, of that type."""
    source, dot, rest = message.exchange.partition(".")
    if not dot or rest != "events":
        raise Untrusted(f"not an event exchange: {message.exchange[:60]}")
    who = signer(keys, message)
    if who != source:
        raise Untrusted(f"an event of {source} signed by {who}")
    try:
        event = json.loads(message.body)
    except ValueError:
        raise Untrusted("an event that is not JSON") from None
    if (
        not isinstance(event, dict)
        or event.get("source") != source
        or event.get("type") != message.routing_key
    ):
        raise Untrusted(f"an event that does not say it is {source}'s {message.routing_key[:60]}")
    return event


def trusted_reply(
    keys: dict[str, Ed25519PublicKey], message: Delivered, method: Method, correlation_id: str
) -> Any:
    """The result, if the service called signed this answer to this call; RemoteError if it answered an error."""
    if message.correlation_id != correlation_id:
        raise Untrusted("a reply to another call")
    if message.headers.get(ANSWERS) != method.name:
        raise Untrusted(f"a reply that does not say it answers {method.name}")
    who = signer(keys, message)
    if who != method.service:
        raise Untrusted(f"a reply to a call of {method.service} signed by {who}")
    try:
        reply = json.loads(message.body)
    except ValueError:
        raise Untrusted("a reply that is not JSON") from None
    if not isinstance(reply, dict):
        raise Untrusted("a reply that is not a JSON object")
    error = reply.get("error")
    if error:
        raise RemoteError(str(error.get("exc_type")), str(error.get("value")))
    return reply.get("result")


class Partner:
    """This service on the bus: one connection as its own broker user, its reply queue and its event queues.
    One thread at a time."""

    def __init__(
        self,
        amqp_uri: str,
        name: str,
        contract: Contract,
        keys: dict[str, Ed25519PublicKey],
        timeout: float = 10.0,
    ) -> None:
        self.name, self.contract, self.keys, self.timeout = name, contract, keys, timeout
        self.user = unquote(
            urlparse(amqp_uri).username or ""
        )  # RabbitMQ refuses a user_id that is not it
        # with confirms, a publish the broker refuses raises at once instead of vanishing
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})  # type: ignore[no-untyped-call]
        self.reply_key = str(uuid.uuid4())
        self.replies: deque[Message] = deque()
        self.inbox: deque[Message] = deque()
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.reply_consumers: dict[str, Consumer] = {}
        self.event_consumers: list[Consumer] = []

    def __enter__(self) -> Partner:
        self.connection.connect()  # type: ignore[no-untyped-call]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.connection.release()  # type: ignore[no-untyped-call]

    def call(self, name: str, **arguments: Any) -> Any:
        """Call a public method of the bus with its arguments by name, and return its signed answer."""
        method = self.contract.method(name)
        unknown = set(arguments) - set(method.arguments)
        if unknown:
            raise TypeError(
                f"{name} takes no {', '.join(sorted(unknown))} (it takes {', '.join(method.arguments)})"
            )
        leading = []  # nameko's request: the leading arguments by position, any after a gap by name
        for argument in method.arguments:
            if argument not in arguments:
                break
            leading.append(argument)
        body = {
            "args": [arguments[argument] for argument in leading],
            "kwargs": {
                argument: value for argument, value in arguments.items() if argument not in leading
            },
        }
        self._listen_for_replies(method.exchange)
        correlation_id = str(uuid.uuid4())
        Producer(self.connection.default_channel).publish(  # type: ignore[no-untyped-call]
            json.dumps(body).encode(),
            exchange=method.exchange,
            routing_key=method.routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            reply_to=self.reply_key,
            correlation_id=correlation_id,
            user_id=self.user,
        )
        deadline = time.monotonic() + self.timeout
        while True:
            while self.replies:
                try:
                    return trusted_reply(
                        self.keys, Delivered.of(self.replies.popleft()), method, correlation_id
                    )
                except (
                    Untrusted
                ) as why:  # a stranger's reply must not stop us waiting for the real one
                    log.warning("dropped a reply: %s", why)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                self._drain(remaining)
            except TimeoutError:
                raise TimeoutError(f"{name} did not answer within {self.timeout:g} s") from None

    def subscribe(self, source: str, event_type: str) -> None:
        """Receive these events in this service's durable queue for the source, `<name>.from-<source>`."""
        feed = self.contract.events(source, event_type)
        exchange = Exchange(feed.exchange, type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]
        queue = Queue(
            f"{self.name}.from-{source}",
            exchange=exchange,  # type: ignore[no-untyped-call]
            routing_key=feed.routing_key,
            durable=True,
            auto_delete=False,
        )
        consumer = Consumer(
            self.connection.channel(),  # type: ignore[no-untyped-call]
            queues=[queue],
            on_message=self.inbox.append,
        )
        consumer.consume()  # type: ignore[no-untyped-call]
        self.event_consumers.append(consumer)

    def events(self, idle_timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Each trusted event once, until none came for `idle_timeout` seconds (None: for ever). A message is
        acknowledged once the loop's body has handled its event: one that was not is delivered again."""
        while True:
            if not self.inbox:
                try:
                    self._drain(idle_timeout)
                except TimeoutError:
                    return
                continue
            message = self.inbox.popleft()
            try:
                event = trusted_event(self.keys, Delivered.of(message))
            except Untrusted as why:
                log.warning("dropped an event: %s", why)
                message.reject(requeue=False)  # type: ignore[no-untyped-call]
                continue
            event_id = str(event.get("event_id", ""))
            if event_id not in self.seen:
                yield event
                self.seen[event_id] = None
                while len(self.seen) > SEEN:
                    self.seen.popitem(last=False)
            message.ack()  # type: ignore[no-untyped-call]

    def _listen_for_replies(self, exchange_name: str) -> None:
        if exchange_name in self.reply_consumers:
            return
        exchange = Exchange(exchange_name, type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]
        # named after this service's broker user, which alone may read it; gone with the connection
        queue = Queue(
            f"rpc.reply-{self.user}-{self.reply_key}",
            exchange=exchange,  # type: ignore[no-untyped-call]
            routing_key=self.reply_key,
            exclusive=True,
            auto_delete=True,
        )
        consumer = Consumer(
            self.connection.channel(),  # type: ignore[no-untyped-call]
            queues=[queue],
            no_ack=True,
            on_message=self.replies.append,
        )
        consumer.consume()  # type: ignore[no-untyped-call]
        self.reply_consumers[exchange_name] = consumer

    def _drain(self, timeout: float | None) -> None:
        self.connection.drain_events(timeout=timeout)  # type: ignore[no-untyped-call]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gateway", required=True, help="the DMP gateway's base URL")
    parser.add_argument("--name", required=True, help="the name this service was admitted under")
    parser.add_argument(
        "--events", nargs="*", default=[], metavar="SOURCE:TYPE", help="the events to follow"
    )
    parser.add_argument(
        "--ins",
        help="a patient's INS, to ask where their dossier stands (with their access "
        "token in PATIENT_ACCESS_TOKEN)",
    )
    args = parser.parse_args()
    uri = os.environ.get("PARTNER_AMQP_URI") or parser.error(
        "PARTNER_AMQP_URI is not set (what admit printed)"
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s partner %(levelname)s %(message)s")
    keys = public_keys(os.environ.get("DMP_BUS_PUBLIC_KEYS", ""))
    contract = Contract.fetch(args.gateway)
    token = os.environ.get("PATIENT_ACCESS_TOKEN", "")
    with Partner(uri, args.name, contract, keys) as partner:
        if args.ins and token:
            print(json.dumps(partner.call("dossier.status", token=token, ins=args.ins)), flush=True)
        for item in args.events:
            source, _, event_type = item.partition(":")
            partner.subscribe(source, event_type)
        if args.events:
            for event in partner.events():
                print(
                    json.dumps(event), flush=True
                )  # ids and codes only: events carry no personal data


if __name__ == "__main__":
    main()
