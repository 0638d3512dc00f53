"""Bounded calls to the MLflow registry: a timeout and a few retries on every HTTP request.

MLflow's client retries a failed request 7 times with exponential backoff and waits up to 120 s
for each answer, so one alias check during an outage blocks for minutes: the service would report
nothing and notice neither the outage nor the recovery. The service polls anyway, so the next poll
is the real retry; each request here gets a short timeout and at most ``retries`` quick retries
(a restarted server's stale keep-alive connection costs one). Downloads get a longer timeout per
read: a proxied artifact server may fetch a large file from its object store before the first byte.

MLflow reads these limits from its environment variables on every request, so they are set around
each call (the service's registry calls are serialised by the model store's lock; nothing else in
a worker talks to MLflow) and restored afterwards, leaving a process that embeds the store alone.
A local ``sqlite:///`` store makes no HTTP requests: there the limits change nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

TIMEOUT_ENV = "MLFLOW_HTTP_REQUEST_TIMEOUT"
RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
BACKOFF_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
JITTER_ENV = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"
JITTER_SECONDS = 0.5  # at most this much random delay added to each backoff (urllib3 skips both on the first retry)


@dataclass(frozen=True)
class RegistryLimits:
    """Seconds and retries for each HTTP request (MLflow takes integers: they are its env vars)."""

    timeout: int = 2            # an alias check or version lookup: connect, then each read
    retries: int = 1
    backoff: int = 1            # urllib3 sleeps backoff * 2**(n-1) s before retry n >= 2 (+ jitter)
    download_timeout: int = 60  # each read while a version's files download

    def __post_init__(self) -> None:
        if min(self.timeout, self.download_timeout) < 1 or min(self.retries, self.backoff) < 0:
            raise ValueError(f"registry limits: timeouts must be >= 1 s, retries and backoff >= 0, got {self}")

    @contextmanager
    def checks(self) -> Iterator[None]:
        """Within: MLflow's HTTP requests use the check timeout."""
        with _environment(self._values(self.timeout)):
            yield

    @contextmanager
    def downloads(self) -> Iterator[None]:
        """Within: MLflow's HTTP requests use the download timeout."""
        with _environment(self._values(self.download_timeout)):
            yield

    def _values(self, timeout: int) -> dict[str, str]:
        return {TIMEOUT_ENV: str(timeout), RETRIES_ENV: str(self.retries), BACKOFF_ENV: str(self.backoff),
                JITTER_ENV: str(JITTER_SECONDS)}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
