"""Prometheus metrics (prometheus-client): requests by operation and status with their latency,
open event streams, model calls (tokens, latency), the task queue (depth, job outcomes) and
webhook deliveries, served at /metrics. With PROMETHEUS_MULTIPROC_DIR set (several workers), each
process writes its samples there and /metrics adds them up."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REQUESTS = Counter(
    "cozeplus_http_requests_total", "Requests answered, by operation and HTTP status", ["operation", "status"]
)
LATENCY = Histogram(
    "cozeplus_http_request_duration_seconds",
    "Time from the request's arrival to its last byte (a stream: its whole life)",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
OPEN_STREAMS = Gauge("cozeplus_open_streams", "Event streams being sent", multiprocess_mode="livesum")
MODEL_TOKENS = Counter("cozeplus_model_tokens_total", "Tokens of model calls", ["model", "kind"])
MODEL_LATENCY = Histogram(
    "cozeplus_model_call_duration_seconds",
    "A model call, from the request to its last chunk",
    ["model", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
JOBS = Counter("cozeplus_jobs_total", "Task-queue jobs that ended, by task and outcome", ["task", "outcome"])
QUEUE_DEPTH = Gauge(
    "cozeplus_task_queue_depth", "Jobs waiting in the task queue", multiprocess_mode="mostrecent"
)
WEBHOOK_DELIVERIES = Counter(
    "cozeplus_webhook_deliveries_total", "Webhook delivery attempts, by outcome", ["outcome"]
)

UNROUTED = "unrouted"  # requests no operation took (unknown routes, refused before routing)


def clear_samples_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR when the server starts: samples a previous run left there
    would otherwise be added to this run's (prometheus-client asks for a wipe between runs)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def exposition(queue_depth: int) -> tuple[bytes, str]:
    """The current samples in Prometheus' text format, with its content type; `queue_depth` is
    read by the caller (core does not reach the task queue)."""
    QUEUE_DEPTH.set(queue_depth)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_request_counters: dict[tuple[str, int], object] = {}
_latency_histograms: dict[str, object] = {}


def record_request(scope, status: int, seconds: float) -> None:
    """Count an answer under the operation Connexion routed it to (core/middleware.py calls it for
    every request it sees, errors included). The labelled children are kept: prometheus-client
    checks and locks on each labels() call, a cost per request."""
    routing = (scope.get("extensions") or {}).get("connexion_routing") or {}
    operation = str(routing.get("operation_id") or UNROUTED).rsplit(".", 1)[-1]
    counter = _request_counters.get((operation, status))
    if counter is None:  # bounded: the spec's operations times the HTTP statuses
        counter = _request_counters[(operation, status)] = REQUESTS.labels(operation, str(status))
    counter.inc()
    histogram = _latency_histograms.get(operation)
    if histogram is None:
        histogram = _latency_histograms[operation] = LATENCY.labels(operation)
    histogram.observe(seconds)
