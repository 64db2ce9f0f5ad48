"""Calling the services from the gateway's worker threads.

The RPC client (services/common/rpc_client.py, nameko's standalone client on one lasting reply
connection) is not safe to share between threads (a shared client timed out under 20 concurrent
requests and wedged the pool), so each worker thread gets its own, started on first use and kept
for the thread's life. Endpoints that call services are plain `def` (run in the
thread pool), never `async def`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from starlette.datastructures import State

from services.common.rpc_client import Cluster, OnwardCluster, RpcClient
from services.common.settings import Settings
from services.common.tokens import Verified, credential
from services.gateway.app_settings import of_app

log = logging.getLogger("dmp.gateway")

_local = threading.local()
_clients: list[RpcClient] = []
_lock = threading.Lock()
# Bumped when the broker connection was lost: every thread then starts a fresh client.
_generation = 0
_settings: Settings | None = None  # the app's (create_app calls `use`)


def use(settings: Settings) -> None:
    """The settings the clients of this process are made with: the app's, handed over once at its start."""
    global _settings
    _settings = settings


def _configured() -> Settings:
    if _settings is None:
        raise RuntimeError("services() called before create_app handed over the settings")
    return _settings


def services() -> Cluster:
    """The calling thread's cluster proxy: `services().dossier.search(token, ins)`. The user's access token
    goes no further: each service gets a credential addressed to it instead (services/common/tokens.py)."""
    proxy = getattr(_local, "proxy", None)
    if proxy is None or getattr(_local, "generation", None) != _generation:
        _drop(getattr(_local, "client", None))
        settings = _configured()
        client = RpcClient(
            uri=settings.amqp_uri,
            timeout=settings.rpc_timeout_seconds,
            keys=settings.bus_keys,
            reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
        )
        proxy = OnwardCluster(client.start(), "gateway", settings)
        _local.proxy, _local.client, _local.generation = proxy, client, _generation
        with _lock:
            _clients.append(client)
    return cast(Cluster, proxy)


# On request.state: each token verified in this request (auth.py).
VERIFIED_TOKENS = "verified_tokens"


class RequestCluster:
    """The services as one request's routes call them. Each is looked up in the thread that calls it: FastAPI
    runs a route's dependencies and the route in different worker threads, so a dependency must not hand over
    one thread's client. A token this request verified goes as a credential minted from that verification
    (services/common/tokens.py), so that its signature is not checked again at each call."""

    def __init__(self, state: State, settings: Settings) -> None:
        self._state, self._settings = state, settings

    def __getattr__(self, service: str) -> RequestService:
        return RequestService(self._state, service, self._settings)


class RequestService:
    def __init__(self, state: State, service: str, settings: Settings) -> None:
        self._state, self._service, self._settings = state, service, settings

    def __getattr__(self, method: str) -> Callable[..., Any]:
        target = getattr(getattr(services(), self._service), method)

        def call(*args: Any, **kwargs: Any) -> Any:
            return target(*self._credentials(args), **kwargs)

        return call

    def _credentials(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        verified: dict[str, object] = getattr(self._state, VERIFIED_TOKENS, {})
        sessions = [verified.get(arg) if isinstance(arg, str) else None for arg in args]
        # anything else goes as it is, to OnwardCluster, which makes credentials of the tokens it verifies
        return tuple(
            credential(session, "gateway", self._service, self._settings)
            if isinstance(session, Verified)
            else arg
            for arg, session in zip(args, sessions, strict=True)
        )


async def cluster(request: Request) -> Cluster:
    """The routes' services, as a dependency so that a test can put fakes in their place
    (`app.dependency_overrides[cluster]`). `async`: nothing to run in a worker thread."""
    return cast(Cluster, RequestCluster(request.state, of_app(request.app)))


Services = Annotated[Cluster, Depends(cluster)]


def discard_clients() -> None:
    """After a lost broker connection: each thread's client is replaced at its next call."""
    global _generation
    with _lock:
        _generation += 1


def _drop(client: RpcClient | None) -> None:
    if client is None:
        return
    with _lock:
        if client in _clients:
            _clients.remove(client)
    try:
        client.stop()
    except Exception:  # its connection is already gone; nothing else to release
        log.debug("stopping a stale RPC client failed", exc_info=True)


def close_all() -> None:
    with _lock:
        for client in _clients:
            client.stop()
        _clients.clear()
