"""Starting and stopping the local processes: broker check, store, mailbox, services, gateway.

Used by `make run` (deploy/local/stack.py) and by the whole-stack tests, so that the tests start
the system exactly the way a developer does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from services.common.signatures import KeySource

SERVICES = ("identity", "consent", "dossier", "notify", "audit")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(what: str, check: Callable[[], bool], seconds: float, every: float = 0.2) -> None:
    """`every`: how often to check; a port's answer is cheap to ask for often (a test waits less)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise TimeoutError(f"{what} did not answer within {seconds:.0f} s")


def ensure_rabbitmq(amqp_uri: str) -> bool:
    """Make sure the broker answers; return True when we had to start it."""
    url = urlparse(amqp_uri)
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if port_answers(host, port):
        return False
    server = shutil.which("rabbitmq-server")
    if server is None or host not in {"127.0.0.1", "localhost"}:
        sys.exit(
            f"RabbitMQ does not answer at {host}:{port} and cannot be started here. Start a broker "
            "and set AMQP_URI=amqp://user:password@host:5672/ to point at it."
        )
    print("RabbitMQ is not running: starting it with rabbitmq-server -detached", flush=True)
    subprocess.run([server, "-detached"], check=True)  # noqa: S603
    wait_for("RabbitMQ", lambda: port_answers(host, port), 90)
    return True


class Processes:
    """Children started by us, stopped by us (and nothing else)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        child = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            [sys.executable, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
        )
        self.children.append((name, child))
        self.commands[name] = (args, env)
        return child

    def child(self, name: str) -> subprocess.Popen[bytes]:
        return next(child for known, child in self.children if known == name)

    def kill(self, name: str) -> None:
        """SIGKILL one child, as a crash or the OOM killer would: no cleanup, no goodbye."""
        child = self.child(name)
        child.kill()
        child.wait()

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Start a child again as it was first started (same command, environment and log), in its place."""
        old = self.child(name)
        if old.poll() is None:
            raise RuntimeError(f"{name} is still running")
        args, env = self.commands[name]
        self.children = [(known, child) for known, child in self.children if child is not old]
        return self.start(name, args, env)

    def check_alive(self) -> None:
        for name, child in self.children:
            if child.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {child.returncode}; see {self.log_dir / name}.log"
                )

    def stop(self, grace_seconds: float = 10) -> None:
        for _, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for _, child in reversed(self.children):
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (local URL we built)
            return bool(response.status == 200)
    except OSError:
        return False


def services_answer(amqp_uri: str, keys: KeySource) -> bool:
    """True when every service answers its health RPC (their answers verified with `keys`)."""
    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    from services.common.rpc_client import RpcClient

    try:
        with RpcClient(uri=amqp_uri, timeout=3, keys=keys) as cluster:
            return all(getattr(cluster, name).health()["status"] == "ok" for name in SERVICES)
    except Exception:  # not up yet: any failure means "ask again"
        return False


def base_env(overrides: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **overrides}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
