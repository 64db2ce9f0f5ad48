"""Malformed messages go to the service's dead-letter queue, with the reason, and the service keeps serving.

A message that cannot be a call or an event (not JSON, not the envelope, an unknown method, the wrong
number of arguments, an event that does not validate, too large) would fail the same way on every
delivery: requeued, it would loop forever; dropped, nobody would know. So it is republished, body and
headers untouched, to the durable queue `<service>.dead-letter` with `x-reason` (why),
`x-original-queue` and `x-original-routing-key`, and only then acknowledged (same channel: the broker
handles the publish before the ack). An RPC caller that asked for an answer also gets one (an error),
rather than waiting for its timeout.

Why republish rather than RabbitMQ's own dead-lettering (x-dead-letter-exchange): that is a queue
argument, and changing the arguments of an existing durable queue makes every redeclaration fail
(PRECONDITION_FAILED) in deployments that already have it; and the broker would not say why.

A call whose envelope is right but whose arguments are wrong (a payload missing a field, a string
where a number goes) is not malformed at this level: the service answers it with an error naming the
field (InvalidInput), like any bad request.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from kombu.entity import Exchange, Queue
from kombu.messaging import Producer
from nameko import config
from nameko.constants import AMQP_SSL_CONFIG_KEY
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound
from nameko.rpc import Responder, RpcConsumer, get_rpc_exchange
from pydantic import ValidationError
from pymongo.errors import PyMongoError

from services.common.clock import utcnow
from services.common.direct_events import publish_now
from services.common.draining import DrainingMessageConsumer, DrainingRpc, DrainingRpcConsumer
from services.common.errors import ConfigurationError, DmpError, ServiceUnavailable
from services.common.events import Event, EventType, Outcome
from services.common.principals import OPERATORS, Kind, Sender, SignedPublisher, allowed, kind_of
from services.common.rpc_client import BROKER_ERRORS, CONNECTION_ERRORS
from services.common.settings import Settings
from services.common.settings_provider import bus_keys_of, settings_of
from services.common.signatures import (
    KID,
    SEEN_REQUESTS,
    BadSignature,
    BusKeys,
    KeySource,
    raw_body,
)

log = logging.getLogger(__name__)

CALLERS = "__dmp_callers__"  # set on each RPC method by services/common/entrypoints.rpc
DEAD_LETTER_EXCHANGE = "dmp.malformed"
MAX_EVENT_BYTES = 64 * 1024  # an event carries ids and codes only


def max_rpc_bytes(settings: Settings) -> int:
    """The largest legitimate call is a deposit: the largest document in base64, and room around it."""
    return settings.max_document_bytes * 4 // 3 + 1024 * 1024


def dead_letter_queue(service: str) -> Queue:
    """`<service>.dead-letter`, bound to the dead-letter exchange under the service's name (declared by the
    set-up, services/common/bus.py)."""
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]
    return Queue(  # type: ignore[no-untyped-call]
        f"{service}.dead-letter",
        exchange=exchange,
        routing_key=service,
        durable=True,
        auto_delete=False,
    )


def dead_letter(message: Any, service: str, queue: str, reason: str) -> None:
    """Move `message` to the service's dead-letter queue with the reason, then acknowledge it."""
    channel = message.channel
    # The queue and its binding are the set-up's (services/common/bus.py): declaring them here, on the
    # consumer's own channel inside its delivery callback, waited for the broker while more deliveries
    # arrived on that connection, and hung the consumer after a few letters.
    target = dead_letter_queue(service)
    headers = {
        **(message.headers or {}),
        "x-reason": reason[:1000],
        "x-original-queue": queue,
        "x-original-routing-key": str(message.delivery_info.get("routing_key", "")),
    }
    # Through the dead-letter exchange under the service's own key: nobody may publish to the default
    # exchange, which reaches any queue by its name (services/common/bus.py).
    Producer(channel).publish(  # type: ignore[no-untyped-call]
        message.body,
        exchange=target.exchange,
        routing_key=service,
        headers=headers,
        delivery_mode=2,
        content_type=message.content_type or "application/octet-stream",
        content_encoding=message.content_encoding or "binary",
    )
    message.ack()
    log.error("dead-lettered a message from %s: %s", queue, reason[:200])


def _size(message: Any) -> int:
    body = message.body
    return len(body) if isinstance(body, bytes | str) else 0


@dataclass(frozen=True)
class Refusal:
    reason: str
    rule: str | None = (
        None  # set when the message is a forgery, not a mistake: it is traced under this rule
    )
    # False for a copy of a call taken already: the caller's answer is the genuine call's, and a refusal
    # sent under the same correlation id could reach it first (a publisher's retry failed the call)
    answered: bool = True


def event_problem(body: Any, message: Any, sender: Sender, keys: BusKeys) -> Refusal | None:
    """Why a consumed message cannot be an event of its source, or None; `keys`: this process's."""
    if _size(message) > MAX_EVENT_BYTES:
        return Refusal(
            f"payload too large: {_size(message)} bytes (events carry ids only, at most {MAX_EVENT_BYTES})"
        )
    try:
        event = Event.model_validate(body)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()[:10]
        )
        return Refusal(f"not a valid event: {problems}")
    exchange = str(message.delivery_info.get("exchange", ""))
    routing_key = str(message.delivery_info.get("routing_key", ""))
    if exchange != f"{event.source}.events" or routing_key != event.type.value:
        return Refusal(
            f"an event {event.source}/{event.type.value} that came through "
            f"{exchange or 'the default exchange'} as {routing_key[:60]}"
        )
    publisher = sender.of(message)
    if not sender.shared and publisher != event.source:
        return Refusal(
            f"an event of {event.source} published by {publisher or 'an unknown sender'}",
            "R-BUS-SENDER",
        )
    try:
        signer = keys.signer_of(message.headers, exchange, routing_key, raw_body(message))
    except BadSignature as error:
        return Refusal(f"an event of {event.source}: {error}", "R-BUS-SIGNATURE")
    if signer != event.source:
        return Refusal(f"an event of {event.source} signed by {signer}", "R-BUS-SIGNATURE")
    return None


def request_problem(
    message: Any, caller: str | None, shared: bool, keys: BusKeys, now_ms: int | None = None
) -> Refusal | None:
    """Why a call must not be taken as `caller`'s (its broker user's principal; None where every process
    shares one user), or None; `keys`: this process's. Services and the gateway sign every call they make,
    as a credential of that one call (signatures.py); operators and external services may, their broker
    user being their proof."""
    headers = message.headers or {}
    properties, delivery = message.properties, message.delivery_info
    correlation_id = str(properties.get("correlation_id") or "")
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if KID not in headers:
        if shared or caller is None or not correlation_id:
            return None  # a call without an id has no answer either: nothing tells its copies apart
        if kind_of(caller) in (Kind.SERVICE, Kind.GATEWAY):
            return Refusal(f"an unsigned call from {caller}", "R-BUS-SIGNATURE")
        # Taken once too, by its broker user and call id (a publisher's retry after a lost confirm sends a
        # copy): the copy of an operator's purge, say, is not run twice.
        copy = SEEN_REQUESTS.problem(
            caller, correlation_id, now_ms, now_ms, bool(delivery.get("redelivered"))
        )
        return Refusal(copy.reason, "R-BUS-REPLAY", answered=False) if copy else None
    try:
        signer, sent_ms = keys.requester_of(
            headers,
            str(delivery.get("exchange", "")),
            str(delivery.get("routing_key", "")),
            correlation_id,
            str(properties.get("reply_to") or ""),
            raw_body(message),
        )
    except BadSignature as error:
        return Refusal(f"a call: {error}", "R-BUS-SIGNATURE")
    if not shared and signer != caller:
        return Refusal(
            f"a call from {caller or 'an unknown sender'} signed by {signer}", "R-BUS-SIGNATURE"
        )
    stale = SEEN_REQUESTS.problem(
        signer, correlation_id, sent_ms, now_ms, bool(delivery.get("redelivered"))
    )
    return Refusal(stale.reason, "R-BUS-REPLAY", answered=not stale.copy) if stale else None


def trace_forgery(
    service: str, queue: str, message: Any, refusal: Refusal, settings: Settings
) -> None:
    """Trace a forged message (ids and reasons only). A refused `access_denied` is not traced again: a key
    missing from a verifier would otherwise turn each trace of a refusal into another refusal, for ever."""
    if (
        refusal.rule is None
        or message.delivery_info.get("routing_key") == EventType.ACCESS_DENIED.value
    ):
        return
    publish_now(
        Event.of(
            EventType.ACCESS_DENIED,
            service,
            utcnow(),
            None,
            outcome=Outcome.DENIED,
            rule=refusal.rule,
            data={"queue": queue, "reason": refusal.reason[:200]},
        ),
        settings.amqp_uri,
        settings.bus_keys(),
    )


class GuardedConsume(DrainingMessageConsumer):
    """`consume`, with undecodable and invalid events, and events not published and signed by their source,
    dead-lettered instead of requeued forever; forgeries are traced too."""

    def setup(self) -> None:
        super().setup()
        queue, service = self.queue.name, self.container.service_name
        self.sender = Sender.for_service(service)
        settings_of(self.container).bus_keys()  # refuse to start without the keys to verify with

        def undecodable(message: Any, error: Exception) -> None:
            dead_letter(
                message, service, queue, f"undecodable body: {type(error).__name__}: {error}"[:500]
            )

        self.consumer.consumer_options["on_decode_error"] = undecodable

    def handle_message(self, body: Any, message: Any) -> None:
        settings = settings_of(self.container)
        refusal = event_problem(body, message, self.sender, settings.bus_keys())
        if refusal:
            service, queue = self.container.service_name, self.queue.name
            dead_letter(message, service, queue, refusal.reason)
            self.consumer.settled(message)
            trace_forgery(service, queue, message, refusal, settings)
            return
        super().handle_message(body, message)


def rpc_problem(body: Any, message: Any, consumer: RpcConsumer) -> tuple[str, Exception] | None:
    """Why a message on an RPC queue cannot be a call of this service, with the error to answer."""
    if _size(message) > max_rpc_bytes(settings_of(consumer.container)):
        return f"payload too large: {_size(message)} bytes", MalformedRequest("payload too large")
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("args"), list | tuple)
        or not isinstance(body.get("kwargs"), dict)
    ):
        return (
            "not an RPC call: the body must be an object with `args` (a list) and `kwargs` (an object)",
            MalformedRequest("Message missing `args` or `kwargs`"),
        )
    try:
        provider = consumer.get_provider_for_method(message.delivery_info.get("routing_key"))
        provider.check_signature(body["args"], body["kwargs"])
    except (MethodNotFound, IncorrectSignature) as error:
        return f"{type(error).__name__}: {error}", error
    return None


class SignedResponder(Responder):  # type: ignore[misc]
    """nameko's reply, naming the answering service's broker user (services/common/principals.py) and signed
    by the service for the call it answers (services/common/signatures.py)."""

    def __init__(self, service: str, amqp_uri: str, message: Any, keys: KeySource) -> None:
        super().__init__(amqp_uri, get_rpc_exchange(), message, ssl=config.get(AMQP_SSL_CONFIG_KEY))
        answers = str(message.delivery_info.get("routing_key", ""))
        self.publisher_cls = partial(SignedPublisher, principal=service, answers=answers, keys=keys)


class GuardedRpcConsumer(DrainingRpcConsumer):
    def setup(self) -> None:
        super().setup()
        service = self.container.service_name
        self.sender = Sender.for_service(service)
        settings = settings_of(self.container)
        settings.bus_keys().signer(service)  # refuse to start unable to sign its answers
        if self.sender.shared and not settings.dev_login:
            raise ConfigurationError(
                f"{service} connects as {self.sender.own_user}, a user shared by every process: outside "
                f"development each process connects as its own broker user (services/common/bus.py)"
            )

        def undecodable(message: Any, error: Exception) -> None:
            self._answer(message, MalformedRequest("the request could not be decoded"))
            dead_letter(
                message,
                service,
                self.queue.name,
                f"undecodable body: {type(error).__name__}: {error}"[:500],
            )

        self.consumer.consumer_options["on_decode_error"] = undecodable

    def handle_message(self, body: Any, message: Any) -> None:
        problem = rpc_problem(body, message, self)
        if problem:
            reason, error = problem
            self._answer(message, error)
            dead_letter(message, self.container.service_name, self.queue.name, reason)
            self.consumer.settled(message)
            return
        super().handle_message(body, message)

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        responder = SignedResponder(
            self.container.service_name, self.amqp_uri, message, bus_keys_of(self.container)
        )
        result, exc_info = responder.send_response(result, exc_info)
        self.consumer.ack_message(message)
        return result, exc_info

    def refuse(
        self, message: Any, method: str, caller: str | None, refusal: Refusal | None = None
    ) -> None:
        """A call from someone its method does not name, or not proved to be theirs: answered as if the method
        did not exist, acknowledged, and traced (the broker's permissions should have stopped the first:
        this is the second lock)."""
        if refusal is None or refusal.answered:
            self._answer(message, MethodNotFound(method))
        self.consumer.ack_message(message)
        self.consumer.settled(message)
        service = self.container.service_name
        reason = refusal.reason if refusal else "not among the method's callers"
        log.error(
            "refused a call of %s.%s from %s: %s",
            service,
            method,
            caller or "an unknown sender",
            reason,
        )
        data = {"method": f"{service}.{method}", "caller": caller or "unknown"}
        if refusal:
            data["reason"] = refusal.reason[:200]
        settings = settings_of(self.container)
        publish_now(
            Event.of(
                EventType.ACCESS_DENIED,
                service,
                utcnow(),
                None,
                outcome=Outcome.DENIED,
                rule=(refusal.rule if refusal else None) or "R-BUS-CALLER",
                data=data,
            ),
            settings.amqp_uri,
            settings.bus_keys(),
        )

    def _answer(self, message: Any, error: Exception) -> None:
        """Tell a waiting caller at once (an error), when the message says where to answer."""
        if not message.properties.get("reply_to"):
            return
        try:
            raise error
        except Exception:
            exc_info = sys.exc_info()
        try:
            SignedResponder(
                self.container.service_name, self.amqp_uri, message, bus_keys_of(self.container)
            ).send_response(None, exc_info)
        except Exception:  # the caller may be gone; the dead letter is what matters
            log.warning("could not answer a malformed call", exc_info=True)


# What a method may meet that is an outage, not a bug: nothing was done, the caller may retry. The broker's
# errors reach a method through its calls to other services (found by the fault test: a deposit answered
# 500 during the broker outage). A bare OSError is not here: it may be anything (a mail server, a file).
OUTAGES: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((PyMongoError,), "the record store"),
    (BROKER_ERRORS, "the message broker"),
)


def as_outage(exc_info: Any) -> Any:
    """The error to answer: ServiceUnavailable for an outage, the error itself otherwise."""
    for errors, what in OUTAGES:
        if isinstance(exc_info[1], errors):
            unavailable = ServiceUnavailable(f"{what} is briefly unavailable; retry shortly")
            return (ServiceUnavailable, unavailable, exc_info[2])
    return exc_info


def told_of_refusal(service: Any, exc_info: Any) -> Any:
    """A service that defines `refused(error)` is told of each error it answers on purpose before the
    answer leaves (dossier traces every refused attempt). If telling it fails (the trace cannot be
    stored), that failure is what is answered."""
    refused = getattr(service, "refused", None)
    if not isinstance(exc_info[1], DmpError) or not callable(refused):
        return exc_info
    try:
        refused(exc_info[1])
    except Exception:
        return sys.exc_info()
    return exc_info


class GuardedRpc(DrainingRpc):
    """nameko's RPC entrypoint on a guarded queue. Also: a store or broker outage that escapes a method (a
    connection reset while the Mongo server restarts, a call to another service while RabbitMQ is away)
    answers ServiceUnavailable, which the gateway turns into 503 + Retry-After, not an unexpected error
    (a 500). Found by the fault test."""

    rpc_consumer = GuardedRpcConsumer()

    def handle_message(self, body: Any, message: Any) -> None:
        """Only the callers the method names (`@rpc(callers=...)`), by the broker-validated user id, and by
        their signature when they sign (services and the gateway always do)."""
        sender: Sender = self.rpc_consumer.sender
        caller = None if sender.shared else sender.of(message)
        method = getattr(self.container.service_cls, self.method_name)
        callers: frozenset[str] = getattr(method, CALLERS, frozenset())
        if not sender.shared and (caller is None or not allowed(caller, callers)):
            self.rpc_consumer.refuse(message, self.method_name, caller)
            return
        refusal = request_problem(
            message, caller, sender.shared, settings_of(self.container).bus_keys()
        )
        if refusal is not None:
            self.rpc_consumer.refuse(message, self.method_name, caller, refusal)
            return
        if caller is not None and OPERATORS in callers and kind_of(caller) is Kind.OPERATOR:
            self.trace_operator(caller)
        super().handle_message(body, message)

    def trace_operator(self, operator: str) -> None:
        """What an operator does is traced, by name (`operator-<name>`), in the system chain: the methods
        reserved to operators (purges, key rotation, verification, fees...), not what anyone may call."""
        service, settings = self.container.service_name, settings_of(self.container)
        publish_now(
            Event.of(
                EventType.OPERATOR_COMMAND,
                service,
                utcnow(),
                None,
                data={"operator": operator, "method": f"{service}.{self.method_name}"},
            ),
            settings.amqp_uri,
            settings.bus_keys(),
        )

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        if exc_info is not None:
            exc_info = as_outage(told_of_refusal(worker_ctx.service, exc_info))
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except CONNECTION_ERRORS as error:
            # The broker went away before the answer could be sent. Raising here would kill the whole
            # service (nameko stops a container whose worker thread dies), as the fault test found. The
            # request stays unacknowledged, so the broker redelivers it once it is back; the caller
            # times out and retries (a deposit with its Idempotency-Key stores nothing twice).
            log.warning(
                "could not answer %s: the broker is unreachable (%s)",
                worker_ctx.call_id,
                type(error).__name__,
            )
            return result, exc_info
