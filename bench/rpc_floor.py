"""Benchmark: the deposit and read chain against floors measured in the same run.

Floors: a raw AMQP request-reply (py-amqp, no framework) and a raw store write (one insert_one).
Measured: one nameko RPC (dossier.health), a document deposit and a document read through the
gateway. Prints p50/p95 and the ratio of each p50 to its floor; asserts nothing about time.

`make bench` (starts its own stack on a private virtual host and database).
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from tempfile import mkdtemp
from urllib.parse import urlparse

import amqp
import httpx
from pymongo import MongoClient

from deploy.local.processes import free_port
from deploy.local.stack import Stack
from services.common.identifiers import ins_key, luhn_valid

ROUNDS = 300
WARMUP = 20


def timed(call: Callable[[], object], rounds: int = ROUNDS) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def broker_connection(amqp_uri: str) -> amqp.Connection:
    url = urlparse(amqp_uri)
    connection = amqp.Connection(f"{url.hostname}:{url.port or 5672}", userid=url.username,
                                 password=url.password, virtual_host=url.path.lstrip("/") or "/")
    connection.connect()
    return connection


def amqp_floor(amqp_uri: str) -> list[float]:
    """Raw request-reply over the broker: the least any RPC can cost."""
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    server = broker_connection(amqp_uri)
    server_channel = server.channel()
    server_channel.queue_declare(queue, auto_delete=True)

    def reply(message: amqp.Message) -> None:
        server_channel.basic_publish(amqp.Message(message.body, correlation_id=message.correlation_id),
                                     routing_key=message.reply_to)

    server_channel.basic_consume(queue, callback=reply, no_ack=True)

    def serve() -> None:
        while not stop.is_set():
            try:
                server.drain_events(timeout=0.2)
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = broker_connection(amqp_uri)
    channel = client.channel()
    reply_queue, _, _ = channel.queue_declare("", exclusive=True)
    answers: list[str] = []
    channel.basic_consume(reply_queue, callback=lambda m: answers.append(m.correlation_id), no_ack=True)

    def call() -> None:
        correlation = uuid.uuid4().hex
        channel.basic_publish(amqp.Message(b"ping", correlation_id=correlation, reply_to=reply_queue),
                              routing_key=queue)
        while correlation not in answers:
            client.drain_events(timeout=5)
        answers.remove(correlation)

    samples = timed(call)
    stop.set()
    thread.join()
    client.close()
    server.close()
    return samples


def main() -> None:
    from nameko.testing.rabbit import Client as RabbitManager

    broker = urlparse(os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"))
    manager = RabbitManager(f"http://{broker.username}:{broker.password}@{broker.hostname}:15672")
    vhost = f"bench_{uuid.uuid4().hex[:8]}"
    manager.create_vhost(vhost)
    manager.set_vhost_permissions(vhost, "guest", ".*", ".*", ".*")
    var = Path(mkdtemp(prefix="dmp-bench-"))
    stack = Stack(var=var, env={"AMQP_URI": broker._replace(path=f"/{vhost}").geturl(),
                                "DMP_GATEWAY_PORT": str(free_port())})
    try:
        print("starting the stack...", file=sys.stderr, flush=True)
        stack.start()
        results = run(stack)
    finally:
        stack.stop()
        manager.delete_vhost(vhost)
    floors = {"amqp": results["raw AMQP request-reply (floor)"], "store": results["raw store insert (floor)"]}
    print(f"\n{'measure':45} {'p50 ms':>8} {'p95 ms':>8} {'x floor':>8}")
    against = {"nameko RPC dossier.health": "amqp", "gateway deposit (HTTP -> dossier -> consent)": "store",
               "gateway read (HTTP -> dossier -> consent)": "amqp"}
    for name, samples in results.items():
        floor = against.get(name)
        ratio = f"{statistics.median(samples) / statistics.median(floors[floor]):8.1f}" if floor else f"{'-':>8}"
        print(f"{name:45} {statistics.median(samples):8.2f} {p(samples, 95):8.2f} {ratio}")
    print("\nratios: RPC and read against the AMQP floor, deposit against the store-write floor")


def run(stack: Stack) -> dict[str, list[float]]:
    from nameko.standalone.rpc import ClusterRpcClient

    results: dict[str, list[float]] = {}
    results["raw AMQP request-reply (floor)"] = amqp_floor(stack.env["AMQP_URI"])
    mongo: MongoClient[dict[str, object]] = MongoClient(stack.env["MONGO_URI"])
    collection = mongo["bench_floor"]["writes"]
    results["raw store insert (floor)"] = timed(lambda: collection.insert_one({"_id": uuid.uuid4().hex, "x": 1}))
    with ClusterRpcClient(uri=stack.env["AMQP_URI"], timeout=30) as cluster:
        results["nameko RPC dossier.health"] = timed(cluster.dossier.health)

    http = httpx.Client(base_url=stack.gateway_url, timeout=30)
    nir = "1800175123456"
    ins = f"{nir}{ins_key(nir):02d}"
    rpps = "1000000000" + next(d for d in "0123456789" if luhn_valid("1000000000" + d))
    http.post("/api/v1/patients", json={"ins": ins, "given_name": "B", "family_name": "B", "sex": "M",
                                        "birth_date": "1980-01-01", "email": "bench@example.org"})
    http.post("/api/v1/professionals", json={"rpps": rpps, "profession": "10", "given_name": "B", "family_name": "B"})
    patient = {"Authorization": "Bearer " + http.post("/api/v1/dev/tokens", json={"kind": "patient", "ins": ins})
               .json()["access_token"]}
    doctor = {"Authorization": "Bearer " + http.post("/api/v1/dev/tokens", json={"kind": "professional", "rpps": rpps})
              .json()["access_token"]}
    http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient)
    http.post(f"/api/v1/patients/{ins}/consents", headers=doctor)
    ids: list[str] = []

    def deposit() -> None:
        content = base64.b64encode(b"%PDF-1.4 " + uuid.uuid4().bytes).decode()
        response = http.post(f"/api/v1/patients/{ins}/documents", headers=doctor, json={
            "category": "10", "type_code": "11488-4", "title": "bench", "care_date": "2026-11-20",
            "format": "application/pdf", "content": content})
        response.raise_for_status()
        ids.append(response.json()["document_id"])

    results["gateway deposit (HTTP -> dossier -> consent)"] = timed(deposit)
    results["gateway read (HTTP -> dossier -> consent)"] = timed(
        lambda: http.get(f"/api/v1/patients/{ins}/documents/{ids[0]}", headers=doctor).raise_for_status())
    return results


if __name__ == "__main__":
    main()
