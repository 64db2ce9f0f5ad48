"""What a request costs, in figures a noisy machine does not move: CPU time of every process of the stack
(and the broker's), and AMQP messages published, each divided by the requests made.

CPU seconds are read from the kernel for each process (psutil: user + system of the process), before and
after a measured run; a neighbour's load slows a run down but does not add to these processes' CPU time.
The broker is shared with other runs on the same machine, so its figure is an upper bound. AMQP messages are
the broker's own count of messages published into the stack's private virtual host (management API).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlparse

import httpx
import psutil

from deploy.local.stack import Stack

BROKER = "beam.smp"  # RabbitMQ's Erlang VM
STATISTICS_INTERVAL = 5.5  # seconds: the broker's statistics refresh, and a margin


def stack_processes(stack: Stack) -> dict[str, psutil.Process]:
    """The stack's own processes by name, and the broker's."""
    processes = {
        name: psutil.Process(child.pid)
        for name, child in stack.processes.children
        if child.poll() is None
    }
    broker = next((p for p in psutil.process_iter(["name"]) if p.info["name"] == BROKER), None)
    if broker is not None:
        processes["broker"] = broker
    return processes


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    seconds = {}
    for name, process in processes.items():
        times = process.cpu_times()
        seconds[name] = times.user + times.system
    return seconds


def vhost_state(amqp_uri: str) -> dict[str, Any]:
    """The broker's view of the URI's virtual host (management API): message counts and stats."""
    broker = urlparse(amqp_uri)
    vhost = unquote(broker.path.lstrip("/")) or "/"
    response = httpx.get(
        f"http://{broker.hostname}:15672/api/vhosts/{quote(vhost, safe='')}",
        auth=(broker.username or "guest", broker.password or "guest"),
    )
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def published(amqp_uri: str, stable_for: float = 0) -> int:
    """Messages published in the virtual host so far, as the broker counts them. The broker refreshes its
    statistics every few seconds (collect_statistics_interval, 5 s by default): with `stable_for`, the
    count is read again until it has not moved for that long."""

    def count() -> int:
        return int((vhost_state(amqp_uri).get("message_stats") or {}).get("publish", 0))

    value, deadline = count(), time.monotonic() + 30
    while stable_for and time.monotonic() < deadline:
        time.sleep(stable_for)
        again = count()
        if again == value:
            break
        value = again
    return value


def settle(amqp_uri: str, processes: dict[str, psutil.Process], patience: float = 60) -> None:
    """Wait until the work requests caused is done: no message waiting in any queue, and the stack's CPU
    back to its idle rate (the asynchronous consumers have finished)."""
    deadline = time.monotonic() + patience
    quiet = 0
    while time.monotonic() < deadline and quiet < 3:
        before = sum(cpu_seconds(processes).values())
        time.sleep(0.5)
        busy = sum(cpu_seconds(processes).values()) - before
        waiting = int(vhost_state(amqp_uri).get("messages") or 0)
        quiet = quiet + 1 if waiting == 0 and busy < 0.25 else 0  # under half a core


def idle_rate(processes: dict[str, psutil.Process], seconds: float = 2) -> dict[str, float]:
    """CPU seconds per second each process burns with nothing to do (timers, outbox sweeps)."""
    before = cpu_seconds(processes)
    time.sleep(seconds)
    after = cpu_seconds(processes)
    return {name: (after[name] - before[name]) / seconds for name in after}


@dataclass
class Cost:
    """CPU ms per request by process (the idle rate over the run's duration taken out), and AMQP messages
    per request, for one measured run."""

    requests: int = 0
    cpu_ms: dict[str, float] = field(default_factory=dict)
    amqp_messages: float | None = None  # not counted in a quick run
    idle_cpu_ms_per_second: float = 0.0

    @property
    def total_cpu_ms(self) -> float:
        return sum(self.cpu_ms.values())

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cpu_ms_total": round(self.total_cpu_ms, 2),
            "cpu_ms_by_process": {name: round(ms, 2) for name, ms in sorted(self.cpu_ms.items())},
            "amqp_messages": None if self.amqp_messages is None else round(self.amqp_messages, 2),
            "idle_cpu_ms_per_second": round(self.idle_cpu_ms_per_second, 1),
        }


@contextmanager
def metered(stack: Stack, requests: int, count_messages: bool = True) -> Iterator[Cost]:
    """Measure the cost of the `requests` made inside the block, the asynchronous work they cause (traces,
    mails) included: the block is followed by a wait until the stack is idle again. Counting AMQP messages
    waits for the broker's statistics (about 6 s before and after): the quick run leaves them out."""
    uri = stack.env["AMQP_URI"]
    processes = stack_processes(stack)
    settle(uri, processes)
    idle = idle_rate(processes)
    messages = published(uri, stable_for=STATISTICS_INTERVAL) if count_messages else 0
    before, started = cpu_seconds(processes), time.monotonic()
    cost = Cost(requests=max(1, requests), idle_cpu_ms_per_second=sum(idle.values()) * 1000)
    yield cost
    settle(uri, processes)
    after, elapsed = cpu_seconds(processes), time.monotonic() - started
    cost.cpu_ms = {
        name: max(0.0, after[name] - before[name] - idle[name] * elapsed) * 1000 / cost.requests
        for name in after
    }
    if count_messages:
        cost.amqp_messages = (
            published(uri, stable_for=STATISTICS_INTERVAL) - messages
        ) / cost.requests
