"""Run one service: `python -m services.common.launcher dossier`.

Patches eventlet first (nameko needs it), configures logging and tracing, points nameko at the
broker from AMQP_URI, then hands over to nameko's runner. SIGTERM stops it gracefully (running workers finish).
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

SERVICES = ("identity", "consent", "dossier", "notify", "audit")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("service", choices=SERVICES)
    args = parser.parse_args(argv)

    from nameko import config
    from nameko.cli.run import run

    from services.common.settings import Settings
    from services.common.tracing import setup_tracing, shutdown_tracing

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.service} %(levelname)s %(name)s %(message)s"
    )
    setup_tracing(f"dmp-{args.service}")
    settings = Settings.from_env()
    config.update({"AMQP_URI": settings.amqp_uri, "max_workers": 20, "PREFETCH_COUNT": 20})
    try:
        run([f"services.{args.service}.service"])  # returns after SIGTERM, once workers finish
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_tracing()
    sys.exit(0)


if __name__ == "__main__":
    main()
