"""The RPC client used from outside the services (gateway, commands, benchmarks): one lasting reply
connection that survives the broker going away between calls, and timeouts that leave it usable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import eventlet
import pytest
from nameko import config
from nameko.exceptions import RpcTimeout

from services.common.entrypoints import rpc
from services.common.rpc_client import RpcClient, ServiceRpc
from services.common.settings import Settings
from tests.proxy import TcpProxy
from tests.queues import connect


class Echo:
    name = "echo"

    @rpc
    def echo(self, value: Any) -> Any:
        return value

    @rpc
    def slow(self, seconds: float) -> str:
        eventlet.sleep(seconds)
        return "late"


@pytest.fixture
def echo(rabbit_config: None, container_factory: Any) -> None:
    container_factory(Echo).start()


@pytest.fixture
def broker_behind_proxy(echo: None) -> Iterator[tuple[TcpProxy, str]]:
    """The client reaches the broker through a proxy the test cuts; the service does not."""
    parts = urlsplit(config["AMQP_URI"])
    proxy = TcpProxy(parts.port or 5672)
    proxy.start()
    yield (
        proxy,
        urlunsplit(
            parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
        ),
    )
    proxy.stop()


def test_many_calls_share_one_reply_connection(echo: None) -> None:
    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as cluster:
        assert [cast(Any, cluster).echo.echo(n) for n in range(50)] == list(range(50))


def test_calls_work_again_after_the_broker_went_away_between_them(
    broker_behind_proxy: tuple[TcpProxy, str],
) -> None:
    proxy, uri = broker_behind_proxy
    with RpcClient(uri=uri, timeout=30, keys=Settings.load().bus_keys) as cluster:
        assert cast(Any, cluster).echo.echo("before") == "before"
        proxy.cut()
        time.sleep(0.5)
        proxy.restore()
        assert cast(Any, cluster).echo.echo("after") == "after"


def test_a_timeout_leaves_the_client_usable(echo: None) -> None:
    with RpcClient(uri=config["AMQP_URI"], timeout=1, keys=Settings.load().bus_keys) as cluster:
        with pytest.raises(RpcTimeout):
            cast(Any, cluster).echo.slow(3)
        time.sleep(2.5)  # the late answer arrives meanwhile and is dropped (its caller gave up)
        assert cast(Any, cluster).echo.echo("next") == "next"


class Caller:
    name = "caller"
    echo = ServiceRpc("echo")

    @rpc
    def relay(self, value: Any) -> Any:
        return self.echo.echo(value)


def test_a_service_s_reply_queue_exists_before_anything_starts(
    echo: None, container_factory: Any
) -> None:
    """nameko starts a container's extensions all at once, so a worker may wait for a reply before the
    reply listener first connects; the listener must then find its queue (or it dies, and the service
    never hears an answer again)."""
    container = container_factory(Caller)
    container.extensions.all.setup()  # what container.start() does before starting anything
    listener = next(e for e in container.extensions if isinstance(e, ServiceRpc)).reply_listener
    with connect() as connection:
        assert listener.queue.bind(connection.default_channel).queue_declare(passive=True)
    container.extensions.all.start()
    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as cluster:
        assert cast(Any, cluster).caller.relay("through") == "through"
