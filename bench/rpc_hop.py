"""One nameko RPC hop against the raw AMQP floor of the same run.

The hop alone: a nameko service that answers at once (bench/echo_service.py, run like the real services),
called with the system's RPC client (services/common/rpc_client.py; nameko's stock standalone client too,
for comparison), against the raw kombu echo of bench/floors.py. Also dossier.health,
which adds a store ping: compared with the AMQP floor plus the store find floor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from bench.common import Section, concurrent, log, sequential
from bench.floors import CALLERS, floor
from deploy.local.processes import Processes, base_env, wait_for
from services.common.devsecrets import bus_keys
from services.common.settings import Settings
from services.common.signatures import PUBLIC_KEYS, SIGNING_KEY, KeySource, signing_variable

TARGET_RATIO = 2.0


def echo_answers(amqp_uri: str, keys: KeySource) -> bool:
    from services.common.rpc_client import RpcClient

    try:
        with RpcClient(uri=amqp_uri, timeout=2, keys=keys) as cluster:
            return bool(cast(Any, cluster).bench_echo.echo(1) == 1)
    except Exception:  # not up yet
        return False


def run(amqp_uri: str, operator_uri: str, floors: Section, var: Path, quick: bool) -> Section:
    """`amqp_uri`: the administrator's (the echo service is the benchmark's own); `operator_uri` calls the
    system's services, as its operators do."""
    from nameko.standalone.rpc import ClusterRpcClient

    from services.common.rpc_client import RpcClient

    rounds = 100 if quick else 500
    section = Section("rpc_hop")
    processes = Processes(var / "log")
    # The benchmark's own service, on the administrator's user: a development set-up (services/common/principals.py),
    # signing its answers as the real services do with a key of its own, which this process also trusts.
    keys = bus_keys(("bench_echo",))
    os.environ[PUBLIC_KEYS] = ",".join(
        filter(None, (os.environ.get(PUBLIC_KEYS), keys[PUBLIC_KEYS]))
    )
    own = Settings.load().bus_keys  # this process's, the echo service's public key among them
    echo_env = base_env(
        {
            "AMQP_URI": amqp_uri,
            "DMP_DEV_LOGIN": "true",
            SIGNING_KEY: keys[signing_variable("bench_echo")],
        }
    )
    processes.start("bench_echo", ["-m", "bench.echo_service"], echo_env)
    clients: list[Any] = []
    try:
        log("one RPC hop: starting the echo service...")
        wait_for("the nameko echo service", lambda: echo_answers(amqp_uri, own), 60)
        with ClusterRpcClient(uri=amqp_uri, timeout=30) as stock:
            section.add(
                sequential(
                    "nameko RPC hop, nameko's stock standalone client (a connection per reply)",
                    lambda: stock.bench_echo.echo(1),
                    rounds // 2,
                )
            )
        with RpcClient(uri=amqp_uri, timeout=30, keys=own) as cluster:
            echo = cast(
                Any, cluster
            ).bench_echo  # a service of the benchmark's own: no typed client
            one = section.add(
                sequential("nameko RPC hop (echo service)", lambda: echo.echo(1), rounds)
            )
        with RpcClient(uri=operator_uri, timeout=30, keys=own) as operator:
            health = section.add(
                sequential(
                    "nameko RPC dossier.health (+ a store ping)",
                    operator.dossier.health,
                    rounds // 2,
                )
            )

        def caller(index: int) -> Callable[[int], object]:
            client = RpcClient(uri=amqp_uri, timeout=30, keys=own)
            clients.append(client)
            proxy = client.start()
            return lambda n: proxy.bench_echo.echo(n)

        many = section.add(
            concurrent("nameko RPC hop (echo service)", caller, CALLERS, rounds // CALLERS * 2)
        )
    finally:
        for client in clients:
            client.stop()
        processes.stop()
    raw = floor(floors, "AMQP request-reply (kombu echo)")
    raw_many = floor(floors, "AMQP request-reply (kombu echo)", CALLERS)
    find = floor(floors, "store find_one by _id")
    section.figures["hop p50 / AMQP floor p50 (1 caller)"] = one.p50 / raw.p50
    section.figures["hop p99 / AMQP floor p99 (1 caller)"] = one.p(99) / raw.p(99)
    section.figures[f"hop p50 / AMQP floor p50 ({CALLERS} callers)"] = many.p50 / raw_many.p50
    section.figures[f"AMQP floor calls/s / hop calls/s ({CALLERS} callers)"] = (
        raw_many.per_second / many.per_second
    )
    section.figures["dossier.health p50 / (AMQP floor + store find floor) p50"] = health.p50 / (
        raw.p50 + find.p50
    )
    section.target(
        "one RPC hop p50, x the raw floor", one.p50 / raw.p50, TARGET_RATIO, at_most=True, unit="x"
    )
    section.target(
        f"RPC hop throughput, floor/hop ({CALLERS} callers)",
        raw_many.per_second / many.per_second,
        TARGET_RATIO,
        at_most=True,
        unit="x",
    )
    return section
