"""Work an entrypoint hands over to be done once its answer has left.

nameko tells a worker's dependencies of its result (`worker_result`) after the entrypoint has replied,
before the worker is torn down: what is deferred here runs then, still inside the worker (its RPC
proxies work), but the caller's answer no longer waits for it, so the caller cannot time it. Used for
what must not make an answer slower for some requests than for others (a login code sent to a
registered patient, nothing for an unknown INS). Deferred work that fails is logged by its kind only
and dropped: it must be something the caller can ask for again (a login code is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider
from opentelemetry import context

log = logging.getLogger(__name__)
Action = Callable[[], object]


class AfterReply(DependencyProvider):  # type: ignore[misc]
    """`self.later(action)`: run `action` once this worker's answer has been sent."""

    def setup(self) -> None:
        self.pending: dict[int, list[tuple[Action, context.Context]]] = {}

    def get_dependency(self, worker_ctx: Any) -> Callable[[Action], None]:
        actions = self.pending.setdefault(id(worker_ctx), [])

        def later(action: Action) -> None:
            # The entrypoint's span has ended by the time the action runs: keep the request's trace.
            actions.append((action, context.get_current()))

        return later

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        for action, traced in self.pending.pop(id(worker_ctx), []):
            token = context.attach(traced)
            try:
                action()
            except Exception as error:  # the caller asks again; nothing else depends on it
                log.warning("deferred work failed after the answer: %s", type(error).__name__)
            finally:
                context.detach(token)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self.pending.pop(id(worker_ctx), None)
