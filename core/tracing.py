"""Optional OpenTelemetry traces: a chat run and a workflow run, with a span per model call and per
workflow node. Off (the API's no-op tracer, close to free) unless OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) names a collector, which then receives them over OTLP/HTTP
in batches; the exporter reads the OTEL_* variables it knows (headers, timeouts, batch delay)."""

from __future__ import annotations

import os

from opentelemetry import trace

tracer = trace.get_tracer("cozeplus")
_configured = False


def configure(exporter=None, *, batch: bool = True) -> bool:
    """Install a tracer provider that sends spans to `exporter` (or to the OTLP collector the
    environment names); False when there is neither. Once per process: OpenTelemetry allows one."""
    global _configured
    if _configured:
        return True
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if exporter is None and not endpoint:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME") or "cozeplus"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    return True
