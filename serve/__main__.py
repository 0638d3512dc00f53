"""`python -m serve [--host H] [--port P] [--workers N]`: the app under gunicorn (production).

Defaults come from `conf/serve/default.yaml`. The app is built in each worker after the fork
(`preload_app=False`), so torch and MLflow never load in the master process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from serve.settings import ServeSettings


class GunicornServer(BaseApplication):
    """Gunicorn through its Python API, with our settings and no config file or argv of its own."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        options = {
            "bind": f"{host}:{s.port}", "workers": s.workers, "worker_class": "gthread", "threads": s.threads,
            "preload_app": False, "timeout": s.timeout, "graceful_timeout": 10, "keepalive": 5,
            "errorlog": "-", "accesslog": None, "proc_name": "movierec-serve",
            # gunicorn >= 26 opens a control socket at a fixed path that a second instance takes over
            "control_socket_disable": True,
            # SIGTERM: stop accepting, let in-flight requests finish (up to graceful_timeout), exit
            "child_exit": _mark_worker_dead,
            "when_ready": lambda server: print(f"movierec serving on http://{host}:{s.port}/ "
                                               f"({s.workers} workers; API: /openapi.json)", flush=True),
        }
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from serve.app import create_app

        return create_app(self.settings)


def _mark_worker_dead(server, worker) -> None:
    """A finished worker's live gauges leave the multiprocess metrics (its counters stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_dir() -> str:
    """A fresh folder where every worker writes its Prometheus metrics (before any worker starts)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="movierec-metrics-")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder


def parse_args(argv: list[str] | None = None) -> ServeSettings:
    defaults = ServeSettings.load()
    parser = argparse.ArgumentParser(prog="python -m serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=defaults.host, help=f"address to bind (default {defaults.host})")
    parser.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port})")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help=f"worker processes, one model each (default {defaults.workers})")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"threads per worker (default {defaults.threads})")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.threads < 1 or not 0 <= args.port < 65536:
        parser.error("--workers and --threads must be >= 1 and --port in 0-65535")
    return ServeSettings.load(host=args.host, port=args.port, workers=args.workers, threads=args.threads)


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    prepare_metrics_dir()
    GunicornServer(settings).run()


if __name__ == "__main__":
    sys.exit(main())
