"""The entrypoint decorators every service uses.

`rpc` marks our own errors as expected (they are answers, not failures: no error span, no stack
trace in the logs). `event_handler` acknowledges a message only after the handler has stored its
work and puts it back on the queue when the handler fails, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nameko.events import event_handler as nameko_event_handler
from nameko.rpc import rpc as nameko_rpc

from services.common.errors import DmpError

F = TypeVar("F", bound=Callable[..., Any])


def rpc(method: F) -> F:
    decorated: F = nameko_rpc(expected_exceptions=(DmpError,))(method)
    return decorated


def event_handler(source: str, event_type: str) -> Callable[[F], F]:
    decorator: Callable[[F], F] = nameko_event_handler(
        source, event_type, reliable_delivery=True, requeue_on_error=True
    )
    return decorator
