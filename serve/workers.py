"""Gunicorn workers whose own error answers are JSON, like the app's.

Gunicorn answers a request it could not parse (request line or headers too long, malformed
request line, bad header) itself, before Flask sees it, with an HTML page. These workers answer
``{"error": ...}`` with the status that names the problem instead: 414 for a request line over
``limit_request_line``, 431 for a header field over ``limit_request_field_size`` or more than
``limit_request_fields`` headers, 400 for any other malformed request.

* :class:`JsonGeventWorker` — the production worker: one gevent event loop per process, one
  greenlet per connection, so a client that sends its request slowly (or not at all) costs a
  greenlet, not one of a handful of threads. Headers must arrive within ``keepalive`` seconds
  (gunicorn's async workers time the header read with it), bodies within the app's body timeout
  (:mod:`serve.buffering`).
* :class:`JsonThreadWorker` — gunicorn's thread worker (the previous default), kept for comparison.
"""

from __future__ import annotations

import functools
import json

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

REASONS = {400: "Bad Request", 403: "Forbidden", 414: "URI Too Long", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented"}

_BAD_REQUEST = (
    http_errors.InvalidRequestLine, http_errors.InvalidRequestMethod, http_errors.InvalidHTTPVersion,
    http_errors.InvalidHeader, http_errors.InvalidHeaderName, http_errors.InvalidProxyLine,
    http_errors.InvalidSchemeHeaders, http_errors.ObsoleteFolding,
    *(getattr(http_errors, name) for name in ("InvalidH2CPreface", "InvalidChunkSize", "ChunkMissingTerminator")
      if hasattr(http_errors, name)),
)


def classify(exc: BaseException) -> tuple[int, str]:
    """(status, message) for an exception gunicorn raised while reading a request."""
    if isinstance(exc, http_errors.LimitRequestLine):
        return 414, f"request line: longer than the server's limit ({exc})"
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return 431, f"request headers: over the server's limits ({exc})"
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return 501, f"transfer coding not supported: {exc}"
    if isinstance(exc, http_errors.ExpectationFailed):
        return 417, f"expectation not supported: {exc}"
    if isinstance(exc, http_errors.ForbiddenProxyRequest):
        return 403, "request forbidden"
    if isinstance(exc, _BAD_REQUEST):
        return 400, f"malformed request: {type(exc).__name__} {str(exc)[:200]}"
    return 500, "internal error; the service log has the details"


def json_error_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 response `{"error": message}` that closes the connection."""
    body = json.dumps({"error": message}, ensure_ascii=True).encode()
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


class _JsonErrors:
    """Mixin: gunicorn's `handle_error`, answering JSON (and without its HTML page)."""

    def handle_error(self, req, client, addr, exc):
        status, message = classify(exc)
        ip = (addr or ("unix",))[0]
        if status == 500:
            self.log.exception("Error handling request from %s", ip)
        else:
            self.log.warning("Invalid request from ip=%s: %s -> %s", ip, exc, status)
        try:
            util.write_nonblock(client, json_error_response(status, message))
        except Exception:  # noqa: BLE001 - the client may be gone; nothing more to tell it
            self.log.debug("Failed to send error message.")


class JsonThreadWorker(_JsonErrors, ThreadWorker):
    pass


@functools.cache
def _gevent_worker():
    from gunicorn.workers.ggevent import GeventWorker

    class JsonGeventWorker(_JsonErrors, GeventWorker):
        pass  # with several workers gunicorn already accepts one connection per wake-up (max_accept = 1)

    return JsonGeventWorker


def __getattr__(name: str):
    # gevent is imported only when gunicorn asks for this worker (it loads the class by name)
    if name == "JsonGeventWorker":
        return _gevent_worker()
    raise AttributeError(name)
