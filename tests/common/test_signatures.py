"""Signed messages (services/common/signatures.py), without a broker: what verifies, and everything that
must not. The same checks on the real broker, against forged events and replies: tests/security/test_bus.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from nameko.amqp.publish import Publisher

from services.common import deadletters
from services.common.clock import utcnow
from services.common.deadletters import Refusal, event_problem, request_problem
from services.common.devsecrets import bus_keys
from services.common.events import Event, EventType
from services.common.principals import Sender, SignedPublisher, principal_of_uri
from services.common.settings import Settings
from services.common.settings_provider import SETTINGS_ATTRIBUTE, bus_keys_of
from services.common.signatures import (
    KID,
    OUTSTANDING,
    PUBLIC_KEYS,
    REQUEST_SECONDS,
    SENT,
    SIGNING_KEY,
    BadSignature,
    BusKeys,
    Outstanding,
    SeenRequests,
    reply_problem,
    signing_variable,
)

PREFIX = "dmp-"


@dataclass
class Message:
    """What kombu hands a consumer: the raw body, headers, delivery info and properties."""

    body: bytes
    headers: dict[str, Any]
    delivery_info: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = bus_keys(("dossier", "consent", "notify"))
    monkeypatch.setenv(PUBLIC_KEYS, values[PUBLIC_KEYS])
    monkeypatch.setenv(
        SIGNING_KEY, ",".join(values[signing_variable(n)] for n in ("dossier", "consent", "notify"))
    )
    yield values


def own() -> BusKeys:
    """This process's keys, as it would load them now: after each change of the environment below, the
    process started again."""
    return Settings.load().bus_keys()


def event_message(signer: str, event: Event | None = None, **changes: Any) -> Message:
    event = event or Event.of(
        EventType.DOCUMENT_ADDED, "dossier", utcnow(), None, document_id="doc_1"
    )
    body = json.dumps(event.model_dump(mode="json")).encode()
    exchange, routing_key = f"{event.source}.events", event.type.value
    headers = own().sign(signer, exchange, routing_key, body)
    message = Message(
        body,
        headers,
        {"exchange": exchange, "routing_key": routing_key},
        {"user_id": f"{PREFIX}{event.source}"},
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def problem(message: Message) -> str | None:
    refusal = event_problem(
        json.loads(message.body), message, Sender(f"{PREFIX}audit", "audit"), own()
    )
    return None if refusal is None else refusal.reason


def test_an_event_signed_by_its_source_is_taken(keys: dict[str, str]) -> None:
    assert problem(event_message("dossier")) is None


def test_an_event_unsigned_or_signed_by_another_principal_is_refused_as_a_forgery(
    keys: dict[str, str],
) -> None:
    unsigned = event_message("dossier", headers={})
    assert problem(unsigned) == "an event of dossier: unsigned"
    assert problem(event_message("notify")) == "an event of dossier signed by notify"
    refusal = event_problem(
        json.loads(unsigned.body), unsigned, Sender(f"{PREFIX}audit", "audit"), own()
    )
    assert refusal is not None and refusal.rule == "R-BUS-SIGNATURE"


def test_a_signed_event_changed_in_any_way_no_longer_verifies(keys: dict[str, str]) -> None:
    genuine = event_message("dossier")
    tampered = genuine.body.replace(b"doc_1", b"doc_2")
    assert "does not match" in str(problem(event_message("dossier", body=tampered)))
    # the same bytes and signature under another type: refused before the signature is even looked at
    moved = event_message(
        "dossier", delivery_info={"exchange": "dossier.events", "routing_key": "dossier_purged"}
    )
    assert "came through" in str(problem(moved))


def test_a_key_nobody_published_signs_nothing(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = bus_keys(("dossier",))  # a dossier key of someone else's making
    monkeypatch.setenv(SIGNING_KEY, stranger[signing_variable("dossier")])
    message = event_message("dossier")
    monkeypatch.setenv(SIGNING_KEY, keys[signing_variable("dossier")])
    assert "unknown key" in str(problem(message))


def test_rotation_verifies_the_old_and_the_new_key_until_the_old_is_withdrawn(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    new = bus_keys(("dossier",))
    old_signed = event_message("dossier")
    monkeypatch.setenv(PUBLIC_KEYS, f"{keys[PUBLIC_KEYS]},{new[PUBLIC_KEYS]}")
    monkeypatch.setenv(SIGNING_KEY, new[signing_variable("dossier")])
    new_signed = event_message("dossier")
    assert problem(old_signed) is None and problem(new_signed) is None
    monkeypatch.setenv(PUBLIC_KEYS, new[PUBLIC_KEYS])
    assert problem(new_signed) is None and "unknown key" in str(problem(old_signed))


def test_a_process_without_the_key_of_a_principal_cannot_sign_as_it(keys: dict[str, str]) -> None:
    from services.common.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="DMP_BUS_SIGNING_KEY holds no key of audit"):
        own().sign("audit", "audit.events", "document_read", b"{}")


def reply(
    signer: str, correlation_id: str, answers: str, user: str, body: bytes = b'{"result": true}'
) -> Message:
    exchange, routing_key = "nameko-rpc", "reply-queue-key"
    headers = own().sign(signer, exchange, routing_key, body, correlation_id, answers)
    return Message(
        body,
        headers,
        {"exchange": exchange, "routing_key": routing_key},
        {"correlation_id": correlation_id, "user_id": f"{PREFIX}{user}"},
    )


def test_only_the_called_services_signed_answer_to_the_call_made_is_taken(
    keys: dict[str, str],
) -> None:
    OUTSTANDING.record("c-1", "consent.grant")
    assert "published by dmp-notify" in str(
        reply_problem(reply("consent", "c-1", "consent.grant", "notify"), PREFIX, own())
    )
    assert "signed by notify" in str(
        reply_problem(reply("notify", "c-1", "consent.grant", "consent"), PREFIX, own())
    )
    other_call = reply("consent", "c-1", "consent.record_consent", "consent")
    assert "does not say it answers consent.grant" in str(reply_problem(other_call, PREFIX, own()))
    forged_body = reply("consent", "c-1", "consent.grant", "consent")
    forged_body.body = b'{"result": {"allowed": true}}'
    assert "does not match" in str(reply_problem(forged_body, PREFIX, own()))
    unsigned = reply("consent", "c-1", "consent.grant", "consent")
    unsigned.headers = {"x-dmp-answers": "consent.grant"}
    assert "unsigned" in str(reply_problem(unsigned, PREFIX, own()))
    # none of the forgeries used the call up: the genuine answer is still taken, once
    assert reply_problem(reply("consent", "c-1", "consent.grant", "consent"), PREFIX, own()) is None
    replayed = reply("consent", "c-1", "consent.grant", "consent")
    assert reply_problem(replayed, PREFIX, own()) == "a reply to no call this process is waiting on"


def test_where_every_process_shares_one_broker_user_the_signature_still_decides(
    keys: dict[str, str],
) -> None:
    OUTSTANDING.record("c-2", "dossier.status")
    assert "signed by notify" in str(
        reply_problem(reply("notify", "c-2", "dossier.status", "guest"), None, own())
    )
    assert reply_problem(reply("dossier", "c-2", "dossier.status", "guest"), None, own()) is None


def test_calls_that_never_got_an_answer_are_forgotten_in_time() -> None:
    calls = Outstanding(capacity=3)
    for n in range(5):
        calls.record(f"c{n}", "dossier.status")
    assert (
        calls.called("c0") is None
        and calls.called("c1") is None
        and calls.called("c4") == "dossier.status"
    )


def test_an_unsigned_message_names_why(keys: dict[str, str]) -> None:
    with pytest.raises(BadSignature, match="unsigned"):
        own().signer_of({}, "dossier.events", "document_added", b"{}")


# Requests: a service's call is signed as a credential of that one call (services/common/deadletters.py
# request_problem); the same on the real broker: tests/security/test_bus.py.

NOW_MS = 1_796_000_000_000


def request_message(
    signer: str, caller: str | None = None, sent_ms: int = NOW_MS, **changes: Any
) -> Message:
    body = json.dumps({"args": ["pat_1"], "kwargs": {}}).encode()
    correlation_id, reply_to = f"cid-{uuid.uuid4()}", "1c2e7a3e-0d1f-4e55-9a64-3b6f2a1d9c00"
    headers = own().sign_request(
        signer, "nameko-rpc", "identity.contact_of", correlation_id, reply_to, body, sent_ms
    )
    message = Message(
        body,
        headers,
        {"exchange": "nameko-rpc", "routing_key": "identity.contact_of"},
        {
            "user_id": f"{PREFIX}{caller or signer}",
            "correlation_id": correlation_id,
            "reply_to": reply_to,
        },
    )
    for name, value in changes.items():
        setattr(message, name, value)
    return message


@dataclass
class Callee:
    """A service taking calls, with its own clock in epoch ms (the signing time is the caller's)."""

    now: int = NOW_MS

    def check(self, message: Message, caller: str | None, shared: bool = False) -> Refusal | None:
        return request_problem(message, caller, shared, own(), self.now)


@pytest.fixture
def callee(monkeypatch: pytest.MonkeyPatch) -> Callee:
    monkeypatch.setattr(deadletters, "SEEN_REQUESTS", SeenRequests())  # one that saw nothing yet
    return Callee()


def test_a_call_signed_by_its_caller_is_taken_once(keys: dict[str, str], callee: Callee) -> None:
    message = request_message("notify")
    assert callee.check(message, "notify") is None
    replay = callee.check(message, "notify")
    assert replay is not None and replay.rule == "R-BUS-REPLAY" and "replay" in replay.reason
    assert not replay.answered  # the genuine call's answer is the caller's, not this refusal
    # the broker redelivering it (its consumer lost the connection before acknowledging) is not a replay
    redelivered = replace_info(message, redelivered=True)
    assert callee.check(redelivered, "notify") is None


def replace_info(message: Message, **info: Any) -> Message:
    return Message(
        message.body, message.headers, {**message.delivery_info, **info}, message.properties
    )


def test_a_service_call_unsigned_or_signed_by_someone_else_is_refused(
    keys: dict[str, str], callee: Callee
) -> None:
    unsigned = request_message("notify", headers={})
    refusal = callee.check(unsigned, "notify")
    assert (
        refusal is not None
        and refusal.rule == "R-BUS-SIGNATURE"
        and "unsigned call from notify" in refusal.reason
    )
    # notify's broker password, dossier's key: the two must name the same principal
    borrowed = callee.check(request_message("dossier", caller="notify"), "notify")
    assert borrowed is not None and borrowed.reason == "a call from notify signed by dossier"


def test_operators_and_external_services_may_call_unsigned_their_broker_user_being_their_proof(
    keys: dict[str, str], callee: Callee
) -> None:
    assert callee.check(request_message("notify", headers={}), "operator-alice") is None
    assert callee.check(request_message("notify", headers={}), "partner") is None


def test_an_unsigned_call_is_taken_once_too(keys: dict[str, str], callee: Callee) -> None:
    """A publisher's retry sends a copy of an operator's call under the same id: it is not run twice, nor
    answered (the genuine call's answer is the operator's); the broker's redelivery is not a copy."""
    purge = request_message("notify", headers={})
    assert callee.check(purge, "operator-alice") is None
    copy = callee.check(purge, "operator-alice")
    assert copy is not None and copy.rule == "R-BUS-REPLAY" and not copy.answered
    assert callee.check(replace_info(purge, redelivered=True), "operator-alice") is None
    assert callee.check(purge, "partner") is None  # another broker user's call id is its own


def test_a_signed_call_changed_in_any_way_no_longer_verifies(
    keys: dict[str, str], callee: Callee
) -> None:
    genuine = request_message("notify")
    changed = [
        Message(
            genuine.body.replace(b"pat_1", b"pat_2"),
            genuine.headers,
            genuine.delivery_info,
            genuine.properties,
        ),
        replace_info(
            genuine, routing_key="identity.set_status"
        ),  # the same credential for another method
        Message(
            genuine.body,
            genuine.headers,
            genuine.delivery_info,
            {**genuine.properties, "reply_to": "elsewhere"},
        ),
        Message(
            genuine.body,
            genuine.headers,
            genuine.delivery_info,
            {**genuine.properties, "correlation_id": "cid-other"},
        ),
        Message(
            genuine.body,
            {**genuine.headers, SENT: str(NOW_MS + 1)},
            genuine.delivery_info,
            genuine.properties,
        ),
    ]
    for message in changed:
        refusal = callee.check(message, "notify")
        assert refusal is not None and refusal.rule == "R-BUS-SIGNATURE", message
        assert refusal.reason == "a call: a signature by notify that does not match the message"
    bad_time = callee.check(
        Message(
            genuine.body,
            {**genuine.headers, SENT: "soon"},
            genuine.delivery_info,
            genuine.properties,
        ),
        "notify",
    )
    assert (
        bad_time is not None and bad_time.reason == "a call: a request without a valid signing time"
    )


def test_a_signed_call_is_a_short_lived_credential(keys: dict[str, str], callee: Callee) -> None:
    callee.now = NOW_MS + (REQUEST_SECONDS + 1) * 1000
    stale = callee.check(request_message("notify"), "notify")
    assert (
        stale is not None and stale.rule == "R-BUS-REPLAY" and "too old to be taken" in stale.reason
    )
    assert stale.answered  # no genuine answer is coming: the caller hears at once
    callee.now = NOW_MS - REQUEST_SECONDS * 1000
    future = callee.check(request_message("notify"), "notify")
    assert future is not None and "in the future" in future.reason
    callee.now = NOW_MS + (REQUEST_SECONDS - 1) * 1000
    assert callee.check(request_message("notify"), "notify") is None


def test_where_every_process_shares_one_broker_user_a_signed_call_must_still_verify(
    keys: dict[str, str], callee: Callee
) -> None:
    assert callee.check(request_message("notify", headers={}), None, shared=True) is None
    assert callee.check(request_message("consent", caller="guest"), None, shared=True) is None
    tampered = request_message("notify")
    tampered.body = tampered.body.replace(b"pat_1", b"pat_9")
    refusal = callee.check(tampered, None, shared=True)
    assert refusal is not None and refusal.rule == "R-BUS-SIGNATURE"


def test_a_process_signs_its_calls_as_the_principal_it_connects_as() -> None:
    assert principal_of_uri("amqp://dmp-notify:pw@broker:5672/") == "notify"
    assert principal_of_uri("amqp://run42-gateway:pw@broker:5672/run42") == "gateway"
    assert principal_of_uri("amqp://guest:guest@broker:5672/") is None  # shared: nobody's


# A process's keys are those of its settings, read once when it starts (services/common/settings.py): not the
# environment's at each message.


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """What the publishers of this process hand the broker, as a consumer would receive it."""
    messages: list[Message] = []

    def publish(self: Publisher, payload: bytes, **kwargs: Any) -> None:
        info = {"exchange": kwargs["exchange"], "routing_key": kwargs["routing_key"]}
        user = {"user_id": kwargs["user_id"]}  # the broker user of the connection
        messages.append(Message(payload, kwargs["extra_headers"], info, user))

    monkeypatch.setattr(Publisher, "publish", publish)
    return messages


def publish_event(publisher: SignedPublisher) -> None:
    event = Event.of(EventType.DOCUMENT_ADDED, "dossier", utcnow(), None, document_id="doc_1")
    publisher.publish(
        event.model_dump(mode="json"), exchange="dossier.events", routing_key="document_added"
    )


def kid_of(message: Message) -> str:
    return str(message.headers[KID])


def test_a_publisher_signs_with_the_keys_its_process_loaded_not_the_environments_changed_since(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, sent: list[Message]
) -> None:
    settings = Settings.load()
    publisher = SignedPublisher("amqp://dmp-dossier@broker/", "dossier", keys=settings.bus_keys)
    other = bus_keys(("dossier",))
    monkeypatch.setenv(SIGNING_KEY, other[signing_variable("dossier")])
    monkeypatch.setenv(PUBLIC_KEYS, other[PUBLIC_KEYS])
    publish_event(publisher)
    (message,) = sent
    assert kid_of(message) == settings.bus_keys().signer("dossier").kid
    # and it verifies with the keys the process loaded, which the environment's no longer hold
    body = json.loads(message.body)
    assert (
        event_problem(body, message, Sender(f"{PREFIX}audit", "audit"), settings.bus_keys()) is None
    )
    assert "unknown key" in str(
        event_problem(body, message, Sender(f"{PREFIX}audit", "audit"), own())
    )


def test_a_containers_publisher_signs_with_its_settings_once_they_are_read_again(
    keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, sent: list[Message]
) -> None:
    started = Settings.load()
    container = SimpleNamespace(**{SETTINGS_ATTRIBUTE: started})
    publisher = SignedPublisher(
        "amqp://dmp-dossier@broker/", "dossier", keys=bus_keys_of(container)
    )
    rotated = bus_keys(("dossier",))
    monkeypatch.setenv(SIGNING_KEY, rotated[signing_variable("dossier")])
    monkeypatch.setenv(PUBLIC_KEYS, f"{keys[PUBLIC_KEYS]},{rotated[PUBLIC_KEYS]}")
    publish_event(publisher)  # the environment changed, the container's settings did not
    restarted = Settings.load()
    setattr(container, SETTINGS_ATTRIBUTE, restarted)  # as tests/conftest.py restart_settings does
    publish_event(publisher)
    assert [kid_of(message) for message in sent] == [
        started.bus_keys().signer("dossier").kid,
        restarted.bus_keys().signer("dossier").kid,
    ]
    assert started.bus_keys().signer("dossier").kid != restarted.bus_keys().signer("dossier").kid
