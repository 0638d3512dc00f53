"""`python -m serve [--host H] [--port P] [--workers N]`: the app under gunicorn (production).

Defaults come from `conf/serve/default.yaml` (and `serve.settings.ServeSettings`). The app is built
in each worker after the fork (`preload_app=False`), so torch and MLflow never load in the master.
Workers are gevent workers (`serve.workers.JsonGeventWorker`): a client that sends its request
slowly holds a greenlet, not a thread; its headers must arrive within `--idle-timeout` seconds,
its body within the body timeout; errors gunicorn answers itself (414, 431, 400) are JSON.
A worker loads its model in the background: it answers `/livez` at once, `/readyz` once a model
is loaded. SIGTERM drains for `serve.drain_seconds` before it stops (:mod:`serve.shutdown`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from gunicorn.app.base import BaseApplication

from serve.settings import ServeSettings
from serve.shutdown import DrainFlag, DrainingArbiter, close_connections_while_draining

WORKER_CLASSES = {
    "gevent": "serve.workers.JsonGeventWorker",     # production: event loop per worker, JSON errors
    "gthread": "serve.workers.JsonThreadWorker",    # the previous default (threads), JSON errors
    # benchmark candidates only (benchmarks/slow_clients.py): an asyncio front with the app in a
    # thread pool through a2wsgi; their own parse errors are not JSON
    "asgi": "gunicorn.workers.gasgi.ASGIWorker",
    "uvicorn": "uvicorn.workers.UvicornWorker",
}
ASGI_CLASSES = {"asgi", "uvicorn"}


class GunicornServer(BaseApplication):
    """Gunicorn through its Python API, with our settings and no config file or argv of its own."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.arbiter: DrainingArbiter | None = None
        self.draining = DrainFlag()   # created in the master, shared with the workers it forks
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        options = {
            "bind": f"{host}:{s.port}", "workers": s.workers, "worker_class": WORKER_CLASSES[s.worker_class],
            "threads": s.threads, "worker_connections": s.worker_connections,
            "preload_app": False, "timeout": s.timeout,
            # SIGTERM: a gevent worker waits for every open connection, idle keep-alive ones included
            # (they close after idle_timeout): the master must not SIGKILL it before that
            "graceful_timeout": max(10, s.idle_timeout + 5),
            # gevent workers time the reading of a request line + headers with `keepalive`, and close
            # a keep-alive connection idle that long: one setting for both
            "keepalive": s.idle_timeout,
            "limit_request_line": 4094, "limit_request_fields": 100, "limit_request_field_size": 8190,
            "errorlog": "-", "accesslog": None, "proc_name": "movierec-serve",
            # gunicorn >= 26 opens a control socket at a fixed path that a second instance takes over
            "control_socket_disable": True,
            # SIGTERM: drain (DrainingArbiter), then stop accepting, finish in-flight requests (up to
            # graceful_timeout), exit; while draining every response closes its connection
            "pre_request": close_connections_while_draining(self.draining),
            "child_exit": _mark_worker_dead,
            "worker_exit": _exit_without_teardown,
            "when_ready": lambda server: print(f"movierec serving on http://{host}:{s.port}/ "
                                               f"({s.workers} {s.worker_class} workers; API: /openapi.json)",
                                               flush=True),
        }
        for key, value in options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from serve.app import create_app

        app = create_app(self.settings, load_in_background=True, draining=self.draining)
        if self.settings.worker_class in ASGI_CLASSES:
            from a2wsgi import WSGIMiddleware

            return WSGIMiddleware(app, workers=self.settings.threads)
        return app


    def run(self) -> None:
        try:
            self.arbiter = DrainingArbiter(self, self.draining, self.settings.drain_seconds)
            self.arbiter.run()
        except RuntimeError as exc:   # as gunicorn's BaseApplication.run
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)


def _exit_without_teardown(server, worker) -> None:
    """A stopping worker ends here, with its exit status, skipping Python's teardown: collecting
    torch's, MLflow's and pandas' module graphs took a worker 5-10 s on a loaded 2-core machine,
    and the master waits for its workers. Nothing is lost: the worker has finished its requests,
    its metrics are written as they happen, the kernel releases its model cache locks."""
    import logging

    exc = sys.exc_info()[1]   # gunicorn calls this while its sys.exit() propagates
    code = exc.code if isinstance(exc, SystemExit) else (1 if exc is not None else 0)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _mark_worker_dead(server, worker) -> None:
    """A finished worker's live gauges leave the multiprocess metrics (its counters stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_dir() -> tuple[str, bool]:
    """A fresh folder where every worker writes its Prometheus metrics (before any worker starts), and
    whether this service created it (then it removes it when it stops: :func:`release_metrics_dir`).

    A folder named by ``PROMETHEUS_MULTIPROC_DIR`` is the caller's: emptied now (Prometheus' rule: no
    counters of an earlier run), kept at the end. A master gunicorn re-executed (SIGUSR2, ``GUNICORN_PID``
    set) inherits its parent's folder, whose workers still write to it: it is left as it is."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given and os.environ.get("GUNICORN_PID"):
        return given, False
    folder = given or tempfile.mkdtemp(prefix="movierec-metrics-")
    if given:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder, not given


def release_metrics_dir(folder: str, created: bool, server: GunicornServer) -> None:
    """When the master stops: remove the metrics folder it created, unless a re-executed master
    (SIGUSR2) took it over. Never a folder it was given (another live service may use it)."""
    handed_over = server.arbiter is not None and bool(server.arbiter.reexec_pid)
    if created and not handed_over:
        shutil.rmtree(folder, ignore_errors=True)


def parse_args(argv: list[str] | None = None) -> ServeSettings:
    defaults = ServeSettings.load()
    parser = argparse.ArgumentParser(prog="python -m serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=defaults.host, help=f"address to bind (default {defaults.host})")
    parser.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port})")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help=f"worker processes, one model each (default {defaults.workers})")
    parser.add_argument("--threads", type=int, default=defaults.threads,
                        help=f"threads per worker (default {defaults.threads})")
    parser.add_argument("--worker-class", choices=sorted(WORKER_CLASSES), default=defaults.worker_class,
                        help=f"gunicorn worker (default {defaults.worker_class}; the others are for comparison)")
    parser.add_argument("--idle-timeout", type=int, default=defaults.idle_timeout,
                        help=f"seconds a client has to send its headers, and a keep-alive connection may stay "
                             f"idle (default {defaults.idle_timeout})")
    parser.add_argument("--body-timeout", type=float, default=defaults.body_timeout,
                        help=f"seconds a request body has to arrive whole, else 408 "
                             f"(default {defaults.body_timeout:g})")
    parser.add_argument("--poll-seconds", type=float, default=defaults.poll_seconds,
                        help=f"how often each worker checks the alias (default {defaults.poll_seconds:g}; 0: never)")
    parser.add_argument("--drain-seconds", type=float, default=defaults.drain_seconds,
                        help=f"on SIGTERM, seconds /readyz answers 503 while requests are still served, before the "
                             f"stop (default {defaults.drain_seconds:g})")
    parser.add_argument("--model-cache", default=defaults.model_cache,
                        help="folder for model versions downloaded from a tracking server "
                             "(default $XDG_CACHE_HOME/movierec/models)")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.threads < 1 or not 0 <= args.port < 65536 or min(args.idle_timeout,
                                                                                 args.body_timeout) <= 0:
        parser.error("--workers and --threads must be >= 1, --port in 0-65535, the timeouts > 0")
    if min(args.poll_seconds, args.drain_seconds) < 0:
        parser.error("--poll-seconds and --drain-seconds must be >= 0")
    return ServeSettings.load(host=args.host, port=args.port, workers=args.workers, threads=args.threads,
                              worker_class=args.worker_class, idle_timeout=args.idle_timeout,
                              body_timeout=args.body_timeout, poll_seconds=args.poll_seconds,
                              drain_seconds=args.drain_seconds, model_cache=args.model_cache)


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    folder, created = prepare_metrics_dir()
    master = os.getpid()
    server = GunicornServer(settings)
    try:
        server.run()
    finally:
        # the master only: gunicorn's halt (any stop signal) and a failed start (port taken) end here by
        # SystemExit; forked workers leave through `_exit_without_teardown` and never reach this line
        if os.getpid() == master:
            release_metrics_dir(folder, created, server)


if __name__ == "__main__":
    main()
