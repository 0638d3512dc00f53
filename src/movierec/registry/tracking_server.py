"""A team's MLflow tracking server on a local PostgreSQL, with proxied artifacts (`make tracking-server`).

    python -m movierec.registry.tracking_server start [--folder .tracking] [--port 5002] [--pg-port 5433]
    python -m movierec.registry.tracking_server stop  [--folder .tracking]
    python -m movierec.registry.tracking_server status

Everything lives in one folder (default ``.tracking/`` in the checkout, git-ignored): ``postgres/``
(the database cluster, owned by the ``postgres`` user), ``artifacts/`` (models and files, served by
the tracking server itself: ``--serve-artifacts``, so clients need no access to the folder),
``*.log`` and the server's pid file. The server runs in the background on 127.0.0.1 with one worker
and no job runner (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``), enough for a few people on 2 cores.
Point everything at it with ``MLFLOW_TRACKING_URI=http://127.0.0.1:5002`` or ``mlflow: server`` in
``conf/config.yaml`` (docs/team.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from movierec.registry import postgres

DEFAULT_PORT = 5002      # conf/mlflow/server.yaml names it; `make ui` takes 5001, Flask's dev server 5000
DEFAULT_PG_PORT = 5433   # not 5432: a system PostgreSQL may hold it


@dataclass(frozen=True)
class Layout:
    """Where one tracking server keeps its state."""

    folder: Path

    @property
    def pg_data(self) -> Path:
        return self.folder / "postgres"

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    @property
    def pid_file(self) -> Path:
        return self.folder / "mlflow-server.pid"

    @property
    def server_log(self) -> Path:
        return self.folder / "mlflow-server.log"

    @property
    def pg_log(self) -> Path:
        return self.folder / "postgres.log"


def healthy(url: str, timeout: float = 2.0) -> bool:
    import requests

    try:
        return requests.get(f"{url}/health", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def server_command(backend_uri: str, artifacts: Path, port: int, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri, "--serve-artifacts",
            "--artifacts-destination", str(artifacts.resolve()), "--host", host, "--port", str(port),
            "--workers", "1"]


def launch(backend_uri: str, artifacts: Path, port: int, log_file: Path, timeout: float = 240) -> subprocess.Popen:
    """`mlflow server` in its own process group, returned once ``/health`` answers (the first start
    creates the database's tables: tens of seconds on a busy machine)."""
    url = f"http://127.0.0.1:{port}"
    if not postgres.port_free(port):
        raise RuntimeError(f"port {port} is taken: stop what listens there or choose another (--port)")
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with log_file.open("ab") as log:
        process = subprocess.Popen(server_command(backend_uri, artifacts, port), stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            terminate(process.pid)
            tail = log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server did not answer on {url} (exit code {process.poll()}); log {log_file}:\n"
                               f"{tail}")
        time.sleep(0.5)
    return process


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def terminate(pid: int, timeout: float = 30) -> None:
    """SIGTERM to the server's process group (it and its worker), SIGKILL after `timeout` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:   # not our child (started by an earlier command)
                if not alive(pid):
                    return
            time.sleep(0.2)


@contextmanager
def running_server(folder: Path, port: int, pg_port: int) -> Iterator[str]:
    """PostgreSQL plus `mlflow server` in `folder` for the duration of the block; the tracking URI.
    For tests and scripts: both are stopped on exit, the folder is left as it is."""
    layout = Layout(folder)
    folder.mkdir(parents=True, exist_ok=True)
    backend = postgres.start(layout.pg_data, pg_port, layout.pg_log)
    try:
        process = launch(backend, layout.artifacts, port, layout.server_log)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            terminate(process.pid)
    finally:
        postgres.stop(layout.pg_data)


def start(layout: Layout, port: int, pg_port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    if layout.pid_file.is_file() and alive(int(layout.pid_file.read_text().split()[0])) and healthy(url):
        return url
    layout.folder.mkdir(parents=True, exist_ok=True)
    backend = postgres.start(layout.pg_data, pg_port, layout.pg_log)
    process = launch(backend, layout.artifacts, port, layout.server_log)
    layout.pid_file.write_text(f"{process.pid} {port}\n")
    return url


def stop(layout: Layout) -> list[str]:
    stopped = []
    if layout.pid_file.is_file():
        pid = int(layout.pid_file.read_text().split()[0])
        if alive(pid):
            terminate(pid)
            stopped.append(f"mlflow server (pid {pid})")
        layout.pid_file.unlink()
    if layout.pg_data.is_dir() and postgres.stop(layout.pg_data):
        stopped.append(f"PostgreSQL ({layout.pg_data})")
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m movierec.registry.tracking_server",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--folder", type=Path, default=None,
                        help="state folder (default: .tracking/ in the project's checkout)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the tracking server's port on 127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=DEFAULT_PG_PORT, help="PostgreSQL's port on 127.0.0.1")
    args = parser.parse_args(argv)
    if args.folder is None:
        from movierec.registry.store import find_project_root

        args.folder = find_project_root() / ".tracking"
    layout = Layout(args.folder.resolve())
    try:
        if args.command == "start":
            url = start(layout, args.port, args.pg_port)
            print(f"MLflow tracking server on {url} (PostgreSQL on 127.0.0.1:{args.pg_port}, artifacts in "
                  f"{layout.artifacts}, logs in {layout.folder})")
            print(f"point the pipeline, the service and the CLI at it: export MLFLOW_TRACKING_URI={url}")
        elif args.command == "stop":
            stopped = stop(layout)
            print("stopped " + ", ".join(stopped) if stopped else f"nothing was running from {layout.folder}")
        else:
            pid = layout.pid_file.read_text().split() if layout.pid_file.is_file() else []
            up = bool(pid) and alive(int(pid[0])) and healthy(f"http://127.0.0.1:{pid[1]}")
            print(f"mlflow server: {'running on http://127.0.0.1:' + pid[1] if up else 'not running'}; "
                  f"PostgreSQL: {'running' if postgres.running(layout.pg_data) else 'not running'}")
            return 0 if up else 1
    except (postgres.PostgresMissing, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
