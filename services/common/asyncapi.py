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

from services.common.bus import (
    EVENT_SOURCES,
    RPC_EXCHANGE,
    events_exchange,
    reply_queue_prefix,
    service_classes,
)
from services.common.deadletters import CALLERS
from services.common.events import Event
from services.common.signatures import (
    ANSWERS,
    KID,
    PUBLIC_KEYS,
    REQUEST_SECONDS,
    SENT,
    SIGNATURE,
    request_bytes,
    signed_bytes,
)
from services.common.subscriptions import SUBSCRIPTIONS, Subscription

VERSION = "1.2.0"
SCHEMAS = "#/components/schemas/"
# What a signature covers, spelt by the function that signs: the contract changes when the signing does.
SIGNED_BYTES = signed_bytes(
    "<exchange>", "<routing key>", "<correlation id>", f"<{ANSWERS}>", b""
).decode()
REQUEST_BYTES = request_bytes(
    "<exchange>", "<routing key>", "<correlation id>", "<reply_to>", f"<{SENT}>", b""
).decode()


def _hoisted(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its definitions moved to components/schemas: a `$ref` in an AsyncAPI document is
    resolved against the whole document, where pydantic's `#/$defs/...` would point at nothing."""
    for name, definition in schema.pop("$defs", {}).items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(
                f"two different types are both named {name}: the contract would confuse them"
            )
    return schema


def _schema(annotation: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    try:
        schema: dict[str, Any] = TypeAdapter(annotation).json_schema(
            ref_template=SCHEMAS + "{model}"
        )
    except (
        Exception
    ):  # a type pydantic cannot describe: the contract says nothing rather than something wrong
        return {}
    return _hoisted(schema, schemas)


def _model(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    return _hoisted(model.model_json_schema(ref_template=SCHEMAS + "{model}"), schemas)


def _titled(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    # beside a $ref, draft 7 ignores every other keyword: the reference goes one level down
    return {"title": name, "allOf": [schema]} if "$ref" in schema else {**schema, "title": name}


def _rpc(
    service: str, attribute: str, method: Any, schemas: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(channel, operation, messages) of one RPC method."""
    hints = typing.get_type_hints(method)
    parameters = [p for p in inspect.signature(method).parameters.values() if p.name != "self"]
    arguments = {
        p.name: {
            **_schema(hints.get(p.name, p.annotation), schemas),
            **({} if p.default is inspect.Parameter.empty else {"default": p.default}),
        }
        for p in parameters
    }
    required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
    name = f"{service}.{attribute}"
    request = {
        "name": f"{name}.request",
        "contentType": "application/json",
        "traits": [{"$ref": "#/components/messageTraits/signedRequest"}],
        "payload": {
            "type": "object",
            "required": ["args", "kwargs"],
            "properties": {
                # positional items titled with their names: the order is the contract's to say, not the reader's
                # to guess (the document's keys are sorted)
                "args": {
                    "type": "array",
                    "maxItems": len(parameters),
                    **(
                        {
                            "items": [
                                _titled(argument, schema) for argument, schema in arguments.items()
                            ],
                            "additionalItems": False,
                        }
                        if arguments
                        else {}
                    ),
                    "description": f"the arguments in this order: {', '.join(arguments) or 'none'} "
                    f"(required: {', '.join(required) or 'none'}), or some by name in kwargs",
                },
                "kwargs": {
                    "type": "object",
                    "properties": arguments,
                    "additionalProperties": False,
                },
            },
        },
    }
    reply = {
        "name": f"{name}.reply",
        "contentType": "application/json",
        "traits": [{"$ref": "#/components/messageTraits/signedReply"}],
        "payload": {
            "type": "object",
            "properties": {
                "result": _schema(hints.get("return", inspect.Parameter.empty), schemas),
                "error": {
                    "type": ["object", "null"],
                    "description": "nameko's error: exc_type, value, exc_args",
                },
            },
        },
    }
    channel = {
        "address": name,
        "messages": {"request": {"$ref": f"#/components/messages/{name}.request"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {"name": RPC_EXCHANGE, "type": "topic", "durable": True},
            }
        },
    }
    summary = (inspect.getdoc(method) or "").split("\n\n")[0].replace("\n", " ")
    operation = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{name}"},
        "summary": summary,
        "x-dmp-callers": sorted(getattr(method, CALLERS)),
        "reply": {
            "address": {"location": "$message.header#/reply_to", "description": REPLY_ADDRESS},
            "messages": [{"$ref": f"#/components/messages/{name}.reply"}],
        },
    }
    return channel, operation, {f"{name}.request": request, f"{name}.reply": reply}


REPLY_ADDRESS = (
    f"the AMQP property reply_to: a random lowercase UUID, the routing key on {RPC_EXCHANGE} of the "
    f"caller's reply queue {reply_queue_prefix('<broker user>')}<that UUID>"
)


def _signature_headers(answers: bool = False, sent: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {
        KID: {
            "type": "string",
            "description": "the signing key's id, <principal>.<version>: the signer is the "
            "principal before the first dot",
        },
        SIGNATURE: {
            "type": "string",
            "description": "the Ed25519 signature of the signed bytes, base64url without padding",
        },
    }
    if answers:
        headers[ANSWERS] = {
            "type": "string",
            "description": "the service.method of the call this reply answers",
        }
    if sent:  # a request's signature is optional for an external service: its broker user proves who it is
        headers[SENT] = {
            "type": "string",
            "pattern": "^[0-9]{1,16}$",
            "description": "when the request was signed, epoch milliseconds",
        }
        return {"type": "object", "properties": headers}
    return {"type": "object", "required": sorted(headers), "properties": headers}


def _traits() -> dict[str, Any]:
    signed = (
        f"Signed bytes: the UTF-8 text {json.dumps(SIGNED_BYTES)} followed by the body exactly as it "
        "arrived; the exchange and routing key are those it was delivered through."
    )
    return {
        "signedEvent": {
            "headers": _signature_headers(answers=False),
            "description": (
                f"Signed by the event's source; its correlation id and {ANSWERS} are empty. {signed} Believe it only "
                "if the key's principal is the source of its exchange, <source>.events, and the body's source and "
                "type are that source and the routing key."
            ),
        },
        "signedRequest": {
            "headers": _signature_headers(sent=True),
            "description": (
                "Signed by the caller as a credential of this one call: required from the DMP's services and gateway, "
                "optional for an external service (with a key the operators published). Signed bytes: the UTF-8 "
                f"text {json.dumps(REQUEST_BYTES)} followed by the body exactly as sent. The service called takes "
                f"it only from the broker user of its signer, within {REQUEST_SECONDS} s of {SENT} and once."
            ),
        },
        "signedReply": {
            "headers": _signature_headers(answers=True),
            "description": (
                f"Signed by the service called, with the request's correlation id and {ANSWERS}. {signed} Believe "
                f"it only if the key's principal is the service you called, {ANSWERS} is the method you called and "
                "the correlation id is the one of a call you are waiting on."
            ),
        },
    }


def _description() -> str:
    queue = Subscription("<your name>", "<source>", ()).queue.name
    return "\n\n".join(
        (
            "The DMP's bus (RabbitMQ, AMQP 0-9-1): its services' methods (RPC, nameko's protocol) and events, for "
            "its own services and for admitted external services.",
            "**Connecting.** Every principal connects as a broker user of its own, and names that user in the "
            "user_id property of every message it publishes (RabbitMQ refuses any other). An external service "
            "is admitted by the DMP's operators (`python -m services.common.broker_admin admit NAME --events "
            "SOURCE:TYPE ...`), who hand it its AMQP URI and the bus's public keys.",
            "**Calling a method**: the operations with a reply. x-dmp-callers says who may call it: clients (the "
            "gateway and admitted external services, with a user's access token), operators, everyone, or "
            f"services by name. Declare a reply queue {reply_queue_prefix('<broker user>')}<uuid> bound to "
            f"{RPC_EXCHANGE} with the routing key <uuid> (a random lowercase UUID); publish the request to "
            f"{RPC_EXCHANGE} with the channel's address (service.method) as routing key, the JSON body "
            '{"args": [...], "kwargs": {...}}, reply_to <uuid>, a new correlation_id and user_id. The reply '
            'comes to that queue with the same correlation_id: {"result": ..., "error": null}, or an error.',
            f"**Receiving events**: bind the durable queue {queue} to the exchange "
            f"{events_exchange('<source>')} with the event types you were admitted for (the routing key is the "
            "event's type). Delivery is at least once: take each event_id once.",
            "**Signatures.** Every event and every reply is signed with Ed25519 by its sender; trust none that "
            f"does not verify (the message traits signedEvent and signedReply say how; signedRequest, how calls are "
            f"signed). Public keys: {PUBLIC_KEYS}, "
            "comma-separated kid:<base64url raw 32-byte Ed25519 public key>; a key id names its principal. "
            "A client written from this document alone: examples/partner_service.py.",
        )
    )


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {
        "event": {
            "name": "event",
            "contentType": "application/json",
            "payload": _model(Event, schemas),
            "traits": [{"$ref": "#/components/messageTraits/signedEvent"}],
            "summary": f"An event: ids and codes only, signed by its source ({KID}, {SIGNATURE})",
        }
    }
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
            "address": "{type}",
            "parameters": {"type": {"description": "the event's type"}},
            "messages": {"event": {"$ref": "#/components/messages/event"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": events_exchange(source), "type": "topic", "durable": True},
                }
            },
        }
        operations[f"{source}.emits"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{source}.events"},
            "summary": f"Events of {source}, signed by {source} alone",
        }
    for subscription in SUBSCRIPTIONS:
        operations[f"{subscription.consumer}.from-{subscription.source}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{subscription.source}.events"},
            "summary": f"{subscription.consumer} consumes the durable queue {subscription.queue.name}",
            "x-dmp-event-types": list(subscription.event_types),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Dossier Médical Partagé: the bus",
            "version": VERSION,
            "description": _description(),
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages, "messageTraits": _traits()},
    }


def main() -> None:
    print(json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
