"""`docs/nginx.conf` in front of `python -m serve`, on loopback: its error answers, and slow clients.

Needs an `nginx` binary (e.g. `apt-get install nginx-light`); nothing is installed or changed
system-wide: the config is copied to a temporary folder with the ports, pid and log paths
rewritten, and nginx runs in the foreground until the end. Checks that nginx's own errors
(400, 404 on /admin/, 408, 413, 414, 494) are JSON, then repeats `benchmarks/slow_clients.py`'s
measurement through nginx — with the per-address limits removed, since every client here is
127.0.0.1 and `limit_conn 50` would (rightly) refuse the 1,000 connections. Writes
`benchmarks/results/behind_nginx.json`.

    python benchmarks/behind_nginx.py [--connections 1000] [--duration 20]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import load  # noqa: E402
import slow_clients  # noqa: E402

RESULTS = REPO_ROOT / "benchmarks" / "results" / "behind_nginx.json"


def nginx_config(port: int, upstream: int, folder: Path, per_ip_limits: bool) -> Path:
    text = (REPO_ROOT / "docs" / "nginx.conf").read_text()
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    text = text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    text = text.replace("worker_processes auto;", f"worker_processes 1;\npid {folder}/nginx.pid;\n"
                        f"error_log {folder}/error.log warn;")
    text = text.replace("http {", f"http {{\n    access_log off;\n    client_body_temp_path {folder}/body;\n"
                        f"    proxy_temp_path {folder}/proxy;", 1)
    if not per_ip_limits:
        text = re.sub(r"^\s*limit_(conn|req)\s.*$", "", text, flags=re.MULTILINE)
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def raw(port: int, data: bytes, timeout: float = 15.0) -> tuple[int, str, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    ctype = next((line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), "")
    return int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0, ctype, body


def error_checks(port: int) -> list[dict]:
    host = b"Host: 127.0.0.1\r\nConnection: close\r\n"
    cases = [
        ("malformed request line", b"THIS IS NOT HTTP\r\n\r\n", 400),
        ("request line over 8 kB", b"GET /recommend?x=" + b"a" * 9000 + b" HTTP/1.1\r\n" + host + b"\r\n", 414),
        ("header over 8 kB", b"GET /livez HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 400),
        ("body over 256 KiB", b"POST /recommend HTTP/1.1\r\n" + host + b"Content-Length: 10000000\r\n\r\n", 413),
        ("admin route from outside", b"POST /admin/reload HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n", 404),
        ("service's own 404", b"GET /no-such-route HTTP/1.1\r\n" + host + b"\r\n", 404),
        # nginx closes a timed-out request without answering (the 408 is only logged)
        ("body that never comes (client_body_timeout 10 s)",
         b"POST /recommend HTTP/1.1\r\n" + host + b"Content-Length: 100\r\n\r\n{", 0),
    ]
    out = []
    for name, data, expected in cases:
        start = time.monotonic()
        status, ctype, body = raw(port, data)
        try:
            error = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            error = None
        out.append({"case": name, "status": status, "expected": expected, "content_type": ctype, "error": error,
                    "seconds": round(time.monotonic() - start, 2),
                    "ok": status == expected == 0 or (status == expected and ctype.startswith("application/json")
                                                      and error is not None)})
        print(f"  {name}: {status} {ctype} {error!r}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--bundle", type=Path, help="this model bundle instead of the small test model")
    args = parser.parse_args(argv)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("no nginx binary: apt-get install nginx-light (or nginx)")

    store = load.bundle_store(args.bundle, versions=1) if args.bundle else load.small_store(versions=1)
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
    result: dict = {"nginx": version, "model": str(args.bundle) if args.bundle else "small test model",
                    "loadavg_1min_start": load.loadavg()}
    with store as uri, load.running_server(uri, workers=2) as server, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for sub in ("body", "proxy"):
            (folder / sub).mkdir()
        port = _free_port()
        conf = nginx_config(port, server.port, folder, per_ip_limits=True)
        proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            _wait_port(port)
            result["errors_from_nginx"] = error_checks(port)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        conf = nginx_config(port, server.port, folder, per_ip_limits=False)
        proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
        try:
            _wait_port(port)
            users, _ = load.discover(port, max_users=60)
            paths = [p for u in users for p in ("/livez", f"/recommend?user_id={u}&k=10")]
            slow_clients.probe(port, paths, 1.0)
            result["quiet"] = slow_clients.probe(port, paths, 5.0)
            holders = slow_clients.SlowClients(port, args.connections)
            rss: list[float] = []
            stop = threading.Event()
            sampler = threading.Thread(target=slow_clients.rss_sampler, args=(server, 1.0, stop, rss), daemon=True)
            sampler.start()
            holders.start(ramp_seconds=10)
            result["open_when_measuring"] = holders.open_now
            try:
                result["under_slow_clients"] = slow_clients.probe(port, paths, args.duration)
            finally:
                holders.stop()
                stop.set()
            result["slow_clients"] = holders.summary()
            result["service_rss_total_mb"] = {"first": round(rss[0], 1), "last": round(rss[-1], 1),
                                              "max": round(max(rss), 1)} if rss else None
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    result["loadavg_1min_end"] = load.loadavg()
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    u = result["under_slow_clients"]
    print(f"  through nginx, {result['open_when_measuring']} half-open: /livez {u['/livez']}, "
          f"/recommend {u['/recommend']}, errors {u['errors']}; server closed "
          f"{result['slow_clients']['closed_by_server']} after {result['slow_clients']['kept_open_s']} s")
    print(f"wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0 if all(c["ok"] for c in result["errors_from_nginx"]) and u["errors"] == 0 else 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port}")


if __name__ == "__main__":
    sys.exit(main())
