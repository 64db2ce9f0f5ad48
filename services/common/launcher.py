"""Run one service: `python -m services.common.launcher dossier`.

Patches eventlet first (nameko needs it), configures logging and tracing, points nameko at the
broker from AMQP_URI, then hands over to nameko's runner. SIGTERM stops it gracefully (running workers finish).
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")  # known; nameko needs it

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import errno  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from services.common.healthcheck import HEARTBEAT_SECONDS, heartbeat_path  # noqa: E402

SERVICES = ("identity", "consent", "dossier", "notify", "audit")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)

    from nameko import config

    from services.common.settings import Settings
    from services.common.tracing import setup_tracing, shutdown_tracing

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.service} %(levelname)s %(name)s %(message)s"
    )
    # read once, here: a malformed setting stops the process before it connects to anything
    settings = Settings.load()
    setup_tracing(f"dmp-{args.service}", settings.otlp_endpoint)
    config.update({"AMQP_URI": settings.amqp_uri, "max_workers": 20, "PREFETCH_COUNT": 20})
    try:
        run(service_class(args.service), args.service)
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_tracing()
    sys.exit(0)


def service_class(name: str) -> type:
    """The service class itself (nameko's own loader would also pick up mixins with entrypoints)."""
    module = importlib.import_module(f"services.{name}.service")
    return next(
        cls
        for cls in vars(module).values()
        if isinstance(cls, type)
        and cls.__module__ == module.__name__
        and getattr(cls, "name", None) == name
    )


def run(cls: type, name: str) -> None:
    """Run until SIGTERM, then stop gracefully: running workers finish, messages are acked."""
    from nameko.runners import ServiceRunner

    runner = ServiceRunner()
    runner.add_service(cls)
    # Signal handlers cannot use eventlet primitives: stop in a green thread.
    signal.signal(signal.SIGTERM, lambda signum, frame: eventlet.spawn_n(runner.stop))
    runner.start()
    beating = eventlet.spawn(heartbeat, heartbeat_path(name))
    waiter = eventlet.spawn(runner.wait)
    while True:
        try:
            waiter.wait()
            beating.kill()
            return
        except OSError as error:  # EINTR when the signal arrives during a socket wait
            if error.errno != errno.EINTR:
                raise


def heartbeat(path: Path) -> None:
    """Touch `path` every few seconds from the event loop: the liveness probe reads its age, so a
    loop blocked by a stuck call shows up as a stale file (services/common/healthcheck.py)."""
    while True:
        path.touch()
        eventlet.sleep(HEARTBEAT_SECONDS)


if __name__ == "__main__":
    main()
