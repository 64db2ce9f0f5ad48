"""Fixtures shared by the whole suite. Everything here is real: RabbitMQ (a virtual host per test
through nameko's fixtures), the embedded Mongo-wire server on a free port, an SMTP server."""

import eventlet

eventlet.monkey_patch()  # before anything else imports socket or threading: nameko needs it

import base64  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from deploy.local.processes import free_port, port_answers, wait_for  # noqa: E402
from services.common.tokens import SigningKey  # noqa: E402
from tests.mailbox import Mailbox  # noqa: E402


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    key = SigningKey.generate("test")
    return {
        "DMP_TOKEN_SIGNING_KEY": key.serialise(),
        "DMP_TOKEN_PUBLIC_KEYS": key.public(),
        "DMP_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DMP_DEV_LOGIN": "true",
    }


def _background(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded Mongo-wire server, started once per session on a free port."""
    data = tmp_path_factory.mktemp("mongo")
    port = free_port()
    server = _background(["-m", "deploy.local.devstore", "--port", str(port), "--data-dir", str(data)],
                         data / "server.log")
    wait_for("nx-27017", lambda: port_answers("127.0.0.1", port), 30)
    yield f"mongodb://127.0.0.1:{port}/"
    server.terminate()
    server.wait(10)


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) in its own process; the tests read what it received."""
    folder = tmp_path_factory.mktemp("mail")
    port = free_port()
    server = _background(["-m", "deploy.local.mailbox", "--port", str(port), "--dir", str(folder)],
                         folder.parent / f"{folder.name}.log")
    wait_for("the SMTP server", lambda: port_answers("127.0.0.1", port), 30)
    yield Mailbox(folder, port)
    server.terminate()
    server.wait(10)


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str], mongo_uri: str, smtp_server: Mailbox
) -> dict[str, str]:
    """The environment a service reads, with a database prefix of its own for each test."""
    values = {
        **secrets,
        "MONGO_URI": mongo_uri,
        "DMP_MONGO_DATABASE_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "DMP_OUTBOX_INTERVAL_SECONDS": "0.2",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values
