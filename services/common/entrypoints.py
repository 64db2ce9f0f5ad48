"""The entrypoint decorators every service uses.

`rpc` marks our own errors as expected (they are answers, not failures: no error span, no stack
trace in the logs). Events are consumed through `subscriptions.subscribe`, which uses `consume`.
Both dead-letter malformed messages (common/deadletters.py) and stop gracefully, finishing and
acknowledging what they received before closing (common/draining.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

from nameko.timer import timer as nameko_timer

from services.common.deadletters import CALLERS, GuardedConsume, GuardedRpc
from services.common.errors import DmpError
from services.common.principals import CLIENTS

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
        setattr(function, CALLERS, frozenset(callers))
        decorated: F = GuardedRpc.decorator(expected_exceptions=(DmpError,))(function)
        return decorated

    return decorate(method) if method is not None else decorate


def consume(queue: Any, **options: Any) -> Callable[[F], F]:
    """nameko's `consume`: invalid events dead-lettered, a graceful stop."""
    decorator: Callable[[F], F] = GuardedConsume.decorator(queue, **options)
    return decorator
