"""Graceful shutdown (SIGTERM) that loses no request: drain first, then stop.

Gunicorn's own SIGTERM closes the listening socket and stops the workers at once: requests a
load balancer still sends are refused, connections the kernel already accepted are reset, and
keep-alive clients race the server closing their idle connection. Here SIGTERM starts a drain:

1. For ``serve.drain_seconds`` the master leaves everything running and sets a flag every worker
   sees (:class:`DrainFlag`, shared memory created before the fork): ``/readyz`` answers 503, so a
   balancer stops sending new requests, and every response closes its connection
   (``Connection: close``, :func:`close_connections_while_draining`), so keep-alive clients open
   a new connection, through the balancer, for their next request. Requests are answered as usual.
2. Then gunicorn's graceful stop: the listeners close, the workers answer the connections they
   hold and those still waiting in the listen backlog, close idle keep-alive connections, and exit
   (:mod:`serve.workers`).

A second SIGTERM while draining changes nothing; SIGINT or SIGQUIT stop at once, as in gunicorn.
"""

from __future__ import annotations

import multiprocessing
import signal
import time

from gunicorn.arbiter import Arbiter


class DrainFlag:
    """When the drain began (0: not draining), in memory the master and its forked workers share."""

    def __init__(self) -> None:
        self._since = multiprocessing.RawValue("d", 0.0)

    def start(self) -> None:
        if not self._since.value:
            self._since.value = time.time()

    def __call__(self) -> bool:
        return self._since.value > 0


def close_connections_while_draining(flag: DrainFlag):
    """A gunicorn `pre_request` hook: while draining, the response ends its connection."""

    def pre_request(worker, req) -> None:
        if flag():
            req.must_close = True   # gunicorn then answers `Connection: close` and closes after the response

    return pre_request


class DrainingArbiter(Arbiter):
    """Gunicorn's master, whose SIGTERM drains for `drain_seconds` before the graceful stop."""

    def __init__(self, app, flag: DrainFlag, drain_seconds: float) -> None:
        super().__init__(app)
        self.drain_flag, self.drain_seconds = flag, drain_seconds
        self._drain_ends: float | None = None

    def handle_term(self) -> None:
        if self.drain_seconds <= 0 or (self._drain_ends is not None and time.monotonic() >= self._drain_ends):
            raise StopIteration           # gunicorn's graceful stop (halt)
        if self._drain_ends is None:
            self._drain_ends = time.monotonic() + self.drain_seconds
            self.drain_flag.start()
            self.log.info("SIGTERM: draining for %g s (/readyz answers 503, responses close their connections), "
                          "then stopping", self.drain_seconds)
        else:
            self.log.info("SIGTERM: already draining, stopping in %.1f s", self._drain_ends - time.monotonic())

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        if self._drain_ends is None:
            return super().wait_for_signals(timeout)
        left = self._drain_ends - time.monotonic()
        signals = super().wait_for_signals(max(0.0, min(timeout, left)))
        if time.monotonic() >= self._drain_ends and signal.SIGTERM not in signals:
            signals.append(signal.SIGTERM)  # the drain is over: handle_term stops
        return signals
