"""One nameko RPC hop (dossier.health: no store, no further call) against the raw AMQP floor of the same run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common import Section, concurrent, sequential
from bench.floors import CALLERS, floor

TARGET_RATIO = 2.0


def run(amqp_uri: str, floors: Section, quick: bool) -> Section:
    from nameko.standalone.rpc import ClusterRpcClient

    rounds = 100 if quick else 1000
    section = Section("rpc_hop")
    clients: list[Any] = []
    with ClusterRpcClient(uri=amqp_uri, timeout=30) as cluster:
        one = section.add(sequential("nameko RPC dossier.health", cluster.dossier.health, rounds))

    def caller(index: int) -> Callable[[int], object]:
        client = ClusterRpcClient(uri=amqp_uri, timeout=30)
        clients.append(client)
        proxy = client.start()
        return lambda n: proxy.dossier.health()

    many = section.add(concurrent("nameko RPC dossier.health", caller, CALLERS, rounds // CALLERS * 2))
    for client in clients:
        client.stop()
    raw, raw_many = floor(floors, "AMQP request-reply (kombu echo)"), floor(floors, "AMQP request-reply (kombu echo)",
                                                                           CALLERS)
    section.figures["p50 / AMQP floor p50 (1 caller)"] = one.p50 / raw.p50
    section.figures["p99 / AMQP floor p99 (1 caller)"] = one.p(99) / raw.p(99)
    section.figures[f"p50 / AMQP floor p50 ({CALLERS} callers)"] = many.p50 / raw_many.p50
    section.figures[f"AMQP floor calls/s / RPC calls/s ({CALLERS} callers)"] = raw_many.per_second / many.per_second
    section.target("one RPC hop p50, x the raw floor", one.p50 / raw.p50, TARGET_RATIO, at_most=True, unit="x")
    section.target(f"RPC throughput, floor/RPC ({CALLERS} callers)", raw_many.per_second / many.per_second,
                   TARGET_RATIO, at_most=True, unit="x")
    return section
