"""OpenTelemetry set-up for a process: services, gateway and tests call `setup_tracing` once.

Spans carry service, method and ids only. Request and response payloads are never recorded (the
nameko instrumentation's payload options stay off), so no personal data reaches the collector.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_configured = False


def setup_tracing(service_name: str, exporter: SpanExporter | None = None) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=200))
    trace.set_tracer_provider(provider)

    from nameko_opentelemetry import NamekoInstrumentor

    NamekoInstrumentor().instrument(
        send_headers=False, send_request_payloads=False, send_response_payloads=False,
        # Our entrypoints guard their queues (services/common/deadletters.py): traced as nameko's own.
        entrypoint_adapters={
            "services.common.deadletters.GuardedRpc": "nameko_opentelemetry.rpc.RpcEntrypointAdapter",
            "services.common.deadletters.GuardedConsume": "nameko_opentelemetry.messaging.ConsumerEntrypointAdapter",
        },
    )


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()
