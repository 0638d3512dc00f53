"""Bounded load test of the production server (`python -m serve`: gunicorn, 2 workers) on loopback.

Phases, each against the same server: `--duration` seconds at each `--concurrency` (default 8
and 32, 60 s each) over a mix of GET /recommend (40%), GET /recommend-simple (30%) and POST
/recommend with 20 ratings (30%), after a short warm-up. Then (unless --no-reload) a reload run:
the champion alias is moved to another version while the load runs; every response must name
one of the two versions, and all must name the new one once the workers' pollers picked it up.

Figures per phase: requests, errors (any non-200, transport error, or a response without
`model_version`), requests/s, p50/p90/p99/max latency, and each worker's RSS sampled every
`--sample-every` seconds (growth from the first to the last sample). The 1-minute load average
is recorded before and after every phase: on a busy machine the latencies are not the service's.

    python benchmarks/load.py                       # the real champion (a *copy* of <repo>/mlflow.db)
    python benchmarks/load.py --small --duration 10  # the small test model, 10 s per phase

The registry is never changed in place: the champion run works on a copy of mlflow.db (the
artifacts it points at are only read). Traffic goes only to 127.0.0.1. Writes
`benchmarks/results/load.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from serve.process import ServerProcess, serve_subprocess  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "load.json"
MIX = (("GET /recommend", 0.4), ("GET /recommend-simple", 0.3), ("POST /recommend", 0.3))


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


# -- the server ------------------------------------------------------------------------------------

@contextmanager
def running_server(tracking_uri: str | None, workers: int = 2, timeout: float = 180,
                   log_dir: Path | None = None, extra_args: tuple[str, ...] = ()) -> Iterator[ServerProcess]:
    """`python -m serve` on a free loopback port until every worker has loaded the model.

    A gunicorn worker accepts connections only once `create_app` returned (the model is loaded in
    it), so `/readyz` answering 200 from every worker is not observable; after the first 200 we
    wait until every worker's RSS has settled.
    """
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="movierec-load-"))
    with serve_subprocess(log_dir / "serve.log", tracking_uri, workers, timeout, extra_args=extra_args) as server:
        _wait_workers_loaded(server, workers, timeout)
        yield server


def worker_processes(server: ServerProcess):
    import psutil

    return [p for p in psutil.Process(server.process.pid).children() if p.is_running()]


def _wait_workers_loaded(server: ServerProcess, workers: int, timeout: float) -> None:
    """All `workers` children exist and their memory stopped growing (each has loaded the model)."""
    deadline = time.monotonic() + timeout
    previous: dict[int, int] = {}
    stable_since = None
    while time.monotonic() < deadline:
        rss = {p.pid: p.memory_info().rss for p in worker_processes(server)}
        grown = len(rss) < workers or any(abs(v - previous.get(pid, 0)) > 2 * 2**20 for pid, v in rss.items())
        previous = rss
        if grown:
            stable_since = None
        elif stable_since is None:
            stable_since = time.monotonic()
        elif time.monotonic() - stable_since > 2:
            return
        time.sleep(0.5)


def get_json(port: int, path: str, method: str = "GET", body: dict | None = None,
             conn: http.client.HTTPConnection | None = None, timeout: float = 30) -> tuple[int, dict | None]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        return response.status, payload
    finally:
        if own:
            conn.close()


# -- the workload ------------------------------------------------------------------------------------

def discover(port: int, max_users: int = 300) -> tuple[list[int], list[int]]:
    """Known user ids and movie ids, found through the API itself (no model loaded in the client)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    users = [u for u in range(1, max_users + 1)
             if get_json(port, f"/users/{u}/top-rated?limit=1", conn=conn)[0] == 200]
    movies: set[int] = set()
    for letter in "aeiost":
        status, payload = get_json(port, f"/movies?query={letter}&limit=100", conn=conn)
        if status == 200:
            movies |= {m["movie_id"] for m in payload["movies"]}
    conn.close()
    if not users or len(movies) < 5:
        raise RuntimeError(f"workload discovery found {len(users)} users and {len(movies)} movies")
    return users, sorted(movies)


def requests_for(users: list[int], movies: list[int], seed: int) -> Iterator[tuple[str, str, str, dict | None]]:
    rng = random.Random(seed)
    names = [name for name, _ in MIX]
    weights = [w for _, w in MIX]
    while True:
        name = rng.choices(names, weights)[0]
        if name == "POST /recommend":
            chosen = rng.sample(movies, min(20, len(movies)))
            body = {"ratings": [{"movie_id": m, "rating": rng.randint(1, 10) / 2} for m in chosen], "k": 10}
            yield name, "POST", "/recommend", body
        else:
            path = name.split()[1]
            yield name, "GET", f"{path}?user_id={rng.choice(users)}&k=10", None


@dataclass
class Sample:
    started: float
    latency: float
    endpoint: str
    status: int            # 0: transport error
    version: str | None
    error: str | None = None


@dataclass
class Phase:
    name: str
    concurrency: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    rss: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    loadavg_before: float = 0.0
    loadavg_after: float = 0.0
    events: dict = field(default_factory=dict)

    def summary(self) -> dict:
        ok = [s for s in self.samples if s.status == 200 and s.version]
        errors = [s for s in self.samples if not (s.status == 200 and s.version)]
        lat = np.array([s.latency for s in self.samples]) * 1000 if self.samples else np.zeros(1)
        per_endpoint = {}
        for name, _ in MIX:
            ms = np.array([s.latency for s in self.samples if s.endpoint == name]) * 1000
            if ms.size:
                per_endpoint[name] = {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 1),
                                      "p99_ms": round(float(np.percentile(ms, 99)), 1)}
        workers = {}
        for pid, series in self.rss.items():
            mb = [r / 2**20 for _, r in series]
            half = max(1, len(mb) // 2)
            workers[str(pid)] = {"samples": len(mb), "start_mb": round(mb[0], 1), "end_mb": round(mb[-1], 1),
                                 "max_mb": round(max(mb), 1), "growth_mb": round(mb[-1] - mb[0], 1),
                                 "first_half_mean_mb": round(float(np.mean(mb[:half])), 1),
                                 "second_half_mean_mb": round(float(np.mean(mb[half:] or mb)), 1)}
        return {
            "phase": self.name, "concurrency": self.concurrency, "seconds": round(self.seconds, 1),
            "requests": len(self.samples), "ok": len(ok), "errors": len(errors),
            "error_examples": sorted({f"{s.endpoint}: {s.status} {s.error or ''}"[:200] for s in errors})[:5],
            "requests_per_s": round(len(self.samples) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p90_ms": round(float(np.percentile(lat, 90)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "max_ms": round(float(lat.max()), 1),
            "per_endpoint": per_endpoint, "versions": _count(s.version for s in self.samples),
            "rss_per_worker": workers, "loadavg_1min_before": self.loadavg_before,
            "loadavg_1min_after": self.loadavg_after, **self.events,
        }


def _count(values) -> dict:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def run_phase(server: ServerProcess, name: str, concurrency: int, seconds: float, users: list[int], movies: list[int],
              sample_every: float = 2.0, during=None, seed: int = 0) -> Phase:
    """`concurrency` client threads (one keep-alive connection each) for `seconds`; `during(phase)`
    runs in its own thread meanwhile (the alias move of the reload run)."""
    phase = Phase(name, concurrency, seconds, loadavg_before=loadavg())
    stop = threading.Event()
    lock = threading.Lock()
    t0 = time.monotonic()

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        mine = []
        for endpoint, method, path, body in requests_for(users, movies, seed * 1000 + i):
            if stop.is_set():
                break
            start = time.monotonic()
            try:
                status, payload = get_json(server.port, path, method, body, conn=conn)
                version = payload.get("model_version") if isinstance(payload, dict) else None
                error = None if status == 200 else str((payload or {}).get("error", ""))[:120]
            except (OSError, http.client.HTTPException) as exc:
                status, version, error = 0, None, f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            mine.append(Sample(start - t0, time.monotonic() - start, endpoint, status, version, error))
        conn.close()
        with lock:
            phase.samples.extend(mine)

    def sampler() -> None:
        while not stop.is_set():
            now = time.monotonic() - t0
            for proc in worker_processes(server):
                with contextlib.suppress(Exception):  # a worker that just exited
                    phase.rss.setdefault(proc.pid, []).append((now, proc.memory_info().rss))
            stop.wait(sample_every)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
    threads.append(threading.Thread(target=sampler, daemon=True))
    if during is not None:
        threads.append(threading.Thread(target=during, args=(phase, t0), daemon=True))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=90)
    phase.seconds = time.monotonic() - t0
    phase.samples.sort(key=lambda s: s.started)
    phase.loadavg_after = loadavg()
    return phase


# -- the reload run ------------------------------------------------------------------------------------

def alias_mover(tracking_uri: str, name: str, alias: str, to_version: str, after: float):
    """A `during` callable: `after` seconds into the phase, move `alias` (registry.champion.move_alias)."""

    def during(phase: Phase, t0: float) -> None:
        from mlflow.tracking import MlflowClient

        from movierec.registry.alias import move_alias

        time.sleep(after)
        client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        move = move_alias(client, name, alias, to_version, "load test: promote under load")
        phase.events["alias_moved_at_s"] = round(time.monotonic() - t0, 2)
        phase.events["alias_move"] = f"{move.from_version} -> {move.to_version}"

    return during


def reload_verdict(phase: Phase, old: str, new: str) -> dict:
    """0 failures; every response names `old` or `new`; after the switch-over only `new`."""
    moved_at = phase.events.get("alias_moved_at_s")
    versions = [s.version for s in phase.samples]
    first_new = next((s.started for s in phase.samples if s.version == new), None)
    last_old = max((s.started for s in phase.samples if s.version == old), default=None)
    failed = sum(1 for s in phase.samples if s.status != 200)
    return {"old_version": old, "new_version": new, "failed_requests": failed,
            "foreign_versions": sorted({str(v) for v in versions} - {old, new}),
            "first_new_at_s": None if first_new is None else round(first_new, 2),
            "last_old_at_s": None if last_old is None else round(last_old, 2),
            "switch_over_s": None if (last_old is None or moved_at is None) else round(last_old - moved_at, 2),
            "switched": bool(versions) and versions[-1] == new and first_new is not None,
            "ok": failed == 0 and set(versions) <= {old, new} and bool(versions) and versions[-1] == new}


# -- stores ---------------------------------------------------------------------------------------------

@contextmanager
def small_store(versions: int = 2) -> Iterator[str]:
    """The service tests' small model as `movierec` versions 1..`versions` (@champion on the last)."""
    with tempfile.TemporaryDirectory(prefix="movierec-load-") as root:
        env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        code = ("import sys; sys.path.insert(0, 'tests/serve'); sys.path.insert(0, 'tests/browser');"
                "import os; from pathlib import Path; root = Path(sys.argv[1]);"
                "import small_model; small_model.main(root);"
                "from serve_testdata import Registry;"
                f"[Registry('sqlite:///' + str(root / 'mlflow.db'), root / 'bundle', None, None).register('movierec')"
                f" for _ in range({versions - 1})]")
        subprocess.run([sys.executable, "-c", code, root], cwd=REPO_ROOT, env=env, check=True,
                       capture_output=True, text=True)
        yield f"sqlite:///{Path(root) / 'mlflow.db'}"


@contextmanager
def bundle_store(bundle_dir: Path, versions: int = 2) -> Iterator[str]:
    """A model bundle folder (e.g. `models/bundle` of a pipeline run) as `movierec` versions 1..`versions`
    in a temporary store, registered by this tree's code (a store written by other code may not load)."""
    with tempfile.TemporaryDirectory(prefix="movierec-load-") as root:
        env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        code = (f"import sys; sys.path[:0] = ['{REPO_ROOT / 'tests' / 'serve'}', '{REPO_ROOT / 'src'}'];"
                "from pathlib import Path;"
                "from movierec.registry.tracking import use_store; from serve_testdata import Registry;"
                "import os; os.chdir(sys.argv[1]);"  # MLflow's default artifact root is relative to it
                "uri = 'sqlite:///' + sys.argv[1] + '/mlflow.db'; use_store(uri, 'load-benchmark');"
                f"[Registry(uri, Path(sys.argv[2]), None, None).register('movierec') for _ in range({versions})]")
        subprocess.run([sys.executable, "-c", code, root, str(Path(bundle_dir).resolve())], cwd=REPO_ROOT, env=env,
                       check=True, capture_output=True, text=True)
        yield f"sqlite:///{Path(root) / 'mlflow.db'}"


@contextmanager
def champion_copy() -> Iterator[str]:
    """A consistent copy of <repo>/mlflow.db (sqlite backup API): the alias moves there, never in the original."""
    source = REPO_ROOT / "mlflow.db"
    if not source.is_file():
        raise SystemExit(f"{source} not found: run the pipeline first, or use --small")
    with tempfile.TemporaryDirectory(prefix="movierec-load-") as root:
        target = Path(root) / "mlflow.db"
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        yield f"sqlite:///{target}"


def alias_versions(tracking_uri: str, name: str = "movierec", alias: str = "champion") -> tuple[str, str]:
    """(the version the alias points at, another loadable candidate: the newest other version)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    current = str(client.get_model_version_by_alias(name, alias).version)
    others = sorted((int(v.version) for v in client.search_model_versions(f"name='{name}'")
                     if str(v.version) != current), reverse=True)
    if not others:
        raise SystemExit(f"{name} has only version {current}: nothing to promote under load")
    return current, str(others[0])


# -- the command -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the small test model instead of the champion")
    parser.add_argument("--bundle", type=Path, help="this model bundle folder instead of the champion")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", help="`python -m serve --worker-class` (default: the configured one)")
    parser.add_argument("--sample-every", type=float, default=2.0, help="RSS sampling period, seconds")
    parser.add_argument("--no-reload", action="store_true", help="skip the promote-under-load run")
    parser.add_argument("--reload-concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "src"))

    model = "small" if args.small else (f"bundle {args.bundle}" if args.bundle else "champion (copy of mlflow.db)")
    results: dict = {"model": model, "workers": args.workers, "worker_class": args.worker_class or "configured",
                     "mix": dict(MIX), "duration_s": args.duration,
                     "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                 "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}, "phases": []}
    store = small_store() if args.small else (bundle_store(args.bundle) if args.bundle else champion_copy())
    extra = ("--worker-class", args.worker_class) if args.worker_class else ()
    with store as uri, running_server(uri, workers=args.workers, extra_args=extra) as server:
        old, new = alias_versions(uri)
        users, movies = discover(server.port)
        results.update(served_version=old, n_users_in_workload=len(users), n_movies_in_workload=len(movies))
        print(f"serving version {old} at {server.base_url}; {len(users)} users, {len(movies)} movies; "
              f"load average {loadavg()}", flush=True)
        run_phase(server, "warm-up", 8, args.warmup, users, movies)
        for c in args.concurrency:
            summary = run_phase(server, f"c={c}", c, args.duration, users, movies, args.sample_every).summary()
            results["phases"].append(summary)
            _print(summary)
        if not args.no_reload:
            phase = run_phase(server, "reload", args.reload_concurrency, args.duration, users, movies,
                              args.sample_every, during=alias_mover(uri, "movierec", "champion", new,
                                                                    after=min(10.0, args.duration / 4)))
            summary = phase.summary()
            summary["reload"] = reload_verdict(phase, old, new)
            results["phases"].append(summary)
            _print(summary)
            print("reload:", json.dumps(summary["reload"]), flush=True)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    failed = [p for p in results["phases"] if p["errors"] or not p.get("reload", {"ok": True})["ok"]]
    print(f"wrote {args.out}; {'FAILED: ' + ', '.join(p['phase'] for p in failed) if failed else 'all phases clean'}")
    return 1 if failed else 0


def _print(s: dict) -> None:
    rss = ", ".join(f"{w['start_mb']:.0f}->{w['end_mb']:.0f} MB" for w in s["rss_per_worker"].values())
    print(f"{s['phase']:>7}: {s['requests']} requests, {s['errors']} errors, {s['requests_per_s']} req/s, "
          f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms; RSS per worker {rss}; "
          f"load average {s['loadavg_1min_before']} -> {s['loadavg_1min_after']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
