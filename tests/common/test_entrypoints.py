"""The guarded RPC entrypoint answers an outage the method met as ServiceUnavailable (the gateway's 503 +
Retry-After, a cue to retry), never as an unexpected error (a 500)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from kombu.exceptions import OperationalError
from nameko import config
from nameko.exceptions import RemoteError
from pymongo.errors import AutoReconnect

from services.common.entrypoints import rpc
from services.common.errors import ConfigurationError, ServiceUnavailable
from services.common.rpc_client import RpcClient
from services.common.settings import Settings


class Outages:
    name = "outages"

    @rpc
    def broker_gone(self) -> None:
        raise OperationalError(
            "[Errno 111] ECONNREFUSED"
        )  # what a call to another service raises then

    @rpc
    def store_gone(self) -> None:
        raise AutoReconnect("connection reset")

    @rpc
    def bug(self) -> None:
        raise KeyError("a bug stays a bug")


@pytest.fixture
def outages(rabbit_config: None, container_factory: Any) -> Iterator[Any]:
    container_factory(Outages).start()
    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as cluster:
        yield cast(Any, cluster).outages


@pytest.mark.parametrize(
    ("method", "what"), [("broker_gone", "message broker"), ("store_gone", "record store")]
)
def test_an_outage_met_by_a_method_answers_service_unavailable(
    outages: Any, method: str, what: str
) -> None:
    with pytest.raises(ServiceUnavailable, match=f"the {what} is briefly unavailable"):
        getattr(outages, method)()


def test_any_other_error_is_not_disguised_as_an_outage(outages: Any) -> None:
    with pytest.raises(RemoteError) as raised:
        outages.bug()
    assert raised.value.exc_type == "KeyError"


def test_outside_development_a_service_refuses_to_start_on_a_shared_broker_user(
    rabbit_config: None, container_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one user for every process nobody's identity can be told on the bus: development only."""
    monkeypatch.setenv("DMP_DEV_LOGIN", "false")
    with pytest.raises(ConfigurationError, match="its own broker user"):
        container_factory(Outages).start()
