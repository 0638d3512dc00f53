"""Operations: liveness, readiness, Prometheus metrics, and a concurrency limit with a deadline.

* ``/livez``  — the process answers (no model needed): restart it if this fails.
* ``/readyz`` — a model is loaded *and* answers a recommendation, and the service is not shutting
  down: send traffic only then. 503 says why not (`{"error": "not ready: ..."}`).
* ``/metrics`` — Prometheus text: request counts, latency histograms and errors per endpoint,
  labelled with the model version. Under gunicorn every worker writes to
  ``PROMETHEUS_MULTIPROC_DIR`` (set by ``python -m serve``) and any worker reports them all.
* At most ``serve.max_in_flight`` requests per worker run at once; a request that cannot start
  within ``serve.queue_timeout`` seconds gets 503 with ``Retry-After`` instead of waiting forever.
"""

from __future__ import annotations

import os
import threading
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from serve.schemas import spec

LIMITER_KEY = "movierec.limiter"
DRAINING_KEY = "movierec.draining"   # a callable: True once the service drains before it stops
UNLIMITED = frozenset({"/livez", "/metrics"})  # probes must answer even when the API is saturated

operations = Blueprint("operations", __name__)

spec.schema("Liveness", {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["alive"]}}})
spec.schema("Readiness", {"type": "object", "required": ["status", "model_version"],
                          "properties": {"status": {"enum": ["ready"]}, "model_version": {"type": "string"}}})
spec.schema("PrometheusText", {"type": "string", "description": "Prometheus text exposition format"})


class _Metrics:
    """The process's Prometheus instruments (created once, after the fork, on first use)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        labels = ("endpoint", "method", "status", "model_version")
        self.requests = Counter("movierec_requests", "HTTP requests answered", labels)
        self.errors = Counter("movierec_request_errors", "HTTP requests answered with status >= 400", labels)
        self.latency = Histogram("movierec_request_seconds", "Time to answer a request",
                                 ("endpoint", "method", "model_version"),
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.rejected = Counter("movierec_requests_rejected", "Requests refused with 503 because the worker was busy",
                                ("endpoint",))


_metrics: _Metrics | None = None
_metrics_lock = threading.Lock()


def metrics() -> _Metrics:
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = _Metrics()
        return _metrics


def _endpoint() -> str:
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def _model_version() -> str:
    from serve.api import STORE_KEY

    store = current_app.extensions.get(STORE_KEY)
    current = store.current if store is not None else None
    return current.version if current is not None else "none"


def record_refused(app: Flask, environ: dict, status: int, seconds: float) -> None:
    """Count a request answered before Flask ran (serve.buffering's 400/408/413) like any other."""
    try:
        endpoint = app.url_map.bind_to_environ(environ).match(return_rule=True)[0].rule
    except HTTPException:
        endpoint = "unmatched"
    with app.app_context():
        version = _model_version()
    count(endpoint, environ.get("REQUEST_METHOD", ""), status, version, seconds)


def count(endpoint: str, method: str, status: int, version: str, seconds: float) -> None:
    """One answered request in the Prometheus instruments."""
    instruments = metrics()
    instruments.requests.labels(endpoint, method, str(status), version).inc()
    if status >= 400:
        instruments.errors.labels(endpoint, method, str(status), version).inc()
    instruments.latency.labels(endpoint, method, version).observe(seconds)


def install(app: Flask, max_in_flight: int, queue_timeout: float) -> None:
    """Register the operations routes, the per-worker limiter and the metrics hooks on `app`."""
    slots = threading.BoundedSemaphore(max_in_flight)
    app.extensions[LIMITER_KEY] = slots

    @app.before_request
    def admit():
        g.started = time.perf_counter()
        if request.path in UNLIMITED:
            return None
        if not slots.acquire(timeout=queue_timeout):
            metrics().rejected.labels(_endpoint()).inc()
            raise ServiceUnavailable(f"busy: {max_in_flight} requests already running in this worker; retry shortly",
                                     retry_after=1)
        g.holds_slot = True
        return None

    @app.after_request
    def record(response: Response) -> Response:
        count(_endpoint(), request.method, response.status_code, _model_version(),
              time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @app.teardown_request
    def release(_exc):
        if g.pop("holds_slot", False):
            slots.release()

    app.register_blueprint(operations)


@spec.route(operations, "/livez", "GET", summary="Liveness: the process answers", tags=("operations",),
            response="Liveness", errors=())
def livez():
    return jsonify(status="alive")


@spec.route(operations, "/readyz", "GET", summary="Readiness: a model is loaded and answers", tags=("operations",),
            response="Readiness", errors=())
def readyz():
    from serve.api import STORE_KEY

    draining = current_app.extensions.get(DRAINING_KEY)
    if draining is not None and draining():
        raise ServiceUnavailable("not ready: shutting down (draining: requests are still answered; send new "
                                 "ones elsewhere)")
    store = current_app.extensions[STORE_KEY]
    current = store.current
    if current is None:
        raise ServiceUnavailable(f"not ready: no model loaded: {store.last_error or 'loading'}")
    try:
        bundle = current.bundle
        profile = bundle.profile_for_user(int(bundle.vocab.users.ids[0]))
        bundle.recommend("embedding", profile, 1)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        raise ServiceUnavailable(f"not ready: the model does not answer ({type(exc).__name__})") from exc
    return jsonify(status="ready", model_version=current.version)


@spec.route(operations, "/metrics", "GET", summary="Prometheus metrics of every worker", tags=("operations",),
            response="PrometheusText", errors=(), media_type="text/plain")
def prometheus_metrics():
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()  # the instruments exist even before the first request
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
