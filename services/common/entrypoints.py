"""The entrypoint decorators every service uses.

`rpc` marks our own errors as expected (they are answers, not failures: no error span, no stack
trace in the logs). Events are consumed through `subscriptions.subscribe`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nameko.rpc import rpc as nameko_rpc
from nameko.timer import timer as nameko_timer

from services.common.errors import DmpError

F = TypeVar("F", bound=Callable[..., Any])


def every(seconds: float) -> Callable[[F], F]:
    """A nameko timer: the method runs every `seconds` in each running container."""
    decorator: Callable[[F], F] = nameko_timer(interval=seconds)
    return decorator


def rpc(method: F) -> F:
    decorated: F = nameko_rpc(expected_exceptions=(DmpError,))(method)
    return decorated

