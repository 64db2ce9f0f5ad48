"""Turning untrusted payloads into typed models, with errors that name the field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.common.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def describe_items(items: Iterable[Any]) -> list[dict[str, str]]:
    """Pydantic error items as {field, reason}, without echoing the input (it may be personal)."""
    details = []
    for item in items:
        location = [str(part) for part in item["loc"] if part not in ("body", "path", "query")]
        field = ".".join(location) or "body"
        if item["type"] == "extra_forbidden":
            reason = "unknown field, refused"
        else:
            reason = str(item["msg"]).removeprefix("Value error, ")
        details.append({"field": field, "reason": reason})
    return details


def describe(error: ValidationError) -> InvalidInput:
    details = describe_items(error.errors(include_url=False, include_input=False))
    return InvalidInput(InvalidInput.summary(details), details)


def parse(model: type[M], payload: Any) -> M:
    if not isinstance(payload, dict):
        raise InvalidInput.for_field("body", "must be an object")
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise describe(error) from None
