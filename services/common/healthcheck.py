"""Probe one service from inside its container: `python -m services.common.healthcheck dossier`.

Kubernetes runs it as the nameko services' probes (deploy/k8s/base):
- readiness (default mode): the broker at AMQP_URI accepts a connection and the store at MONGO_URI
  answers a ping, each within `--timeout` seconds;
- liveness (`--live`): the service process's heartbeat file (written every few seconds by the
  launcher's event loop) is fresh. It does not look at the broker or the store on purpose: a
  Mongo outage must make pods unready, not restart every replica in a loop.

Exit status 0 when healthy, 1 with one line per failed check on stderr (credentials removed from
the addresses, no stack trace).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

SERVICES = ("identity", "consent", "dossier", "notify", "audit")
HEARTBEAT_SECONDS = 5.0


def heartbeat_path(service: str) -> Path:
    """Where the launcher of `service` touches its heartbeat (an emptyDir on /tmp in Kubernetes)."""
    return Path(tempfile.gettempdir()) / f"dmp-{service}.alive"


def where(uri: str) -> str:
    """host:port of a broker or store address, never its user name or password."""
    try:
        parts = urlsplit(uri)
        hosts = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "an unparsable address"
    return f"{parts.scheme}://{hosts}" if hosts else f"{parts.scheme}://(default host)"


@dataclass(frozen=True)
class Check:
    name: str
    problem: str | None  # None when the check passed

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_broker(amqp_uri: str, timeout: float) -> Check:
    from kombu.connection import Connection

    try:
        with Connection(amqp_uri, connect_timeout=timeout) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:  # any failure to connect is the answer, whatever its class
        return Check(
            "broker", f"broker unreachable at {where(amqp_uri)}: {type(error).__name__}: {error}"
        )
    return Check("broker", None)


def check_store(mongo_uri: str, timeout: float) -> Check:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    millis = int(timeout * 1000)
    try:
        client: MongoClient[dict[str, object]] = MongoClient(
            mongo_uri,
            serverSelectionTimeoutMS=millis,
            connectTimeoutMS=millis,
            socketTimeoutMS=millis,
        )
    except (PyMongoError, ValueError) as error:
        return Check("store", f"store address is invalid: {type(error).__name__}: {error}")
    try:
        client.admin.command("ping")
    except PyMongoError as error:
        first_line = (
            str(error).split("\n")[0].split(" (configured timeouts")[0].split(", Timeout:")[0]
        )
        return Check(
            "store",
            f"store unreachable at {where(mongo_uri)}: {type(error).__name__}: {first_line}",
        )
    finally:
        client.close()
    return Check("store", None)


def check_heartbeat(service: str, max_age: float, now: float | None = None) -> Check:
    path = heartbeat_path(service)
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return Check(
            "heartbeat",
            f"no heartbeat at {path}: the {service} service has not started its event loop",
        )
    if age > max_age:
        return Check(
            "heartbeat",
            f"heartbeat at {path} is {age:.0f} s old (limit {max_age:.0f} s): "
            "the event loop is stuck",
        )
    return Check("heartbeat", None)


def run_checks(service: str, live: bool, timeout: float, max_age: float) -> list[Check]:
    if live:
        return [check_heartbeat(service, max_age)]
    from services.common.settings import Settings

    settings = Settings.load()
    return [check_broker(settings.amqp_uri, timeout), check_store(settings.mongo_uri, timeout)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument(
        "--live", action="store_true", help="liveness: only the process's heartbeat"
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds for each of broker and store"
    )
    parser.add_argument(
        "--max-age", type=float, default=30.0, help="oldest acceptable heartbeat, seconds"
    )
    args = parser.parse_args(argv)
    try:
        checks = run_checks(args.service, args.live, args.timeout, args.max_age)
    except Exception as error:  # e.g. a malformed setting: say so on one line
        print(f"{args.service} unhealthy: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    failed = [check for check in checks if not check.ok]
    for check in failed:
        print(f"{args.service} unhealthy: {check.problem}", file=sys.stderr)
    if not failed:
        print(f"{args.service} healthy: {', '.join(check.name for check in checks)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
