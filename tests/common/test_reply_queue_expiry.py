"""Issue 17 item 11: a client left idle past its reply queue's expiry answers the next call.

While a gateway sits idle nobody drives its reply connection: no heartbeat goes out, the broker drops
the connection, and the reply queue, consumed by nobody, expires. Before, every later call on that
client answered ReplyQueueExpiredWithPendingReplies (a 500) for ever. Real broker; the expiry is
made short through DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS.
"""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from amqp.exceptions import NotFound
from kombu.connection import Connection
from nameko import config

from services.common.entrypoints import rpc
from services.common.rpc_client import RpcClient
from services.common.settings import Settings
from tests.proxy import TcpProxy


class Echo:
    name = "echo"

    @rpc
    def echo(self, value: Any) -> Any:
        return value


@pytest.fixture
def echo(rabbit_config: None, container_factory: Any) -> None:
    container_factory(Echo).start()


def queue_exists(name: str) -> bool:
    with Connection(config["AMQP_URI"]) as connection:  # type: ignore[no-untyped-call]
        try:
            connection.default_channel.queue_declare(name, passive=True)
        except NotFound:
            return False
    return True


def test_item11_reply_queue_expiry_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.load().rpc_reply_queue_expiry_seconds == 300  # nameko's own default
    monkeypatch.setenv("DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS", "7")
    settings = Settings.load()
    assert settings.rpc_reply_queue_expiry_seconds == 7
    client = RpcClient(
        uri="pyamqp://guest:guest@127.0.0.1:5672/",
        timeout=1,
        keys=Settings.load().bus_keys,
        reply_expiry_seconds=settings.rpc_reply_queue_expiry_seconds,
    )
    assert client.reply_listener.queue.queue_arguments["x-expires"] == 7000


def test_item11_a_client_idle_past_the_reply_queue_expiry_answers_the_next_calls(
    echo: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS", "2")
    parts = urlsplit(config["AMQP_URI"])
    proxy = TcpProxy(parts.port or 5672)
    proxy.start()
    client = RpcClient(
        uri=config["AMQP_URI"],
        timeout=10,
        keys=Settings.load().bus_keys,
        reply_expiry_seconds=Settings.load().rpc_reply_queue_expiry_seconds,
    )
    # the reply connection goes through a proxy the test cuts, as the broker drops an idle connection
    # (no heartbeat went out); the publisher's own connection, without heartbeat, stays up, as it does
    client.reply_listener.amqp_uri = urlunsplit(
        parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    )
    try:
        with client as cluster:
            assert cast(Any, cluster).echo.echo("evening") == "evening"
            queue = client.reply_listener.queue.name
            proxy.cut()  # the night
            time.sleep(5)  # not polled meanwhile: a (passive) declaration renews the queue's lease
            assert not queue_exists(queue), "the idle reply queue did not expire"
            proxy.restore()
            assert cast(Any, cluster).echo.echo("morning") == "morning"
            assert [cast(Any, cluster).echo.echo(n) for n in range(5)] == list(range(5))
    finally:
        proxy.stop()
