"""Calling the services from the gateway's worker threads.

nameko's standalone client is not safe to share between threads (a shared client timed out under
20 concurrent requests and wedged the pool), so each worker thread gets its own, started on first
use and kept for the thread's life. Endpoints that call services are plain `def` (run in the
thread pool), never `async def`.
"""

from __future__ import annotations

import threading
from typing import Any

from nameko.standalone.rpc import ClusterRpcClient

from services.common.settings import Settings

_local = threading.local()
_clients: list[ClusterRpcClient] = []
_lock = threading.Lock()


def services() -> Any:
    """The calling thread's cluster proxy: `services().dossier.search(token, ins)`."""
    proxy = getattr(_local, "proxy", None)
    if proxy is None:
        settings = Settings.from_env()
        client = ClusterRpcClient(
            uri=settings.amqp_uri, timeout=settings.rpc_timeout_seconds
        )
        proxy = client.start()
        _local.proxy = proxy
        with _lock:
            _clients.append(client)
    return proxy


def close_all() -> None:
    with _lock:
        for client in _clients:
            client.stop()
        _clients.clear()
