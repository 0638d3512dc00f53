"""A real `mlflow server` process (sqlite backend, proxied artifacts) on loopback, to stop and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from serve_testdata import Registry

from serve.process import free_port


class MlflowServer:
    """`mlflow server` on a fixed loopback port: :meth:`stop` then :meth:`start` is an outage."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [str(Path(sys.executable).with_name("mlflow")), "server",
                   "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}", "--serve-artifacts",
                   "--artifacts-destination", str(self.root / "artifacts"),
                   "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        log = (self.root / "server.log").open("a")
        # its own process group: the server runs its web server as a child process
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{self.uri}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server did not start on {self.uri}:\n"
                                   f"{(self.root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:    # the port is free again: the outage has begun
            try:
                requests.get(f"{self.uri}/health", timeout=1)
            except requests.ConnectionError:
                return
            time.sleep(0.2)
        raise RuntimeError(f"mlflow server on {self.uri} still answers after it was stopped")


@contextmanager
def pointed_at(uri: str, restore: str) -> Iterator[None]:
    """MLflow's process-wide store is `uri` within, `restore` afterwards (and MLFLOW_TRACKING_URI too)."""
    from movierec.registry.tracking import use_store

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    use_store(uri, "serve-tests")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
        use_store(restore, "serve-tests")


def register_on(server: MlflowServer, local: Registry, name: str) -> str:
    """A new version of `name` on the server, from the session's trained bundle; its number."""
    with pointed_at(server.uri, restore=local.uri):
        return Registry(server.uri, local.bundle_dir, local.ratings, local.bundle).register(name)
