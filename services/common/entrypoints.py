"""The entrypoint decorators every service uses.

`rpc` marks our own errors as expected (they are answers, not failures: no error span, no stack
trace in the logs) and dead-letters malformed calls (common/deadletters.py). Events are consumed
through `subscriptions.subscribe`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nameko.timer import timer as nameko_timer

from services.common.deadletters import GuardedRpc
from services.common.errors import DmpError

F = TypeVar("F", bound=Callable[..., Any])


def every(seconds: float) -> Callable[[F], F]:
    """A nameko timer: the method runs every `seconds` in each running container."""
    decorator: Callable[[F], F] = nameko_timer(interval=seconds)
    return decorator


def rpc(method: F) -> F:
    """A nameko RPC entrypoint whose queue sends malformed messages to the dead-letter queue."""
    decorated: F = GuardedRpc.decorator(expected_exceptions=(DmpError,))(method)
    return decorated

