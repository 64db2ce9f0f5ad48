"""The bus's contract for other services, as an AsyncAPI 3.0 document generated from the code: every RPC
method (its arguments and answer, from its signature; who may call it, from `@rpc(callers=...)`), every
event source (the envelope, from services/common/events.py) and every durable subscription.

    python -m services.common.asyncapi > services/gateway/asyncapi.json   # after changing an RPC or a subscription

The gateway serves the committed document at /api/v1/asyncapi.json; a test fails when it differs from
what the code says, when the official AsyncAPI 3.0.0 schema refuses it or when one of its references leads
nowhere (tests/common/test_asyncapi.py), so the published contract cannot drift nor mislead a tool.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any

from pydantic import BaseModel, TypeAdapter

from services.common.bus import EVENT_SOURCES, RPC_EXCHANGE, events_exchange, service_classes
from services.common.deadletters import CALLERS
from services.common.events import Event
from services.common.subscriptions import SUBSCRIPTIONS

VERSION = "1.1.0"
SCHEMAS = "#/components/schemas/"


def _hoisted(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its definitions moved to components/schemas: a `$ref` in an AsyncAPI document is
    resolved against the whole document, where pydantic's `#/$defs/...` would point at nothing."""
    for name, definition in schema.pop("$defs", {}).items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different types are both named {name}: the contract would confuse them")
    return schema


def _schema(annotation: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    try:
        schema: dict[str, Any] = TypeAdapter(annotation).json_schema(ref_template=SCHEMAS + "{model}")
    except Exception:  # a type pydantic cannot describe: the contract says nothing rather than something wrong
        return {}
    return _hoisted(schema, schemas)


def _model(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    return _hoisted(model.model_json_schema(ref_template=SCHEMAS + "{model}"), schemas)


def _titled(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    # beside a $ref, draft 7 ignores every other keyword: the reference goes one level down
    return {"title": name, "allOf": [schema]} if "$ref" in schema else {**schema, "title": name}


def _rpc(service: str, attribute: str, method: Any, schemas: dict[str, Any]
         ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(channel, operation, messages) of one RPC method."""
    hints = typing.get_type_hints(method)
    parameters = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
    arguments = {p.name: {**_schema(hints.get(p.name, p.annotation), schemas),
                          **({} if p.default is inspect.Parameter.empty else {"default": p.default})}
                 for p in parameters}
    required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
    name = f"{service}.{attribute}"
    request = {
        "name": f"{name}.request",
        "contentType": "application/json",
        "payload": {"type": "object", "required": ["args", "kwargs"], "properties": {
            # positional items titled with their names: the order is the contract's to say, not the reader's
            # to guess (the document's keys are sorted)
            "args": {"type": "array", "maxItems": len(parameters),
                     **({"items": [_titled(argument, schema) for argument, schema in arguments.items()],
                         "additionalItems": False} if arguments else {}),
                     "description": f"the arguments in this order: {', '.join(arguments) or 'none'} "
                                    f"(required: {', '.join(required) or 'none'}), or some by name in kwargs"},
            "kwargs": {"type": "object", "properties": arguments, "additionalProperties": False},
        }},
    }
    reply = {
        "name": f"{name}.reply",
        "contentType": "application/json",
        "payload": {"type": "object", "properties": {
            "result": _schema(hints.get("return", inspect.Parameter.empty), schemas),
            "error": {"type": ["object", "null"], "description": "nameko's error: exc_type, value, exc_args"},
        }},
    }
    channel = {
        "address": name,
        "messages": {"request": {"$ref": f"#/components/messages/{name}.request"}},
        "bindings": {"amqp": {"is": "routingKey", "exchange": {"name": RPC_EXCHANGE, "type": "topic",
                                                                 "durable": True}}},
    }
    summary = (inspect.getdoc(method) or "").split("\n\n")[0].replace("\n", " ")
    operation = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{name}"},
        "summary": summary,
        "x-dmp-callers": sorted(getattr(method, CALLERS)),
        "reply": {"address": {"location": "$message.header#/reply_to"},
                  "messages": [{"$ref": f"#/components/messages/{name}.reply"}]},
    }
    return channel, operation, {f"{name}.request": request, f"{name}.reply": reply}


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {"event": {
        "name": "event", "contentType": "application/json", "payload": _model(Event, schemas),
        "summary": "An event: ids and codes only, signed by its source (x-dmp-kid, x-dmp-signature)"}}
    for cls in service_classes():
        for attribute in sorted(dir(cls)):
            method = getattr(cls, attribute)
            if getattr(method, CALLERS, None) is None:
                continue
            channel, operation, more = _rpc(cls.name, attribute, method, schemas)
            channels[f"{cls.name}.{attribute}"] = channel
            operations[f"{cls.name}.{attribute}"] = operation
            messages.update(more)
    for source in EVENT_SOURCES:
        channels[f"{source}.events"] = {
            "address": "{type}", "parameters": {"type": {"description": "the event's type"}},
            "messages": {"event": {"$ref": "#/components/messages/event"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": {"name": events_exchange(source),
                                                                     "type": "topic", "durable": True}}},
        }
        operations[f"{source}.emits"] = {"action": "send", "channel": {"$ref": f"#/channels/{source}.events"},
                                         "summary": f"Events of {source}, signed by {source} alone"}
    for subscription in SUBSCRIPTIONS:
        operations[f"{subscription.consumer}.from-{subscription.source}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{subscription.source}.events"},
            "summary": f"{subscription.consumer} consumes the durable queue {subscription.queue.name}",
            "x-dmp-event-types": list(subscription.event_types),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Dossier Médical Partagé: the bus", "version": VERSION, "description": (
            "RPC over nameko (exchange nameko-rpc, routing key service.method) and events (exchange "
            "<source>.events, routing key the event's type). Every principal connects as its own broker user "
            "and names it in user_id; replies and events are signed (docs/operations.md). x-dmp-callers: "
            "who may call a method (clients: the gateway and admitted external services, with a user's "
            "access token; operators; everyone; or services by name).")},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def main() -> None:
    print(json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
