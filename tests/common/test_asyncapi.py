"""The bus's published contract (services/common/asyncapi.py): what the gateway serves is what the code says,
every RPC with its callers, every event source and subscription. No broker: the fast tier."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from services.common.asyncapi import document
from services.common.bus import EVENT_SOURCES, rpc_callers
from services.common.subscriptions import SUBSCRIPTIONS

COMMITTED = resources.files("services.gateway").joinpath("asyncapi.json")


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    contract: dict[str, Any] = json.loads(json.dumps(document(), sort_keys=True, default=str))
    return contract


def test_the_committed_contract_is_what_the_code_says(generated: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == generated, (
        "services/gateway/asyncapi.json is stale: python -m services.common.asyncapi > services/gateway/asyncapi.json")


def test_every_rpc_is_published_with_who_may_call_it(generated: dict[str, Any]) -> None:
    assert generated["asyncapi"] == "3.0.0"
    for name, callers in rpc_callers().items():
        operation = generated["operations"][name]
        assert operation["x-dmp-callers"] == sorted(callers), name
        assert generated["channels"][name]["address"] == name
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        for reference in [*generated["channels"][name]["messages"].values(), *operation["reply"]["messages"]]:
            assert reference["$ref"].removeprefix("#/components/messages/") in generated["components"]["messages"]
    grant = generated["components"]["messages"]["consent.grant.request"]["payload"]["properties"]["kwargs"]
    assert set(grant["properties"]) == {"token", "ins", "action"}


def test_every_event_source_and_subscription_is_published(generated: dict[str, Any]) -> None:
    for source in EVENT_SOURCES:
        exchange = generated["channels"][f"{source}.events"]["bindings"]["amqp"]["exchange"]
        assert exchange["name"] == f"{source}.events"
        assert generated["operations"][f"{source}.emits"]["action"] == "send"
    for subscription in SUBSCRIPTIONS:
        operation = generated["operations"][f"{subscription.consumer}.from-{subscription.source}"]
        assert operation["x-dmp-event-types"] == list(subscription.event_types)
    envelope = generated["components"]["messages"]["event"]["payload"]
    assert {"type", "source", "occurred_at"} <= set(envelope["required"]) and "event_id" in envelope["properties"]
