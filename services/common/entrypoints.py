"""The entrypoint decorators every service uses.

`rpc` marks our own errors as expected (they are answers, not failures: no error span, no stack
trace in the logs), and types the method's boundary: a parameter annotated with a pydantic model arrives
validated as that model (InvalidInput naming each field otherwise, as `validation.parse` says), and a model
returned goes back as its JSON (see `typed`), so that a method's signature says what it takes and gives
while the wire stays JSON. Events are consumed through `subscriptions.subscribe`, which uses `consume`.
Both dead-letter malformed messages (common/deadletters.py) and stop gracefully, finishing and
acknowledging what they received before closing (common/draining.py).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, overload

from nameko.timer import timer as nameko_timer
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.common.deadletters import CALLERS, GuardedConsume, GuardedRpc
from services.common.errors import DmpError, InvalidInput
from services.common.principals import CLIENTS
from services.common.validation import describe_items, parse

F = TypeVar("F", bound=Callable[..., Any])

# For the tracing instrumentation, which picks its adapter by the entrypoint's exact class.
TRACING_ADAPTERS = {
    "services.common.deadletters.GuardedRpc": "nameko_opentelemetry.rpc.RpcEntrypointAdapter",
    "services.common.deadletters.GuardedConsume": "nameko_opentelemetry.messaging.ConsumerEntrypointAdapter",
}


def every(seconds: float) -> Callable[[F], F]:
    """A nameko timer: the method runs every `seconds` in each running container."""
    decorator: Callable[[F], F] = nameko_timer(interval=seconds)
    return decorator


@overload
def rpc(method: F) -> F: ...


@overload
def rpc(*, callers: tuple[str, ...]) -> Callable[[F], F]: ...


def rpc(method: F | None = None, *, callers: tuple[str, ...] = (CLIENTS,)) -> F | Callable[[F], F]:
    """A nameko RPC entrypoint: malformed calls dead-lettered, a graceful stop. `callers` says who may
    call it (services by name, or CLIENTS, OPERATORS, EVERYONE); the broker permissions of every
    principal are derived from it (services/common/bus.py)."""

    def decorate(function: F) -> F:
        method = typed(function)
        setattr(method, CALLERS, frozenset(callers))
        decorated: F = GuardedRpc.decorator(expected_exceptions=(DmpError,))(method)
        return decorated

    return decorate(method) if method is not None else decorate


def model_in(hint: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the model a parameter's annotation names, whether None is allowed too), or (None, _) for any other."""
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return hint, False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(hint) if member is not type(None)]
        if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
            return members[0], len(members) < len(typing.get_args(hint))
    return None, False


def to_wire(value: Any) -> Any:
    """What goes back over the bus: a model as its JSON, a list or tuple of them as a list."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    return value


def typed(function: F) -> F:
    """`function` with its model-annotated parameters validated from the JSON that arrives, its other
    annotated parameters (str, int, bool, lists, ...) checked against their annotation, and its models
    returned as JSON. A value of the wrong kind is refused as InvalidInput naming the parameter, before the
    method runs (a limit of "abc" is a clear refusal, not a failure inside). The signature is kept (nameko
    checks each call against it before a worker starts)."""
    signature = inspect.signature(function)
    checks: dict[str, Callable[[Any], Any]] | None = None

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        nonlocal checks
        if (
            checks is None
        ):  # resolved at the first call: annotations are strings until every module is loaded
            hints = typing.get_type_hints(function)
            checks = {
                name: check
                for name in signature.parameters
                if name != "self"
                for check in [check_of(name, hints.get(name, Any))]
                if check is not None
            }
        bound = signature.bind(*args, **kwargs)
        for name, check in checks.items():
            if name in bound.arguments:
                bound.arguments[name] = check(bound.arguments[name])
        return to_wire(function(*bound.args, **bound.kwargs))

    call.__signature__ = signature  # type: ignore[attr-defined]
    return typing.cast(F, call)


def check_of(name: str, hint: Any) -> Callable[[Any], Any] | None:
    """How a parameter's value is checked as it arrives, or None for one that takes anything."""
    if hint is Any or hint is object:
        return None
    model, optional = model_in(hint)
    if model is not None:
        found = model

        def as_model(value: Any) -> Any:
            if (value is None and optional) or isinstance(value, found):
                return value
            return parse(found, value)

        return as_model
    adapter: TypeAdapter[Any] = TypeAdapter(hint)

    def as_annotated(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            found = error.errors(include_url=False, include_input=False)
            details = describe_items({**item, "loc": (name, *item["loc"])} for item in found)
            raise InvalidInput(InvalidInput.summary(details), details) from None

    return as_annotated


def consume(queue: Any, **options: Any) -> Callable[[F], F]:
    """nameko's `consume`: invalid events dead-lettered, a graceful stop."""
    decorator: Callable[[F], F] = GuardedConsume.decorator(queue, **options)
    return decorator
