"""The whole request body, read before the app runs, within a size limit and a deadline.

A client that announces a body and then sends it slowly (or never) must not hold what the app
has few of: a concurrency slot (:mod:`serve.operations`) or a thread. This WSGI middleware reads
the body first — at most ``limit`` bytes, all of it within ``timeout`` seconds — and hands the
app an in-memory copy with its exact ``Content-Length``:

* ``Content-Length`` over the limit: 413 at once, nothing read;
* a chunked body (no ``Content-Length``) over the limit: 413 once ``limit + 1`` bytes arrived
  (werkzeug alone would cut it at the limit without a word, and serve a JSON prefix that parses);
* not all of it within ``timeout`` s: 408 and the connection is closed;
* the client closing mid-body: 400.

The deadline is a total: in a gevent worker (production) a `gevent.Timeout` interrupts the read
at the deadline however the bytes trickle in. Elsewhere (thread workers) each read of the client
socket (``environ["gunicorn.socket"]``) waits at most the time left, which bounds a silent client
but not one sending a byte now and then. Every answer here is JSON ``{"error": ...}``, and is
reported to ``on_refused`` (the service counts it in its Prometheus metrics).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import time
from collections.abc import Callable

CHUNK = 64 * 1024
# told of every request answered here, before the app ran: (WSGI environ, status code, seconds)
Refused = Callable[[dict, int, float], None]

log = logging.getLogger(__name__)


class BodyError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class BufferedBody:
    """WSGI middleware: `app` sees the body only once it has arrived whole."""

    def __init__(self, app, limit: int | None, timeout: float, on_refused: Refused | None = None) -> None:
        self.app, self.limit, self.timeout, self.on_refused = app, limit, timeout, on_refused

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        try:
            self._buffer(environ)
        except BodyError as exc:
            if self.on_refused is not None:
                try:  # counting must never turn the answer into a 500
                    self.on_refused(environ, int(exc.status.split()[0]), time.perf_counter() - started)
                except Exception:
                    log.exception("counting a refused request failed")
            body = json.dumps({"error": str(exc)}).encode()
            # the rest of the body may still be on its way: close the connection rather than read it. A WSGI
            # app cannot set Connection (hop-by-hop); gunicorn's start_response is its Response's method
            server_response = getattr(start_response, "__self__", None)
            if hasattr(server_response, "force_close"):
                server_response.force_close()
            start_response(exc.status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
            return [body]
        return self.app(environ, start_response)

    def _buffer(self, environ) -> None:
        declared = environ.get("CONTENT_LENGTH") or ""
        chunked = not declared and environ.get("wsgi.input_terminated")
        if not declared and not chunked:
            return
        limit = self.limit
        if declared:
            if not (declared.isascii() and declared.isdigit()):
                raise BodyError("400 Bad Request", f"Content-Length: not a number ({declared[:20]!r})")
            expected = int(declared)
            if limit is not None and expected > limit:
                raise BodyError("413 Request Entity Too Large",
                                f"request body: larger than the limit of {limit} bytes")
            if expected == 0:
                return
            wanted: int | None = expected
        else:
            wanted = None if limit is None else limit + 1
        data = self._read(environ, wanted, declared != "")
        if limit is not None and len(data) > limit:
            raise BodyError("413 Request Entity Too Large", f"request body: larger than the limit of {limit} bytes")
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
        environ["wsgi.input_terminated"] = False

    def _read(self, environ, wanted: int | None, exact: bool) -> bytes:
        stream, sock = environ["wsgi.input"], environ.get("gunicorn.socket")
        deadline = time.monotonic() + self.timeout
        previous = sock.gettimeout() if sock is not None else None
        parts: list[bytes] = []
        try:
            with _total_deadline(self.timeout):
                self._read_into(parts, stream, sock, wanted, deadline)
        except TimeoutError:
            raise BodyError("408 Request Timeout",
                            f"request body: not received within {self.timeout:g} s; closing the connection") from None
        except OSError as exc:  # reset mid-body: nobody will read the answer, but say so in the log
            raise BodyError("400 Bad Request",
                            f"request body: the connection failed while reading it ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - gunicorn's parser errors (bad chunk size, early end)
            if type(exc).__module__.startswith("gunicorn"):
                raise BodyError("400 Bad Request", f"request body: malformed ({type(exc).__name__})") from None
            raise
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)
        size = sum(len(part) for part in parts)
        if exact and wanted is not None and size < wanted:
            raise BodyError("400 Bad Request", f"request body: ended after {size} of {wanted} bytes")
        return b"".join(parts)

    @staticmethod
    def _read_into(parts: list[bytes], stream, sock, wanted: int | None, deadline: float) -> None:
        size = 0
        while wanted is None or size < wanted:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if sock is not None:
                sock.settimeout(left)
            part = stream.read(CHUNK if wanted is None else min(CHUNK, wanted - size))
            if not part:
                break
            parts.append(part)
            size += len(part)


def _total_deadline(seconds: float):
    """`gevent.Timeout` raising TimeoutError in a gevent-patched process (a gevent worker); else nothing."""
    if "gevent" in sys.modules:
        from gevent import monkey

        if monkey.is_module_patched("socket"):
            import gevent

            return gevent.Timeout(seconds, TimeoutError)
    return contextlib.nullcontext()
