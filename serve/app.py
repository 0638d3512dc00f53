"""The Flask app factory: one model store per process, the API, the web page, JSON errors only."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound

from serve import operations
from serve.api import STORE_KEY, api
from serve.buffering import BufferedBody
from serve.model_cache import ModelCache
from serve.model_store import ModelStore
from serve.operations import DRAINING_KEY
from serve.registry_limits import RegistryLimits
from serve.settings import REPO_ROOT, WEB_DIR, ServeSettings
from serve.validation import InvalidRequest
from serve.web import WEB_DIR_KEY, html_not_found, web

log = logging.getLogger(__name__)


def create_app(settings: ServeSettings | None = None, *, tracking_uri: str | None = None,
               model_name: str | None = None, model_alias: str | None = None,
               poll_seconds: float | None = None, web_dir: str | Path | None = None,
               store: ModelStore | None = None, load_in_background: bool = False,
               draining: Callable[[], bool] | None = None) -> Flask:
    """Build the app and load the model (in the calling process: a gunicorn worker, after fork).

    Keyword arguments override `settings` (default: `conf/serve/default.yaml`). A model that fails
    to load leaves the app up, answering 503 until the poller (or `/admin/reload`) loads one.
    `load_in_background`: return at once and load the model in the poller thread (a gunicorn
    worker starts answering `/livez` even while the registry is down). `draining()` true: the
    service is shutting down, `/readyz` answers 503 (see :mod:`serve.shutdown`).
    """
    from movierec.registry.tracking import resolve_tracking_uri

    overrides: dict[str, Any] = dict(model_name=model_name, model_alias=model_alias, poll_seconds=poll_seconds)
    settings = replace(settings or ServeSettings.load(), **{k: v for k, v in overrides.items() if v is not None})

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.json.sort_keys = False  # type: ignore[attr-defined]  # Flask's default provider has both
    app.json.compact = True  # type: ignore[attr-defined]

    if store is None:
        uri = tracking_uri or resolve_tracking_uri(settings.tracking_uri, REPO_ROOT)
        limits = RegistryLimits(settings.registry_timeout, settings.registry_retries, settings.registry_backoff,
                                settings.download_timeout)
        store = ModelStore(settings.model_name, settings.model_alias, uri, settings.torch_threads, limits=limits,
                           cache=ModelCache(settings.model_cache))
        if load_in_background:
            store.prepare()
        else:
            store.refresh()
        store.start_polling(settings.poll_seconds, load_first=load_in_background)
    app.extensions[STORE_KEY] = store
    app.extensions[DRAINING_KEY] = draining or (lambda: False)
    app.extensions[WEB_DIR_KEY] = Path(web_dir) if web_dir is not None else WEB_DIR

    app.register_blueprint(api)
    operations.install(app, settings.max_in_flight, settings.queue_timeout)
    app.register_blueprint(web)
    _register_errors(app)

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "application/json":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # the body is read whole (size limit, deadline) before any of the above runs: see serve/buffering.py
    app.wsgi_app = BufferedBody(  # type: ignore[method-assign]  # Flask's documented way to wrap
        app.wsgi_app, settings.max_content_length, settings.body_timeout,
        on_refused=functools.partial(operations.record_refused, app))
    return app


def _message(exc: HTTPException) -> str:
    if isinstance(exc, NotFound) and request.url_rule is None:
        return f"no route {request.method} {request.path}; the API is described at /openapi.json"
    if exc.code == 405:
        allowed = sorted(set(getattr(exc, "valid_methods", None) or []) - {"HEAD", "OPTIONS"})
        return f"method {request.method} is not allowed on {request.path}; use {', '.join(allowed)}"
    if exc.code == 413:
        limit = request.max_content_length
        return f"request body: larger than the limit of {limit} bytes"
    return exc.description or exc.name


def _register_errors(app: Flask) -> None:
    @app.errorhandler(InvalidRequest)
    def invalid(exc: InvalidRequest):
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 404:
            page = html_not_found()
            if page is not None:
                return page
        response = jsonify(error=_message(exc))
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():
            if name.lower() != "content-type":  # keeps Allow (405), Retry-After
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="internal error; the service log has the details"), 500
