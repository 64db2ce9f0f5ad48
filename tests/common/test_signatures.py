"""Signed messages (services/common/signatures.py), without a broker: what verifies, and everything that
must not. The same checks on the real broker, against forged events and replies: tests/security/test_bus.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.common.clock import utcnow
from services.common.deadletters import event_problem
from services.common.devsecrets import bus_keys
from services.common.events import Event, EventType
from services.common.principals import Sender
from services.common.signatures import (
    OUTSTANDING,
    PUBLIC_KEYS,
    SIGNING_KEY,
    BadSignature,
    BusKeys,
    Outstanding,
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
    monkeypatch.setenv(SIGNING_KEY, ",".join(values[signing_variable(n)] for n in ("dossier", "consent", "notify")))
    yield values


def event_message(signer: str, event: Event | None = None, **changes: Any) -> Message:
    event = event or Event.of(EventType.DOCUMENT_ADDED, "dossier", utcnow(), None, document_id="doc_1")
    body = json.dumps(event.model_dump(mode="json")).encode()
    exchange, routing_key = f"{event.source}.events", event.type.value
    headers = BusKeys.from_env().sign(signer, exchange, routing_key, body)
    message = Message(body, headers, {"exchange": exchange, "routing_key": routing_key},
                      {"user_id": f"{PREFIX}{event.source}"})
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def problem(message: Message) -> str | None:
    refusal = event_problem(json.loads(message.body), message, Sender(f"{PREFIX}audit", "audit"))
    return None if refusal is None else refusal.reason


def test_an_event_signed_by_its_source_is_taken(keys: dict[str, str]) -> None:
    assert problem(event_message("dossier")) is None


def test_an_event_unsigned_or_signed_by_another_principal_is_refused_as_a_forgery(keys: dict[str, str]) -> None:
    unsigned = event_message("dossier", headers={})
    assert problem(unsigned) == "an event of dossier: unsigned"
    assert problem(event_message("notify")) == "an event of dossier signed by notify"
    refusal = event_problem(json.loads(unsigned.body), unsigned, Sender(f"{PREFIX}audit", "audit"))
    assert refusal is not None and refusal.rule == "R-BUS-SIGNATURE"


def test_a_signed_event_changed_in_any_way_no_longer_verifies(keys: dict[str, str]) -> None:
    genuine = event_message("dossier")
    tampered = genuine.body.replace(b"doc_1", b"doc_2")
    assert "does not match" in str(problem(event_message("dossier", body=tampered)))
    # the same bytes and signature under another type: refused before the signature is even looked at
    moved = event_message("dossier", delivery_info={"exchange": "dossier.events", "routing_key": "dossier_purged"})
    assert "came through" in str(problem(moved))


def test_a_key_nobody_published_signs_nothing(keys: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
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
        BusKeys.from_env().sign("audit", "audit.events", "document_read", b"{}")


def reply(signer: str, correlation_id: str, answers: str, user: str, body: bytes = b'{"result": true}') -> Message:
    exchange, routing_key = "nameko-rpc", "reply-queue-key"
    headers = BusKeys.from_env().sign(signer, exchange, routing_key, body, correlation_id, answers)
    return Message(body, headers, {"exchange": exchange, "routing_key": routing_key},
                   {"correlation_id": correlation_id, "user_id": f"{PREFIX}{user}"})


def test_only_the_called_services_signed_answer_to_the_call_made_is_taken(keys: dict[str, str]) -> None:
    OUTSTANDING.record("c-1", "consent.grant")
    assert "published by dmp-notify" in str(reply_problem(reply("consent", "c-1", "consent.grant", "notify"), PREFIX))
    assert "signed by notify" in str(reply_problem(reply("notify", "c-1", "consent.grant", "consent"), PREFIX))
    other_call = reply("consent", "c-1", "consent.record_consent", "consent")
    assert "does not say it answers consent.grant" in str(reply_problem(other_call, PREFIX))
    forged_body = reply("consent", "c-1", "consent.grant", "consent")
    forged_body.body = b'{"result": {"allowed": true}}'
    assert "does not match" in str(reply_problem(forged_body, PREFIX))
    unsigned = reply("consent", "c-1", "consent.grant", "consent")
    unsigned.headers = {"x-dmp-answers": "consent.grant"}
    assert "unsigned" in str(reply_problem(unsigned, PREFIX))
    # none of the forgeries used the call up: the genuine answer is still taken, once
    assert reply_problem(reply("consent", "c-1", "consent.grant", "consent"), PREFIX) is None
    replayed = reply("consent", "c-1", "consent.grant", "consent")
    assert reply_problem(replayed, PREFIX) == "a reply to no call this process is waiting on"


def test_where_every_process_shares_one_broker_user_the_signature_still_decides(keys: dict[str, str]) -> None:
    OUTSTANDING.record("c-2", "dossier.status")
    assert "signed by notify" in str(reply_problem(reply("notify", "c-2", "dossier.status", "guest"), None))
    assert reply_problem(reply("dossier", "c-2", "dossier.status", "guest"), None) is None


def test_calls_that_never_got_an_answer_are_forgotten_in_time() -> None:
    calls = Outstanding(capacity=3)
    for n in range(5):
        calls.record(f"c{n}", "dossier.status")
    assert calls.called("c0") is None and calls.called("c1") is None and calls.called("c4") == "dossier.status"


def test_an_unsigned_message_names_why(keys: dict[str, str]) -> None:
    with pytest.raises(BadSignature, match="unsigned"):
        BusKeys.from_env().signer_of({}, "dossier.events", "document_added", b"{}")
