"""OpenTelemetry set-up for a process: services, gateway and tests call `setup_tracing` once.

Spans carry service, method and ids only. Request and response payloads are never recorded (the
nameko instrumentation's payload options stay off), so no personal data reaches the collector.
With no exporter (no OTEL_EXPORTER_OTLP_ENDPOINT) nothing is instrumented at all: spans that go nowhere
cost about a tenth of a request's CPU (issue 19's measurement).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_configured = False


def setup_tracing(
    service_name: str, otlp_endpoint: str, exporter: SpanExporter | None = None
) -> bool:
    """Trace this process if spans have somewhere to go (`otlp_endpoint`: Settings.otlp_endpoint, which the
    exporter itself reads from OTEL_EXPORTER_OTLP_ENDPOINT); whether it is traced."""
    global _configured
    if _configured:
        return isinstance(trace.get_tracer_provider(), TracerProvider)
    _configured = True
    if exporter is None and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    if exporter is None:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    trace.set_tracer_provider(provider)

    from nameko_opentelemetry import NamekoInstrumentor

    from services.common.entrypoints import TRACING_ADAPTERS

    NamekoInstrumentor().instrument(
        send_headers=False,
        send_request_payloads=False,
        send_response_payloads=False,
        entrypoint_adapters=TRACING_ADAPTERS,
    )
    return True


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
