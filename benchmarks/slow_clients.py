"""Slow and idle clients against the production server (`python -m serve`, 2 workers) on loopback.

`--connections` half-open connections (default 1,000) are held open while a client measures
`GET /livez` and `GET /recommend`: half send a request line and part of the headers, half send
whole headers announcing a 1,000-byte body and then 10 bytes of it; then both wait. When the
server closes one, the time it stayed open is recorded (that is the server's idle timeout) and a
new one replaces it, so the pressure holds for the whole measurement.

Measured, per worker class (`--worker-class`, several to compare):

* before the slow clients: p50/p99 of `/livez` and `GET /recommend` (a fresh connection each),
  and requests/s of `GET /recommend` at concurrency 8 (keep-alive connections);
* with them: the same p50/p99 and errors (any non-200, a timeout — 5 s — or a refused
  connection), the half-open connections actually open, how long the server kept them,
  and the RSS of the master and workers (first, last, max sample; "flat" = last - first).

Every loop is bounded in count and time; all traffic goes to 127.0.0.1. Results are merged into
`benchmarks/results/slow_clients.json` (one entry per worker class), with the load average.

    python benchmarks/slow_clients.py                                  # gevent (the default), small model
    python benchmarks/slow_clients.py --worker-class gthread gevent asgi uvicorn
    python benchmarks/slow_clients.py --champion                       # the registered champion (a copy)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import selectors
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import load  # noqa: E402  (benchmarks/load.py: the server, the stores, the workload discovery)

RESULTS = REPO_ROOT / "benchmarks" / "results" / "slow_clients.json"
PARTIAL_HEADERS = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\nX-Waiting: "
PARTIAL_BODY = (b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n" + b'{"ratings":')


class SlowClients:
    """`n` half-open connections kept open (reopened when the server closes one) until `stop()`."""

    def __init__(self, port: int, n: int, max_reopen: int = 100_000) -> None:
        self.port, self.n, self.max_reopen = port, n, max_reopen
        self.selector = selectors.DefaultSelector()
        self.opened = 0
        self.open_now = 0
        self.closed_by_server: list[float] = []   # seconds each stayed open
        self.answers: dict[str, int] = {}         # first bytes of what the server said before closing
        self.connect_errors: dict[str, int] = {}
        self.peak_open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i: int) -> None:
        sock = socket.socket()
        sock.setblocking(True)
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(PARTIAL_HEADERS if i % 2 == 0 else PARTIAL_BODY)
        except OSError as exc:
            key = type(exc).__name__
            self.connect_errors[key] = self.connect_errors.get(key, 0) + 1
            sock.close()
            return
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ, (i, time.monotonic()))
        self.opened += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def start(self, ramp_seconds: float = 10.0) -> None:
        deadline = time.monotonic() + ramp_seconds
        for i in range(self.n):
            if time.monotonic() > deadline:
                break
            self._open(i)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                sock, (i, opened_at) = key.fileobj, key.data
                try:
                    data = sock.recv(200)
                except OSError:
                    data = b""
                self.selector.unregister(sock)
                sock.close()
                self.open_now -= 1
                self.closed_by_server.append(time.monotonic() - opened_at)
                first = data.split(b"\r\n", 1)[0].decode("latin-1")[:40] or "(closed, no answer)"
                self.answers[first] = self.answers.get(first, 0) + 1
                if self.opened < self.max_reopen and not self._stop.is_set():
                    self._open(i)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()

    def summary(self) -> dict:
        kept = np.array(self.closed_by_server) if self.closed_by_server else None
        return {"target": self.n, "opened_total": self.opened, "peak_open": self.peak_open,
                "connect_errors": self.connect_errors, "closed_by_server": len(self.closed_by_server),
                "kept_open_s": None if kept is None else {"min": round(float(kept.min()), 2),
                                                          "p50": round(float(np.percentile(kept, 50)), 2),
                                                          "max": round(float(kept.max()), 2)},
                "server_said_before_closing": self.answers}


def probe(port: int, paths: list[str], seconds: float, max_requests: int = 5000, timeout: float = 5.0) -> dict:
    """Sequential requests over fresh connections, round-robin over `paths`, for `seconds`."""
    times: dict[str, list[float]] = {p.split("?")[0]: [] for p in paths}
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    for n in range(max_requests):
        if time.monotonic() > deadline:
            break
        path = paths[n % len(paths)]
        start = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            error = None if response.status == 200 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
        elapsed = (time.perf_counter() - start) * 1000
        if error:
            errors[error] = errors.get(error, 0) + 1
        else:
            times[path.split("?")[0]].append(elapsed)
        time.sleep(0.005)
    out = {}
    for name, ms in times.items():
        out[name] = {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2) if ms else None,
                     "p99_ms": round(float(np.percentile(ms, 99)), 2) if ms else None,
                     "max_ms": round(float(max(ms)), 2) if ms else None}
    out["errors"] = sum(errors.values())
    out["error_kinds"] = errors
    return out


def throughput(server, users: list[int], concurrency: int = 8, seconds: float = 5.0) -> dict:
    """GET /recommend at `concurrency` keep-alive clients for `seconds`: requests/s and errors."""
    port = server.port
    stop_at = time.monotonic() + seconds

    def client(i: int) -> tuple[int, int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ok = bad = 0
        for n in range(100_000):
            if time.monotonic() > stop_at:
                break
            user = users[(i * 7919 + n) % len(users)]
            try:
                status, _ = load.get_json(port, f"/recommend?user_id={user}&k=10", conn=conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
        conn.close()
        return ok, bad

    cpu_before = worker_cpu(server)
    start = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(client, range(concurrency)))
    elapsed = time.monotonic() - start
    cpu = {pid: round(t - cpu_before.get(pid, 0.0), 2) for pid, t in worker_cpu(server).items()}
    ok, bad = sum(r[0] for r in results), sum(r[1] for r in results)
    return {"requests_per_s": round((ok + bad) / elapsed, 1), "requests": ok + bad, "errors": bad,
            "concurrency": concurrency, "seconds": round(elapsed, 1),
            # how the work spread over the workers: CPU seconds each used during the run
            "worker_cpu_s": sorted(cpu.values(), reverse=True)}


def worker_cpu(server) -> dict[int, float]:
    out = {}
    for proc in load.worker_processes(server):
        try:
            times = proc.cpu_times()
            out[proc.pid] = times.user + times.system
        except Exception:  # noqa: BLE001 - a worker that just exited
            pass
    return out


def rss_sampler(server, every: float, stop: threading.Event, out: list) -> None:
    import psutil

    master = psutil.Process(server.process.pid)
    while not stop.is_set():
        try:
            procs = [master, *master.children()]
            out.append(sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20)
        except Exception:  # noqa: BLE001 - a worker that just exited
            pass
        stop.wait(every)


def run_one(worker_class: str, uri: str, args) -> dict:
    extra = ("--worker-class", worker_class, "--idle-timeout", str(args.idle_timeout))
    with load.running_server(uri, workers=args.workers, extra_args=extra) as server:
        users, _ = load.discover(server.port, max_users=60)
        paths = ["/livez", *(f"/recommend?user_id={u}&k=10" for u in users)]
        mixed = [p for pair in zip(["/livez"] * len(users), paths[1:]) for p in pair]
        result: dict = {"worker_class": worker_class, "loadavg_1min_start": load.loadavg()}
        probe(server.port, mixed, 1.0)  # warm-up
        result["quiet"] = probe(server.port, mixed, args.probe_seconds)
        result["throughput_c8"] = throughput(server, users, 8, args.throughput_seconds)

        rss: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=rss_sampler, args=(server, 1.0, stop, rss), daemon=True)
        sampler.start()
        holders = SlowClients(server.port, args.connections)
        t0 = time.monotonic()
        holders.start(ramp_seconds=10)
        result["ramp_s"] = round(time.monotonic() - t0, 2)
        result["open_when_measuring"] = holders.open_now
        try:
            result["under_slow_clients"] = probe(server.port, mixed, args.duration)
            result["open_at_end"] = holders.open_now
        finally:
            holders.stop()
            stop.set()
            sampler.join(timeout=5)
        result["slow_clients"] = holders.summary()
        result["after"] = probe(server.port, mixed, 1.0)
        result["rss_total_mb"] = {"samples": len(rss), "first": round(rss[0], 1) if rss else None,
                                  "last": round(rss[-1], 1) if rss else None,
                                  "max": round(max(rss), 1) if rss else None,
                                  "growth": round(rss[-1] - rss[0], 1) if rss else None,
                                  # once the connections are all open: flat means this is ~0
                                  "second_half_growth": _half_growth(rss)}
        result["loadavg_1min_end"] = load.loadavg()
    return result


def _half_growth(rss: list[float]) -> float | None:
    """Last sample minus the one at the middle of the run (the ramp-up and first allocations are over)."""
    return round(rss[-1] - rss[len(rss) // 2], 1) if len(rss) >= 4 else None


def verdict(r: dict, p99_limit_ms: float) -> dict:
    under = r["under_slow_clients"]
    p99s = [under[k]["p99_ms"] for k in ("/livez", "/recommend")]
    return {"p99_under_limit": all(p is not None and p < p99_limit_ms for p in p99s), "errors": under["errors"],
            "ok": under["errors"] == 0 and all(p is not None and p < p99_limit_ms for p in p99s)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-class", nargs="+", default=["gevent"])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured under the slow clients")
    parser.add_argument("--probe-seconds", type=float, default=5.0)
    parser.add_argument("--throughput-seconds", type=float, default=8.0)
    parser.add_argument("--idle-timeout", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--champion", action="store_true", help="a copy of <repo>/mlflow.db's champion")
    parser.add_argument("--bundle", type=Path, help="this model bundle folder (e.g. models/bundle), registered afresh")
    parser.add_argument("--p99-limit-ms", type=float, default=100.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results.setdefault("candidates", {})
    if args.champion:
        store, model = load.champion_copy(), "champion (copy of mlflow.db)"
    elif args.bundle:
        store, model = load.bundle_store(args.bundle, versions=1), f"bundle {args.bundle}"
    else:
        store, model = load.small_store(versions=1), "small test model"
    with store as uri:
        for worker_class in args.worker_class:
            print(f"{worker_class}: starting (load average {load.loadavg()})", flush=True)
            key = worker_class + ("" if model == "small test model" else " " + model.split()[0])
            try:
                r = run_one(worker_class, uri, args)
            except Exception as exc:  # noqa: BLE001 - a candidate that cannot serve the workload is a result too
                results["candidates"][key] = {"worker_class": worker_class, "failed": f"{type(exc).__name__}: {exc}",
                                              "loadavg_1min": load.loadavg()}
                print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
                continue
            r["model"] = model
            r["settings"] = {"connections": args.connections, "duration_s": args.duration, "workers": args.workers,
                             "idle_timeout_s": args.idle_timeout}
            r["verdict"] = verdict(r, args.p99_limit_ms)
            results["candidates"][key] = r
            _print(r)
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()}
    results["note"] = ("client and server share the machine's CPUs; 1-minute load average recorded per run; "
                       "other engineers' jobs were running")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _print(r: dict) -> None:
    q, u, s = r["quiet"], r["under_slow_clients"], r["slow_clients"]

    def fig(d, k):
        return f"{d[k]['p50_ms']}/{d[k]['p99_ms']} ms (n={d[k]['n']})"

    print(f"  quiet:         /livez {fig(q, '/livez')}, /recommend {fig(q, '/recommend')}; "
          f"c=8 {r['throughput_c8']['requests_per_s']} req/s ({r['throughput_c8']['errors']} errors, worker CPU s "
          f"{r['throughput_c8']['worker_cpu_s']})")
    print(f"  {s['peak_open']} half-open: /livez {fig(u, '/livez')}, /recommend {fig(u, '/recommend')}; "
          f"errors {u['errors']} {u['error_kinds']}")
    print(f"  server closed {s['closed_by_server']} after {s['kept_open_s']} s; said {s['server_said_before_closing']}")
    print(f"  RSS total {r['rss_total_mb']}; load average {r['loadavg_1min_start']} -> {r['loadavg_1min_end']}; "
          f"verdict {r['verdict']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
