"""Latency and throughput of the service on the registered champion (ml-latest-small by default).

In-process: Flask's test client, no network (what the handlers cost). Loopback HTTP: a real
`python -m serve` (gunicorn) on a free port, sequential requests for p50/p99, then 8 concurrent
clients for requests/s. Prints the figures and writes `benchmarks/results/serve.json`.

    python benchmarks/serve.py [--requests 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
RESULTS = REPO_ROOT / "benchmarks" / "results" / "serve.json"


def percentiles(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "n": len(ms)}


def workload(bundle, n: int, seed: int = 0) -> dict[str, list[tuple[str, str, dict | None]]]:
    """The same random known users and new-user rating lists for every measurement."""
    rng = np.random.default_rng(seed)
    users = rng.choice(bundle.vocab.users.ids, size=n)
    popular = bundle.movies.sort_values("n_ratings", ascending=False)["movie_id"].to_numpy()[:500]
    new_users = [[{"movie_id": int(m), "rating": float(rng.integers(1, 11)) / 2}
                  for m in rng.choice(popular, size=20, replace=False)] for _ in range(n)]
    return {
        "GET /recommend": [("GET", f"/recommend?user_id={u}&k=10", None) for u in users],
        "GET /recommend-simple": [("GET", f"/recommend-simple?user_id={u}&k=10", None) for u in users],
        "POST /recommend": [("POST", "/recommend", {"ratings": r, "k": 10}) for r in new_users],
        "POST /recommend-simple": [("POST", "/recommend-simple", {"ratings": r, "k": 10}) for r in new_users],
    }


def in_process(n: int) -> tuple[dict, dict]:
    from serve import create_app

    app = create_app(poll_seconds=0)
    store = app.extensions["movierec.store"]
    if store.current is None:
        raise SystemExit(f"no model: {store.last_error} (run `make pipeline` first)")
    client = app.test_client()
    work = workload(store.current.bundle, n)
    figures = {}
    for name, calls in work.items():
        for method, url, body in calls[:20]:  # warm-up
            client.open(url, method=method, json=body)
        times = []
        for method, url, body in calls:
            start = time.perf_counter()
            response = client.open(url, method=method, json=body)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)
        figures[name] = percentiles(times)
    model = store.current
    meta = {"model_name": model.name, "model_version": model.version, "n_users": len(model.bundle.vocab.users),
            "n_movies": len(model.bundle.vocab.movies)}
    return figures, {"work": work, **meta}


def wait_for_every_worker(base: str, workers: int, timeout: float = 120) -> None:
    """Every worker has loaded once a burst of /health requests all answer 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(requests.get(f"{base}/health", timeout=5).status_code == 200 for _ in range(4 * workers)):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"python -m serve did not load the model in every worker within {timeout:.0f} s")


def over_http(base: str, work: dict, concurrency: int) -> tuple[dict, dict]:
    sequential = {}
    with requests.Session() as session:
        for name, calls in work.items():
            for method, url, body in calls[:20]:
                session.request(method, base + url, json=body)
            times = []
            for method, url, body in calls:
                start = time.perf_counter()
                response = session.request(method, base + url, json=body, timeout=10)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
            sequential[name] = percentiles(times)

    throughput = {}
    for name in ("GET /recommend", "GET /recommend-simple"):
        calls = work[name] * 2
        chunks = [calls[i::concurrency] for i in range(concurrency)]

        def client(chunk):
            with requests.Session() as session:
                for method, url, body in chunk:
                    assert session.request(method, base + url, json=body, timeout=30).status_code == 200

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(client, chunks))
        elapsed = time.perf_counter() - start
        throughput[name] = {"requests_per_s": round(len(calls) / elapsed, 1), "n": len(calls),
                            "concurrency": concurrency}
    return sequential, throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint and measurement")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--worker-class", help="`python -m serve --worker-class` (default: the configured one)")
    parser.add_argument("--bundle", type=Path, help="this model bundle folder (e.g. models/bundle) instead of "
                                                    "the champion, registered afresh in a temporary store")
    args = parser.parse_args()
    if args.bundle:
        sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
        import load

        with load.bundle_store(args.bundle, versions=1) as uri:
            os.environ["MLFLOW_TRACKING_URI"] = uri
            run(args)
    else:
        run(args)


def run(args) -> None:

    from serve.settings import ServeSettings

    worker_class = args.worker_class or ServeSettings.load().worker_class
    inproc, meta = in_process(args.requests)
    work = meta.pop("work")
    from serve.process import serve_subprocess

    with tempfile.TemporaryDirectory() as tmp, \
            serve_subprocess(Path(tmp) / "serve.log", os.environ.get("MLFLOW_TRACKING_URI"), args.workers,
                             extra_args=("--worker-class", worker_class)) as server:
        wait_for_every_worker(server.base_url, args.workers)
        http, throughput = over_http(server.base_url, work, args.concurrency)

    result = {
        "model": meta, "in_process": inproc, "http_loopback": http, "throughput": throughput,
        "server": {"workers": args.workers, "worker_class": worker_class},
        "model_source": str(args.bundle) if args.bundle else "champion",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "note": "client and server share the machine's CPUs",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"model {meta['model_name']} v{meta['model_version']}: {meta['n_users']} users, {meta['n_movies']} movies")
    print(f"{'endpoint':24} {'in-process p50/p99 ms':>22} {'HTTP p50/p99 ms':>18}")
    for name in inproc:
        a, b = inproc[name], http[name]
        print(f"{name:24} {a['p50_ms']:>10.2f} / {a['p99_ms']:<9.2f} {b['p50_ms']:>7.2f} / {b['p99_ms']:<8.2f}")
    for name, t in throughput.items():
        print(f"{name:24} {t['requests_per_s']:.0f} req/s at concurrency {t['concurrency']} ({args.workers} workers)")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
