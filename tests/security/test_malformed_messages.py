"""Malformed messages published straight onto every service's queues (as a broken or hostile client
on the bus would): each lands in the service's dead-letter queue with the reason, nothing is requeued
forever, and every service keeps serving calls and events."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from kombu.entity import Exchange
from kombu.messaging import Producer
from nameko.exceptions import IncorrectSignature

from services.common.deadletters import MAX_EVENT_BYTES
from services.common.subscriptions import SUBSCRIPTIONS
from tests.conftest import People
from tests.journeys import Deposit, eventually, submission
from tests.queues import connect, drain

SERVICES = ("identity", "consent", "dossier", "notify", "audit")
RPC = {
    "identity": "patient_id_for",
    "consent": "grant",
    "dossier": "search",
    "notify": "health",
    "audit": "history",
}
GOOD_EVENT = {
    "event_id": "evt_x",
    "type": "document_added",
    "source": "dossier",
    "occurred_at": "2026-11-23T10:00:00Z",
}

# (label, body bytes, content type): what a broken or hostile publisher might put on a queue
RPC_GARBAGE = [
    ("invalid JSON", b'{"args": ["tok", ', "application/json"),
    ("not an object", b'"just a string"', "application/json"),
    ("wrong types", json.dumps({"args": "tok", "kwargs": []}).encode(), "application/json"),
    ("missing kwargs", json.dumps({"args": []}).encode(), "application/json"),
    (
        "wrong arity",
        json.dumps({"args": [1, 2, 3, 4, 5, 6, 7], "kwargs": {}}).encode(),
        "application/json",
    ),
    (
        "pickle",
        b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
        "application/x-python-serialize",
    ),
    (
        "huge",
        json.dumps({"args": ["x" * (3 * 1024 * 1024)], "kwargs": {}}).encode(),
        "application/json",
    ),
]
EVENT_GARBAGE = [
    ("invalid JSON", b'{"event_id": "evt_1", "type": ', "application/json"),
    ("not an object", b"[1, 2, 3]", "application/json"),
    (
        "wrong types",
        json.dumps(
            {**GOOD_EVENT, "occurred_at": 42, "emergency": "very", "data": {"n": [1]}}
        ).encode(),
        "application/json",
    ),
    (
        "missing fields",
        json.dumps({"event_id": "evt_2", "type": "document_added"}).encode(),
        "application/json",
    ),
    (
        "unknown type",
        json.dumps({**GOOD_EVENT, "type": "patient_exported"}).encode(),
        "application/json",
    ),
    (
        "extra field",
        json.dumps({**GOOD_EVENT, "content": "%PDF-1.4 ..."}).encode(),
        "application/json",
    ),
    (
        "huge",
        json.dumps({**GOOD_EVENT, "data": {"note": "x" * (MAX_EVENT_BYTES + 10)}}).encode(),
        "application/json",
    ),
    ("pickle", b"\x80\x04K\x01.", "application/x-python-serialize"),
]


@pytest.fixture
def small_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documents of 1 MiB at most, so that a "huge" call (3 MiB) costs the shared broker little."""
    monkeypatch.setenv("DMP_MAX_DOCUMENT_BYTES", str(1024 * 1024))


def test_garbage_on_every_queue_is_dead_lettered_with_its_reason_and_services_keep_serving(
    small_documents: None,
    cluster: Any,
    deposit: Deposit,
    people: People,
) -> None:
    rpc_exchange = Exchange("nameko-rpc", type="topic", durable=True)  # type: ignore[no-untyped-call]
    sent: Counter[str] = Counter()
    with connect() as connection:
        producer: Any = Producer(connection.channel())  # type: ignore[no-untyped-call]
        for service in SERVICES:
            for label, body, content_type in RPC_GARBAGE:
                producer.publish(
                    body,
                    exchange=rpc_exchange,
                    routing_key=f"{service}.{RPC[service]}",
                    content_type=content_type,
                    content_encoding="binary",
                    headers={"label": label},
                )
                sent[service] += 1
            producer.publish(
                b'{"args": [], "kwargs": {}}',
                exchange=rpc_exchange,
                routing_key=f"{service}.no_such_method",
                content_type="application/json",
                content_encoding="binary",
                headers={"label": "unknown method"},
            )
            sent[service] += 1
        for subscription in SUBSCRIPTIONS:
            for label, body, content_type in EVENT_GARBAGE:
                producer.publish(
                    body,
                    exchange="",
                    routing_key=subscription.queue.name,
                    content_type=content_type,
                    content_encoding="binary",
                    headers={"label": label},
                )
                sent[subscription.consumer] += 1

        def all_dead_lettered() -> dict[str, list[Any]]:
            letters = {service: drain(connection, f"{service}.dead-letter") for service in SERVICES}
            for service, messages in letters.items():
                received[service] += messages
            return received if all(len(received[s]) >= sent[s] for s in SERVICES) else {}

        received: dict[str, list[Any]] = {service: [] for service in SERVICES}
        eventually(all_dead_lettered, seconds=60, interval=0.5)

    for service in SERVICES:
        letters = received[service]
        assert len(letters) == sent[service], (
            service
        )  # each exactly once: nothing requeued in a loop
        for letter in letters:
            reason = letter.headers["x-reason"]
            label = letter.headers["label"]
            assert reason and letter.headers["x-original-queue"], (service, label)
            expected = {
                "invalid JSON": "undecodable",
                "pickle": "undecodable",
                "huge": "too large",
                "unknown method": "MethodNotFound",
                "wrong arity": "IncorrectSignature",
            }.get(label)
            if expected:
                assert expected in reason, (service, label, reason)
        print(f"\n{service}: {len(letters)} malformed messages dead-lettered, each with its reason")

    # Every service still answers, and events still flow to audit and notify.
    assert all(getattr(cluster, service).health()["status"] == "ok" for service in SERVICES)
    cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    eventually(
        lambda: (
            "document_read"
            in [t["type"] for t in cluster.audit.history(deposit.patient, deposit.ins)["traces"]]
        )
    )
    added = cluster.dossier.add_document(
        deposit.doctor, deposit.ins, submission(b"%PDF-1.4 encore")
    )
    assert added["document_id"]


def test_a_caller_waiting_on_a_malformed_call_is_answered_at_once(cluster: Any) -> None:
    """The envelope is right but the method takes other arguments: the caller gets an error, not a timeout."""
    with pytest.raises(IncorrectSignature):
        cluster.dossier.search()
    with connect() as connection:
        letters = eventually(lambda: drain(connection, "dossier.dead-letter"))
    assert "IncorrectSignature" in letters[0].headers["x-reason"]
