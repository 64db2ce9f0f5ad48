"""Stopping a service during load loses nothing: the Kubernetes rollout case (SIGTERM, replacement).

The audit service runs as Kubernetes runs it (`python -m services.common.launcher audit`, a child
process), consuming events published at full speed. It is sent SIGTERM mid-load: it must finish and
acknowledge what it is working on, hand back what it had not started, and exit 0. A replacement then
takes the rest: every event ends up in the trail, once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu.connection import Connection
from kombu.messaging import Producer
from nameko.standalone.events import get_event_exchange
from pymongo import MongoClient
from pymongo.collection import Collection

from deploy.local.processes import Processes, base_env, wait_for
from services.common.events import Event, EventType
from services.common.settings import Settings
from services.common.subscriptions import subscription

pytestmark = pytest.mark.slow
EVENTS = 600


@pytest.fixture
def amqp_uri(rabbit_config: None) -> str:
    from nameko import config

    uri: str = config["AMQP_URI"]
    return uri


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    children = Processes(tmp_path / "log")
    yield children
    children.stop(grace_seconds=30)


def publish(amqp_uri: str, count: int) -> list[str]:
    """`count` dossier events for a few patients, each confirmed by the broker; their ids."""
    exchange = get_event_exchange("dossier")
    ids = []
    keys = Settings.load().bus_keys()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:  # type: ignore[no-untyped-call]
        producer = Producer(connection)  # type: ignore[no-untyped-call]
        for number in range(count):
            event = Event(
                type=EventType.DOSSIER_OPENED,
                source="dossier",
                occurred_at=datetime.now(UTC),
                patient_id=f"pat_graceful_{number % 8}",
                dossier_id=f"dos_graceful_{number % 8}",
            )
            body = json.dumps(event.model_dump(mode="json")).encode()
            signed = keys.sign("dossier", exchange.name, event.type.value, body)  # as dossier would
            producer.publish(  # type: ignore[no-untyped-call]
                body,
                exchange=exchange,
                routing_key=event.type.value,
                content_type="application/json",
                content_encoding="utf-8",
                headers=signed,
                delivery_mode=2,
            )
            ids.append(event.event_id)
    return ids


def waiting(amqp_uri: str, queue: str) -> int:
    """Messages ready in `queue` (with no consumer attached, every unacknowledged one is ready again)."""
    with Connection(amqp_uri) as connection:  # type: ignore[no-untyped-call]
        declared: Any = connection.default_channel.queue_declare(queue=queue, passive=True)
        return int(declared.message_count)


def test_a_service_stopped_during_load_loses_no_event_and_processes_none_twice(
    environment: dict[str, str], amqp_uri: str, processes: Processes, tmp_path: Path
) -> None:
    env = base_env({"AMQP_URI": amqp_uri, "TMPDIR": str(tmp_path)})
    database = f"{environment['DMP_MONGO_DATABASE_PREFIX']}_audit"
    traces: Collection[dict[str, Any]] = MongoClient(environment["MONGO_URI"])[database].traces
    queue = subscription("audit", "dossier").queue.name
    heartbeat = tmp_path / "dmp-audit.alive"

    first = processes.start("audit-1", ["-m", "services.common.launcher", "audit"], env)
    wait_for("the audit service's heartbeat", heartbeat.exists, 60)
    published = publish(amqp_uri, EVENTS)
    wait_for(
        "a quarter of the events traced", lambda: traces.count_documents({}) >= EVENTS // 4, 60
    )

    first.send_signal(signal.SIGTERM)  # what the kubelet sends after the preStop pause
    assert first.wait(timeout=60) == 0, "the service stops by itself, well within its grace period"
    traced, ready = traces.count_documents({}), waiting(amqp_uri, queue)
    assert traced < EVENTS, "stopped mid-load (else this test proves nothing: publish more)"
    # Each event is either traced and acknowledged, or handed back untouched: none is both (which
    # would process it twice) and none is neither (lost).
    assert traced + ready == EVENTS, f"{traced} traced + {ready} requeued != {EVENTS} published"
    log = (tmp_path / "log" / "audit-1.log").read_text()
    assert "active worker" not in log, (
        "no worker was killed"
    )  # nameko: "killing N active workers(s)"
    assert "Traceback" not in log

    processes.start("audit-2", ["-m", "services.common.launcher", "audit"], env)
    wait_for("every event traced", lambda: traces.count_documents({}) >= EVENTS, 120)
    time.sleep(1)  # would a duplicate still arrive?
    assert sorted(trace["_id"] for trace in traces.find({}, {"_id": 1})) == sorted(published)
    assert waiting(amqp_uri, queue) == 0
    assert os.path.exists(heartbeat)


def test_a_service_stops_promptly_when_idle(
    environment: dict[str, str], amqp_uri: str, processes: Processes, tmp_path: Path
) -> None:
    env = base_env({"AMQP_URI": amqp_uri, "TMPDIR": str(tmp_path)})
    service = processes.start("consent", ["-m", "services.common.launcher", "consent"], env)
    wait_for("the consent service's heartbeat", (tmp_path / "dmp-consent.alive").exists, 60)
    started = time.monotonic()
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=30) == 0
    assert time.monotonic() - started < 10, (
        "an idle service does not hold its pod for the whole grace period"
    )
