"""`python -m serve` in a subprocess until it answers: shared by tests, benchmarks and scripts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class ServerProcess:
    base_url: str
    port: int
    process: subprocess.Popen
    log_path: Path


@contextmanager
def serve_subprocess(log_path: Path, tracking_uri: str | None, workers: int = 1, timeout: float = 120,
                     stop_timeout: float = 30, extra_args: tuple[str, ...] = (), drain_seconds: float = 0.0,
                     ready_path: str = "/readyz") -> Iterator[ServerProcess]:
    """The production server (gunicorn) on a free loopback port, yielded once `ready_path` is 200.

    `tracking_uri` None: the service's own default store (`<repo>/mlflow.db`), whatever the
    caller's environment says. `extra_args` go to `python -m serve` (e.g. `--worker-class gthread`).
    `ready_path` "/livez": yielded as soon as a worker answers, before a model is loaded. The server
    is stopped (SIGTERM: it drains `drain_seconds` first, then SIGKILL after `stop_timeout`) on exit.
    """
    import requests

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server gets a fresh one
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    server = None
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--drain-seconds", str(drain_seconds), *extra_args]
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = ServerProcess(f"http://127.0.0.1:{port}", port, proc, log_path)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(f"{server.base_url}{ready_path}", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # refused, or accepted but still loading
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`python -m serve` did not become ready on {server.base_url} "
                                       f"(exit code {proc.poll()}):\n{log_path.read_text()[-4000:]}")
                time.sleep(0.2)
            yield server
        finally:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
