"""The bus's published contract (services/common/asyncapi.py): what the gateway serves is what the code says,
every RPC with its callers, every event source and subscription, in a document that the official AsyncAPI
3.0.0 schema accepts and whose references all lead somewhere. No broker: the fast tier."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, ValidationError

from services.common.asyncapi import document
from services.common.bus import EVENT_SOURCES, rpc_callers
from services.common.keys import SigningKey
from services.common.signatures import BusKeys, signed_bytes
from services.common.subscriptions import SUBSCRIPTIONS

COMMITTED = resources.files("services.gateway").joinpath("asyncapi.json")
# The official schema, vendored from @asyncapi/specs (tests/data/README.md): the check needs no network.
OFFICIAL_SCHEMA = Path(__file__).parents[1] / "data" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(OFFICIAL_SCHEMA.read_text())
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def causes(error: ValidationError) -> Iterator[ValidationError]:
    """The innermost errors under one: where the schema says "one of" (a message is a Reference or a Message
    Object), its own message only says that none matched."""
    if not error.context:
        yield error
    for cause in error.context:
        yield from causes(cause)


def violations(validator: Draft7Validator, contract: dict[str, Any]) -> list[str]:
    def where(error: ValidationError) -> str:
        return "/".join(map(str, error.absolute_path)) or "(the document)"

    found = []
    for error in sorted(validator.iter_errors(contract), key=where):
        reasons = sorted({f"{where(cause)}: {cause.message[:200]}" for cause in causes(error)})
        found.append("\n    ".join([where(error), *reasons[:8]]))
    return found


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    contract: dict[str, Any] = json.loads(json.dumps(document(), sort_keys=True, default=str))
    return contract


def test_the_committed_contract_is_what_the_code_says(generated: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == generated, (
        "services/gateway/asyncapi.json is stale: python -m services.common.asyncapi > services/gateway/asyncapi.json"
    )


def test_the_contract_is_a_valid_asyncapi_3_document(
    validator: Draft7Validator, generated: dict[str, Any]
) -> None:
    problems = violations(validator, generated)
    assert not problems, "the official AsyncAPI 3.0.0 schema refuses the contract:\n" + "\n".join(
        problems
    )


BREAKAGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "operations/dossier.status": lambda contract: contract["operations"]["dossier.status"].update(
        action="call"
    ),
    "channels/dossier.events": lambda contract: contract["channels"]["dossier.events"].update(
        adress="{type}"
    ),
    "components/messages/event": lambda contract: contract["components"]["messages"][
        "event"
    ].update(payload={"type": "a thing"}),
    "(the document)": lambda contract: contract.pop("info"),
}


@pytest.mark.parametrize("place", BREAKAGES)
def test_the_schema_check_finds_a_broken_contract(
    validator: Draft7Validator, generated: dict[str, Any], place: str
) -> None:
    broken = copy.deepcopy(generated)
    # One message of the 167 kept (references are not followed by the schema check): the messages' payloads
    # are most of its work and none of these breakages; the test above checks them all.
    broken["components"]["messages"] = {"event": broken["components"]["messages"]["event"]}
    BREAKAGES[place](broken)
    assert [problem.partition("\n")[0] for problem in violations(validator, broken)] == [place]


def references(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_every_reference_in_the_contract_resolves(generated: dict[str, Any]) -> None:
    """The schema cannot tell: a `$ref` is resolved against the whole document, so pydantic's `#/$defs/...`
    inside a payload would lead nowhere for any AsyncAPI tool."""
    unresolved = []
    for reference in set(references(generated)):
        node: Any = generated
        for step in reference.removeprefix("#/").split("/"):
            node = (
                node.get(step.replace("~1", "/").replace("~0", "~"))
                if isinstance(node, dict)
                else None
            )
        if not reference.startswith("#/") or node is None:
            unresolved.append(reference)
    assert not unresolved, sorted(unresolved)


def test_every_rpc_is_published_with_who_may_call_it(generated: dict[str, Any]) -> None:
    assert generated["asyncapi"] == "3.0.0"
    for name, callers in rpc_callers().items():
        operation = generated["operations"][name]
        assert operation["x-dmp-callers"] == sorted(callers), name
        assert generated["channels"][name]["address"] == name
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        for reference in [
            *generated["channels"][name]["messages"].values(),
            *operation["reply"]["messages"],
        ]:
            assert (
                reference["$ref"].removeprefix("#/components/messages/")
                in generated["components"]["messages"]
            )
    grant = generated["components"]["messages"]["consent.grant.request"]["payload"]["properties"]
    assert set(grant["kwargs"]["properties"]) == {"token", "ins", "action"}
    assert [item["title"] for item in grant["args"]["items"]] == [
        "token",
        "ins",
        "action",
    ]  # the signature's order


def test_every_event_source_and_subscription_is_published(generated: dict[str, Any]) -> None:
    for source in EVENT_SOURCES:
        exchange = generated["channels"][f"{source}.events"]["bindings"]["amqp"]["exchange"]
        assert exchange["name"] == f"{source}.events"
        assert generated["operations"][f"{source}.emits"]["action"] == "send"
    for subscription in SUBSCRIPTIONS:
        operation = generated["operations"][f"{subscription.consumer}.from-{subscription.source}"]
        assert operation["x-dmp-event-types"] == list(subscription.event_types)
    envelope = generated["components"]["messages"]["event"]["payload"]
    assert {"type", "source", "occurred_at"} <= set(
        envelope["required"]
    ) and "event_id" in envelope["properties"]


def test_every_reply_and_event_says_how_it_is_signed(generated: dict[str, Any]) -> None:
    """The contract's signature headers are the ones the bus's signer writes, and it spells what is signed as
    the signer builds it: a partner verifying from the contract verifies what the services sign."""
    messages, traits = generated["components"]["messages"], generated["components"]["messageTraits"]
    keys = BusKeys({"dossier": SigningKey.generate("dossier.1")}, {})
    for trait, answers in (("signedEvent", ""), ("signedReply", "dossier.status")):
        written = keys.sign("dossier", "dossier.events", "document_added", b"{}", answers=answers)
        assert traits[trait]["headers"]["required"] == sorted(written), trait
        assert (
            json.dumps(
                signed_bytes(
                    "<exchange>", "<routing key>", "<correlation id>", "<x-dmp-answers>", b""
                ).decode()
            )
            in traits[trait]["description"]
        )
    assert messages["event"]["traits"] == [{"$ref": "#/components/messageTraits/signedEvent"}]
    for name in rpc_callers():
        assert messages[f"{name}.reply"]["traits"] == [
            {"$ref": "#/components/messageTraits/signedReply"}
        ], name
