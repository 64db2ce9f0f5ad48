"""Run the gateway: `python -m services.gateway.main` (settings from DMP_GATEWAY_*).

Behind an ingress, the client's address comes from X-Forwarded-For, trusted only from
DMP_GATEWAY_FORWARDED_ALLOW_IPS (the ingress controller's addresses or CIDR): rate limits per
address depend on it. On SIGTERM uvicorn stops accepting and lets requests in flight finish, for at
most DMP_GATEWAY_GRACEFUL_SECONDS.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import uvicorn
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

from services.common.tracing import setup_tracing, shutdown_tracing
from services.gateway.app import create_app
from services.gateway.app_settings import of_app
from services.gateway.rpc import close_all

# Paths carry the patient's INS, and so does FHIR's patient.identifier parameter: spans get them replaced.
PATIENT_SEGMENT = re.compile(r"/patients/[^/?]+")
PATIENT_PARAMETER = re.compile(r"([?&]patient\.identifier=)[^&#]*", re.IGNORECASE)
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full")


def redact_patient(span: Span, scope: dict[str, Any]) -> None:
    if not span.is_recording() or not isinstance(span, ReadableSpan):
        return
    for key in URL_ATTRIBUTES:
        value = (span.attributes or {}).get(key)
        if isinstance(value, str):
            span.set_attribute(
                key,
                PATIENT_PARAMETER.sub(r"\1{ins}", PATIENT_SEGMENT.sub("/patients/{ins}", value)),
            )


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s gateway %(levelname)s %(name)s %(message)s"
    )
    app = create_app()
    settings = of_app(app)
    traced = setup_tracing("dmp-gateway", settings.otlp_endpoint)
    if traced:
        FastAPIInstrumentor.instrument_app(app, server_request_hook=redact_patient)
    try:
        # access_log off: URLs carry INS, which is personal data. Our middleware logs ids only.
        uvicorn.run(
            app,
            host=settings.gateway_host,
            port=settings.gateway_port,
            access_log=False,
            log_level="warning",
            proxy_headers=True,
            forwarded_allow_ips=settings.gateway_forwarded_allow_ips,
            timeout_graceful_shutdown=settings.gateway_graceful_seconds,
        )
    finally:
        close_all()
        shutdown_tracing()


if __name__ == "__main__":
    main()
