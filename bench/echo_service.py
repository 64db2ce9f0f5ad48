"""A nameko service that answers at once, run exactly like the real services (services.common.launcher:
eventlet, tracing instrumentation, the same worker settings), so that the RPC-hop benchmark measures the
framework's hop alone, against the raw kombu echo. `python -m bench.echo_service`."""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

from typing import Any  # noqa: E402

from services.common.entrypoints import rpc  # noqa: E402

NAME = "bench_echo"


class EchoService:
    name = NAME

    @rpc
    def echo(self, value: Any) -> Any:
        return value


def main() -> None:
    from nameko import config

    from services.common.launcher import run
    from services.common.settings import Settings
    from services.common.tracing import setup_tracing

    settings = Settings.load()
    setup_tracing("bench-echo", settings.otlp_endpoint)
    config.update({"AMQP_URI": settings.amqp_uri, "max_workers": 20, "PREFETCH_COUNT": 20})
    run(EchoService, NAME)


if __name__ == "__main__":
    main()
