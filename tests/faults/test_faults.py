"""Faults under load: nothing lost, nothing doubled, with no manual step.

The whole system runs as `make run` runs it (deploy/local/stack.py): its own embedded Mongo-wire
server and mailbox, every service and the gateway in its own process, RabbitMQ reached through a
TCP proxy this test can cut (tests/proxy.py says why). While professional software deposits
documents (with Idempotency-Key, retrying what failed, as vendors are told to) and reads them, the
test kills -9 each service and the gateway in turn and starts it again, cuts the broker, and kills -9
the Mongo-wire server and starts it again. Then, once the system has settled by itself:

- every deposit the client saw acknowledged is stored exactly once (and none twice);
- every access (read, listing, refusal) has exactly one trace, every deposit too, and the hash
  chains verify;
- every deposit's notification went out at least once, and no patient got the same one twice.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from deploy.local.processes import (
    SERVICES,
    free_port,
    http_ok,
    port_answers,
    services_answer,
    wait_for,
)
from deploy.local.stack import Stack
from services.common.rpc_client import RpcClient
from tests.journeys import eventually
from tests.mailbox import Mailbox
from tests.proxy import TcpProxy
from tests.system import Api, document

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(600)]
PATIENTS = 4
WRITERS, READERS = 3, 2
NEWS = "Nouveau document"


@dataclass
class Load:
    """What the client saw: deposits acknowledged (key -> document id), reads served, failures met."""

    http: httpx.Client
    patients: list[tuple[str, dict[str, str]]]  # (ins, doctor headers)
    acknowledged: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # key -> (ins, document_id)
    reads: int = 0
    listings: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    running: bool = True
    errors: list[str] = field(
        default_factory=list
    )  # what broke a worker (asserted empty at the end)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, work: Any, index: int) -> None:
        try:
            work(index)
        except BaseException as error:  # a worker thread's failure must fail the test
            self.errors.append(f"{work.__name__} {index}: {error!r}"[:2000])

    def deposit_until_acknowledged(
        self, ins: str, doctor: dict[str, str], n: int, patience: float
    ) -> None:
        key = f"charge-{uuid.uuid4().hex}"
        body = document(f"%PDF-1.4 charge {key}".encode(), title=f"Charge {n}")
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                response = self.http.post(
                    f"/api/v1/patients/{ins}/documents",
                    json=body,
                    headers={**doctor, "Idempotency-Key": key},
                )
            except httpx.HTTPError as error:
                self._failed(type(error).__name__)
                continue
            if response.status_code == 201:
                with self.lock:
                    self.acknowledged[key] = (ins, response.json()["document_id"])
                return
            # Busy or briefly unavailable is fine (the client retries); a refusal or a 500 is not.
            assert response.status_code in {409, 429, 502, 503, 504}, (
                response.status_code,
                response.text,
            )
            self._failed(str(response.status_code))
        raise AssertionError(f"deposit {key} never acknowledged within {patience} s")

    def _failed(self, what: str) -> None:
        with self.lock:
            self.failures[what] += 1
        time.sleep(0.3)

    def writer(self, index: int) -> None:
        n = 0
        while self.running:
            ins, doctor = self.patients[(index + n) % len(self.patients)]
            self.deposit_until_acknowledged(ins, doctor, n, patience=120)
            n += 1
            time.sleep(0.05)

    def reader(self, index: int) -> None:
        n = 0
        while self.running:
            ins, doctor = self.patients[(index + n) % len(self.patients)]
            n += 1
            try:
                listed = self.http.get(
                    f"/api/v1/patients/{ins}/documents", params={"limit": 5}, headers=doctor
                )
                if listed.status_code != 200:
                    self._failed(str(listed.status_code))
                    continue
                with self.lock:
                    self.listings += 1
                for found in listed.json()["documents"][:1]:
                    read = self.http.get(
                        f"/api/v1/patients/{ins}/documents/{found['document_id']}", headers=doctor
                    )
                    if read.status_code == 200:
                        with self.lock:
                            self.reads += 1
                    else:
                        self._failed(str(read.status_code))
            except httpx.HTTPError as error:
                self._failed(type(error).__name__)
            time.sleep(0.05)


@pytest.fixture
def faulty_system(
    vhost_pipeline: Any,
    secrets: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Stack, TcpProxy]]:
    for name in ("MONGO_URI", "SMTP_HOST", "SMTP_PORT", "SMS_GATEWAY_URL", "AMQP_URI"):
        monkeypatch.delenv(name, raising=False)  # the stack starts its own store and mailbox
    proxy = TcpProxy(5672)
    proxy.start()
    with vhost_pipeline.get() as vhost:
        stack = Stack(
            var=tmp_path,
            env={
                **secrets,
                "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}",
                "DMP_MONGO_DATABASE_PREFIX": "faults",
                "DMP_GATEWAY_PORT": str(free_port()),
                "DMP_OUTBOX_INTERVAL_SECONDS": "0.2",
                "DMP_RATE_PER_ACTOR_PER_MINUTE": "10000000",
                "DMP_RPC_TIMEOUT_SECONDS": "10",
                "DMP_NOTIFY_LEASE_SECONDS": "20",  # longer than a send may take (SMTP timeout 15 s)
                "DMP_NOTIFY_RETRY_BASE_SECONDS": "1",
                "DMP_IDEMPOTENCY_CLAIM_SECONDS": "5",
            },
        )
        try:
            stack.start()
            yield stack, proxy
        finally:
            stack.stop()
            proxy.stop()


def healthy(stack: Stack) -> None:
    try:
        wait_for(
            "the whole system",
            lambda: (
                http_ok(f"{stack.gateway_url}/health")
                and services_answer(stack.operator_uri, stack.bus_keys)
            ),
            180,
        )
    except TimeoutError:
        raise AssertionError(f"still not answering: {silent(stack)}") from None


def silent(stack: Stack) -> list[str]:
    """Who does not answer (for the failure message)."""
    quiet = [] if http_ok(f"{stack.gateway_url}/health") else ["gateway"]
    try:
        with RpcClient(uri=stack.operator_uri, timeout=5, keys=stack.bus_keys) as cluster:
            for name in SERVICES:
                try:
                    getattr(cluster, name).health()
                except Exception as error:
                    quiet.append(f"{name} ({type(error).__name__})")
    except Exception as error:
        quiet.append(f"the broker ({type(error).__name__})")
    return quiet


def test_kill_each_service_cut_the_broker_restart_the_store_and_lose_nothing(
    faulty_system: tuple[Stack, TcpProxy],
) -> None:
    stack, proxy = faulty_system
    mailbox = Mailbox(stack.var / "mail", int(stack.env["SMTP_PORT"]))
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        api = Api(http, mailbox)
        patients = []
        for n in range(PATIENTS):
            ins, _, doctor = api.dossier_with_consenting_doctor(f"panne{n}@patients.dmp-test.fr")
            patients.append((ins, doctor))
        load = Load(http, patients)
        workers = [
            threading.Thread(target=load.run, args=(load.writer, i), daemon=True)
            for i in range(WRITERS)
        ]
        workers += [
            threading.Thread(target=load.run, args=(load.reader, i), daemon=True)
            for i in range(READERS)
        ]
        for worker in workers:
            worker.start()
        started = time.monotonic()
        faults = []
        timeline: list[tuple[float, str]] = []  # wall-clock moments, for a failure's account

        def settle(what: str, since: float) -> None:
            timeline.append((time.time() - (time.monotonic() - since), what))
            healthy(stack)
            faults.append(f"{what} (answering again after {time.monotonic() - since:.0f} s)")
            time.sleep(2)  # load flows again before the next fault

        time.sleep(3)
        for name in (*SERVICES, "gateway"):
            since = time.monotonic()
            stack.processes.kill(name)
            time.sleep(1)
            stack.processes.restart(name)
            settle(f"kill -9 {name}", since)
        since = time.monotonic()
        proxy.cut()
        time.sleep(3)
        proxy.restore()
        settle("broker outage of 3 s", since)
        store_port = int(stack.env["MONGO_URI"].rsplit(":", 1)[1].strip("/"))
        since = time.monotonic()
        stack.processes.kill("devstore")
        time.sleep(1)
        stack.processes.restart("devstore")
        wait_for("the Mongo-wire server", lambda: port_answers("127.0.0.1", store_port), 30)
        settle("kill -9 the Mongo-wire server", since)

        load.running = False
        for worker in workers:
            worker.join(180)
            assert not worker.is_alive()
        load_seconds = time.monotonic() - started
        assert load.errors == []
        assert (
            load.failures["ConnectError"] > 0
        )  # the client did feel the faults (the gateway was down)
        verdict = check_nothing_lost(stack, load, timeline)

    print(f"\nFaults survived ({len(faults)}): {', '.join(faults)}")
    print(
        f"Load held for {load_seconds:.0f} s by {WRITERS} writers and {READERS} readers on {PATIENTS} dossiers: "
        f"{len(load.acknowledged)} deposits acknowledged, {load.listings} listings and {load.reads} reads served; "
        f"failures seen and retried by the client: {dict(load.failures)}"
    )
    print("After the faults: " + ", ".join(f"{k} {v}" for k, v in verdict.items()))


def check_nothing_lost(
    stack: Stack, load: Load, timeline: list[tuple[float, str]]
) -> dict[str, int]:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.env["MONGO_URI"], tz_aware=True)
    dossier, audit = client["faults_dossier"], client["faults_audit"]
    acknowledged = {document_id for _, document_id in load.acknowledged.values()}

    # 1. Stored exactly once: every acknowledged deposit, under its key, and no deposit twice.
    stored = list(dossier.documents.find({"idempotency": {"$exists": True}}, {"idempotency": 1}))
    per_key = Counter(d["idempotency"].split("|", 1)[1] for d in stored)
    assert {key for key, n in per_key.items() if n > 1} == set()
    assert set(load.acknowledged) <= set(per_key)
    assert acknowledged <= {d["_id"] for d in stored}

    # 2. Every access and every deposit has exactly one trace, once the outboxes have drained.
    def traced() -> dict[str, int]:
        pending = sum(
            dossier[c].count_documents({"_outbox_pending": True}) for c in ("documents", "accesses")
        )
        accesses = {a["_id"] for a in dossier.accesses.find({}, {"_id": 1})}
        traces = list(audit.traces.find({}, {"_id": 1, "type": 1, "document_id": 1}))
        trace_ids = Counter(t["_id"] for t in traces)
        added = Counter(t["document_id"] for t in traces if t["type"] == "document_added")
        if pending or not accesses <= set(trace_ids) or any(added[d] != 1 for d in acknowledged):
            return {}
        assert max(trace_ids.values()) == 1
        return {
            "accesses traced": len(accesses),
            "deposits traced": len(acknowledged),
            "traces": len(traces),
        }

    counts: dict[str, int] = eventually(traced, seconds=120, interval=1)
    with RpcClient(uri=stack.operator_uri, timeout=60, keys=stack.bus_keys) as cluster:
        verification = cluster.audit.verify()
    assert verification["intact"], verification
    counts["chains verified"] = verification["chains"]

    # 3. Every deposit's news reached its patient at least once, and no notification went out twice.
    events = {t["document_id"]: t["_id"] for t in audit.traces.find({"type": "document_added"})}

    def mailed() -> dict[str, int]:
        references: Counter[str] = Counter()
        for path in (stack.var / "mail").glob("*.eml"):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            found = re.search(r"<(evt_[0-9a-f]+\.[a-z_]+\.[a-z]+)@", str(message["Message-ID"]))
            if found:
                references[found.group(1)] += 1
        duplicates = {ref: n for ref, n in references.items() if n > 1}
        assert duplicates == {}, sent_twice(stack, client, duplicates, timeline)
        missing = [d for d in acknowledged if f"{events[d]}.patient.email" not in references]
        return {} if missing else {"notifications sent": sum(references.values()), "sent twice": 0}

    counts.update(eventually(mailed, seconds=120, interval=1))
    counts.update(
        {
            "deposits acknowledged": len(acknowledged),
            "stored": len(stored),
            "stored twice": 0,
            "lost": 0,
        }
    )
    client.close()
    return counts


def sent_twice(
    stack: Stack,
    client: MongoClient[dict[str, Any]],
    duplicates: dict[str, int],
    timeline: list[tuple[float, str]],
) -> str:
    """An account of each message sent twice, to tell which window let it through: when each copy
    reached the mailbox against the faults, the delivery's record, and what notify logged of it."""
    log = (stack.var / "log" / "notify.log").read_text(errors="replace").splitlines()
    lines = [f"faults at: {[(round(at, 1), what) for at, what in timeline]}"]
    for reference in duplicates:
        delivery_id = reference.replace(".", ":")
        copies = [
            round(int(path.stem) / 1e9, 2)
            for path in (stack.var / "mail").glob("*.eml")
            if reference in path.read_text(errors="replace")
        ]
        record = client["faults_notify"].deliveries.find_one({"_id": delivery_id}, {"event": 0})
        lines.append(f"{reference}: copies at {sorted(copies)}; record {record}")
        lines += [f"  {line}" for line in log if delivery_id in line or reference in line]
    lines += [
        "notify's warnings:",
        *[line for line in log if "WARNING" in line or "ERROR" in line][-40:],
    ]
    return "\n".join(lines)


def test_the_proxy_is_a_faithful_outage() -> None:
    """Cut, nothing gets through; restored, connections work again (so the fault test does cut)."""
    proxy = TcpProxy(5672)
    proxy.start()
    try:
        assert port_answers("127.0.0.1", proxy.port)
        proxy.cut()
        assert not port_answers("127.0.0.1", proxy.port)
        proxy.restore()
        assert port_answers("127.0.0.1", proxy.port)
    finally:
        proxy.stop()
