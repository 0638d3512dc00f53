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
  (:mod:`serve.buffering`). Its stop (SIGTERM, after the drain of :mod:`serve.shutdown`) loses
  nothing it can answer: it notices within 0.1 s, answers the connections still waiting in the
  listen backlog (gunicorn's own worker drops them with its socket), finishes the requests in
  flight, and closes idle keep-alive connections at once instead of waiting out ``keepalive``.
* :class:`JsonThreadWorker` — gunicorn's thread worker (the previous default), kept for comparison.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import struct
import termios
import time

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


STOP_POLL_SECONDS = 0.1   # how soon a worker notices SIGTERM, and checks its connections while it stops


class _NamedListener:
    """A listening socket whose name stays readable after it is closed: a connection accepted just
    before the stop closes the socket starts its handler (which asks the name) just after."""

    def __init__(self, sock) -> None:
        self._sock, self._name = sock, sock.getsockname()

    def getsockname(self):
        return self._name

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


def _unread_bytes(sock) -> int:
    """Bytes received on `sock` that nobody has read yet (never blocks)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


@functools.cache
def _gevent_worker():
    import socket

    import gevent
    from gevent import monkey
    from gevent.pool import Pool
    from gevent.server import StreamServer
    from gunicorn.sock import ssl_context
    from gunicorn.workers.ggevent import GeventWorker

    plain_socket = monkey.get_original("socket", "socket")

    class JsonGeventWorker(_JsonErrors, GeventWorker):
        """gunicorn's gevent worker (`run` as in gunicorn 26) with JSON errors and a stop that drains."""

        def run(self):
            self._idle = {}  # open connections -> True while waiting for their next request
            ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
            servers = []
            for listener in self.sockets:
                listener.setblocking(1)
                server = StreamServer(listener, handle=functools.partial(self.handle, _NamedListener(listener)),
                                      spawn=Pool(self.worker_connections), **ssl_args)
                if self.cfg.workers > 1:
                    server.max_accept = 1  # several workers share the socket: one connection per wake-up
                server.start()
                servers.append(server)
            beat = 0.0
            while self.alive:
                beat = self._heartbeat(beat)
                gevent.sleep(STOP_POLL_SECONDS)
            self._stop(servers)

        def _heartbeat(self, last: float) -> float:
            now = time.monotonic()
            if now - last >= 1.0:
                self.notify()
                return now
            return last

        def _stop(self, servers) -> None:
            for server in servers:
                server.stop_accepting()
                # connections the kernel accepted but no worker did yet are reset when the last
                # worker closes the socket: take them now (do_read: None once the backlog is empty)
                while (accepted := server.do_read()) is not None:
                    server.do_handle(*accepted)
                server.close()
            deadline, beat = time.monotonic() + self.cfg.graceful_timeout, 0.0
            while time.monotonic() < deadline:
                if all(server.pool.free_count() == server.pool.size for server in servers):
                    return
                self._close_idle()
                beat = self._heartbeat(beat)
                gevent.sleep(STOP_POLL_SECONDS)
            self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
            for server in servers:
                server.stop(timeout=1)

        def _close_idle(self) -> None:
            """End keep-alive connections that wait for a next request and have none on the way."""
            for client, idle in list(self._idle.items()):
                try:
                    if idle and _unread_bytes(client) == 0:
                        # through a plain duplicate: gevent's own shutdown would fail the greenlet
                        # waiting on the socket (EBADF, logged as an error) instead of letting it read EOF
                        with plain_socket(fileno=os.dup(client.fileno())) as duplicate:
                            duplicate.shutdown(socket.SHUT_RDWR)
                except OSError:
                    continue   # closed meanwhile

        def handle(self, listener, client, addr):
            self._idle[client] = False   # a new connection's first request may still be on its way
            try:
                super().handle(listener, client, addr)
            finally:
                self._idle.pop(client, None)

        def handle_request(self, listener_name, req, sock, addr):
            self._idle[sock] = False
            try:
                return super().handle_request(listener_name, req, sock, addr)
            finally:
                self._idle[sock] = True

    return JsonGeventWorker


def __getattr__(name: str):
    # gevent is imported only when gunicorn asks for this worker (it loads the class by name)
    if name == "JsonGeventWorker":
        return _gevent_worker()
    raise AttributeError(name)
