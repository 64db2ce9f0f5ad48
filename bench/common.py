"""What every benchmark shares: timing, concurrent callers, the stack it measures, tables and JSON.

Figures are only compared with floors measured in the same run (the machine is shared and noisy);
nothing here asserts anything about time.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deploy.local.processes import Processes, base_env, free_port, port_answers, wait_for
from deploy.local.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench"
# The gateway's per-actor rate limit protects production from one runaway client; a benchmark is
# that client on purpose.
BENCH_ENV = {"DMP_RATE_PER_ACTOR_PER_MINUTE": str(10**9)}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Samples


@dataclass
class Measure:
    """Latencies (ms) of one measure, and its throughput when it ran with concurrent callers."""

    name: str
    samples: list[float]
    callers: int = 1
    elapsed_s: float = 0.0

    @property
    def count(self) -> int:
        return len(self.samples)

    def p(self, q: int) -> float:
        if len(self.samples) < 2:
            return self.samples[0] if self.samples else 0.0
        return statistics.quantiles(self.samples, n=100, method="inclusive")[q - 1]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def per_second(self) -> float:
        """Calls per second: measured over the wall time with concurrent callers, else 1000/mean."""
        if self.elapsed_s > 0:
            return self.count / self.elapsed_s
        return 1000 / statistics.fmean(self.samples) if self.samples else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "callers": self.callers,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p(95), 3),
            "p99_ms": round(self.p(99), 3),
            "per_second": round(self.per_second, 1),
        }


def sequential(name: str, call: Callable[[], object], rounds: int, warmup: int = 10) -> Measure:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Measure(name, samples)


WARMUP = 3  # calls per caller before a concurrent run is timed


def concurrent(
    name: str,
    make_caller: Callable[[int], Callable[[int], object]],
    callers: int,
    rounds: int,
    warmup: int = WARMUP,
) -> Measure:
    """`callers` threads, each with its own caller (its own connection or client), each making `rounds`
    calls (the call gets its sequence number) after `warmup` calls; throughput over the common wall time."""
    samples: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    ready = threading.Barrier(callers + 1)
    done = threading.Barrier(callers + 1)

    def work(index: int) -> None:
        mine: list[float] = []
        try:
            call = make_caller(index)
            for n in range(warmup):
                call(-1 - n)
        except BaseException as error:
            errors.append(error)
        ready.wait()
        try:
            if not errors:
                for n in range(rounds):
                    start = time.perf_counter()
                    call(index * rounds + n)
                    mine.append((time.perf_counter() - start) * 1000)
        except BaseException as error:
            errors.append(error)
        with lock:
            samples.extend(mine)
        done.wait()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(callers)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    done.wait()
    elapsed = time.perf_counter() - start
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{name}: {len(errors)} caller(s) failed") from errors[0]
    return Measure(name, samples, callers, elapsed)


# Reports


@dataclass
class Section:
    """One benchmark's results: rows of measures, derived figures (ratios, rates), target checks."""

    name: str
    measures: list[Measure] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # What one request costs (bench/cpu.py): CPU ms by process and AMQP messages, by kind of request.
    costs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, measure: Measure) -> Measure:
        self.measures.append(measure)
        return measure

    def target(self, what: str, value: float, limit: float, at_most: bool, unit: str = "") -> None:
        met = value <= limit if at_most else value >= limit
        self.targets.append(
            {
                "target": what,
                "value": round(value, 2),
                "limit": limit,
                "comparison": "<=" if at_most else ">=",
                "unit": unit,
                "met": met,
            }
        )

    def print(self) -> None:
        print(f"\n== {self.name}")
        if self.measures:
            print(
                f"{'measure':52} {'n':>6} {'callers':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'per s':>9}"
            )
            for m in self.measures:
                print(
                    f"{m.name:52} {m.count:6d} {m.callers:7d} {m.p50:8.2f} {m.p(95):8.2f} {m.p(99):8.2f} "
                    f"{m.per_second:9.1f}"
                )
        for key, value in self.figures.items():
            print(f"  {key:60} {value:12.2f}")
        for t in self.targets:
            print(
                f"  target: {t['target']:48} {t['value']:10.2f} {t['comparison']} {t['limit']:<8} {t['unit']:6} "
                f"{'met' if t['met'] else 'NOT met'}"
            )
        for kind, cost in self.costs.items():
            by_process = ", ".join(
                f"{name} {ms:.1f}" for name, ms in cost["cpu_ms_by_process"].items()
            )
            print(
                f"  cost of one {kind}: {cost['cpu_ms_total']:.1f} CPU ms ({by_process}); "
                f"{cost['amqp_messages'] if cost['amqp_messages'] is not None else 'uncounted'} AMQP messages; "
                f"idle stack {cost['idle_cpu_ms_per_second']:.0f} CPU ms/s"
            )
        for note in self.notes:
            print(f"  note: {note}")

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.name,
            "measures": [m.summary() for m in self.measures],
            "figures": self.figures,
            "targets": self.targets,
            "notes": self.notes,
            "costs": self.costs,
        }

    def write(self, directory: Path, key: str, context: dict[str, Any]) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{key}.json"
        path.write_text(json.dumps({**context, **self.as_json()}, indent=2))
        return path


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_1_5_15": [round(x, 2) for x in load],
        "command": " ".join(sys.argv),
    }


# The system under test


@contextmanager
def private_vhost(amqp_uri: str) -> Iterator[str]:
    """A virtual host of our own (through the management API), so that other stacks on the same broker
    never answer our calls; deleted afterwards. Yields the AMQP URI pointing at it."""
    from nameko.testing.rabbit import Client as RabbitManager

    broker = urlparse(amqp_uri)
    manager = RabbitManager(f"http://{broker.username}:{broker.password}@{broker.hostname}:15672")
    vhost = f"bench_{uuid.uuid4().hex[:8]}"
    manager.create_vhost(vhost)
    manager.set_vhost_permissions(vhost, broker.username or "guest", ".*", ".*", ".*")
    try:
        yield broker._replace(path=f"/{vhost}").geturl()
    finally:
        manager.delete_vhost(vhost)


def broker_uri() -> str:
    return os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")


@contextmanager
def devstore(data_dir: Path, logs: Path) -> Iterator[str]:
    """An embedded Mongo-wire server on `data_dir` (kept: it may be a cached data set); yields its URI."""
    processes = Processes(logs)
    port = free_port()
    processes.start(
        "devstore",
        ["-m", "deploy.local.devstore", "--port", str(port), "--data-dir", str(data_dir)],
        base_env({}),
    )
    try:
        wait_for(
            "the embedded Mongo-wire server",
            lambda: port_answers("127.0.0.1", port),
            60,
            every=0.05,
        )
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        processes.stop()


@contextmanager
def running_stack(var: Path, mongo_uri: str | None = None) -> Iterator[Stack]:
    """The whole system (every service and the gateway) on a private virtual host."""
    with private_vhost(broker_uri()) as amqp_uri:
        env = {**BENCH_ENV, "AMQP_URI": amqp_uri, "DMP_GATEWAY_PORT": str(free_port())}
        if mongo_uri:
            env["MONGO_URI"] = mongo_uri
        stack = Stack(var=var, env=env)
        log(f"starting the stack (logs in {var / 'log'})...")
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
