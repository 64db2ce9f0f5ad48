"""Tracing costs nothing when spans have nowhere to go, and is on when they do."""

import os
import subprocess
import sys

PROBE = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from nameko_opentelemetry import NamekoInstrumentor
from services.common.settings import Settings
from services.common.tracing import setup_tracing
traced = setup_tracing("probe", Settings.load().otlp_endpoint)
sdk = isinstance(trace.get_tracer_provider(), TracerProvider)
print(traced, sdk, NamekoInstrumentor().is_instrumented_by_opentelemetry)
"""


def probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_no_exporter_means_no_span_work_at_all() -> None:
    assert probe() == "False False False"


def test_an_exporter_turns_tracing_on() -> None:
    assert probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9") == "True True True"
