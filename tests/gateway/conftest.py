"""Route tests: the gateway's own app, with plain fakes in place of the services and real signed tokens.
No broker, no store: they run in the fast tier."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import anyio.from_thread
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.keys import SigningKey
from services.common.settings import Settings
from services.common.tokens import issue
from services.gateway import rpc
from services.gateway.app import create_app
from tests.identities import make_ins, make_rpps

INS = make_ins()
PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_gateway_test", ins=INS)
RPPS = make_rpps()
DOCTOR = Actor(kind=ActorKind.PROFESSIONAL, id=f"rpps:{RPPS}", rpps=RPPS, profession="10")


class Calls:
    """A fake service: answers from a table by method, and remembers each call's arguments."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, method: str) -> Any:
        if method not in self.answers:
            raise AttributeError(method)

        def call(*args: Any) -> Any:
            self.calls.append((method, args))
            return self.answers[method]

        return call


@dataclass
class Gateway:
    app: FastAPI
    client: TestClient
    cluster: SimpleNamespace  # each test puts there the fake of the service it calls
    key: SigningKey

    def token(self, actor: Actor) -> str:
        return issue(actor, self.key, Settings.load(), utcnow())

    def bearer(self, actor: Actor) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(actor)}", "X-Request-ID": "req-1"}


@pytest.fixture
def gateway(secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    # TestClient runs the app in an anyio portal thread (green, here), and anyio took the real `get_ident`
    # before tests/conftest.py patched threading for eventlet: every green thread would look like the
    # portal's own and each call into it be refused (tests/e2e/test_served_contract.py). Given the green one,
    # it tells them apart.
    monkeypatch.setattr(anyio.from_thread, "get_ident", threading.get_ident)
    monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", secrets["DMP_TOKEN_PUBLIC_KEYS"])
    cluster = SimpleNamespace()
    app = create_app()
    app.dependency_overrides[rpc.cluster] = lambda: cluster
    # Not entered as a context manager: the lifespan, which follows identity's ended sessions, stays off.
    client = TestClient(app, raise_server_exceptions=False)
    # One event loop (a portal's thread) for all of a test's requests, as a served gateway has, instead of a
    # thread and a loop started for each request; the lifespan stays off all the same.
    with anyio.from_thread.start_blocking_portal(**client.async_backend) as portal:
        client.portal = portal
        yield Gateway(app, client, cluster, SigningKey.parse(secrets["DMP_TOKEN_SIGNING_KEY"]))
        client.portal = None
    client.close()
