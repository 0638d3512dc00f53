"""The real server (`python -m serve`, one gevent worker) keeps answering while slow clients hold
connections, closes them after its timeouts, and answers every protocol error as JSON.

Bounded: one server for the module, 100 half-open connections for ~3 s, every socket with a
timeout; all traffic to 127.0.0.1. The long run is `python benchmarks/slow_clients.py`.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

IDLE_TIMEOUT = 2   # --idle-timeout and --body-timeout of the server under test (production: 10 s)
HALF_OPEN = 100    # more than a thread worker has threads: with gthread (4 threads) nothing answers


@pytest.fixture(scope="module")
def server(registry, tmp_path_factory):
    from serve.process import serve_subprocess

    log = tmp_path_factory.mktemp("slow") / "serve.log"
    with serve_subprocess(log, registry.uri, workers=1, timeout=90,
                          extra_args=("--idle-timeout", str(IDLE_TIMEOUT), "--body-timeout", str(IDLE_TIMEOUT))) as s:
        yield s


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send `raw`, read until the server closes (or `timeout`): (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if length and len(body) >= length[0]:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), data[:300]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def request(method: str, target: str, headers: str = "", body: bytes = b"") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode("latin-1") + body


PROTOCOL_ERRORS = [
    # (name, raw request, status, words in the message)
    ("request line over the limit", request("GET", "/recommend?user_id=1&x=" + "a" * 5000), 414, "request line"),
    ("header field over the limit", request("GET", "/livez", "X-Big: " + "a" * 9000 + "\r\n"), 431, "header"),
    ("more than 100 headers", request("GET", "/livez", "".join(f"X-H{i}: 1\r\n" for i in range(120))), 431,
     "header"),
    ("malformed request line", b"THIS IS NOT HTTP\r\n\r\n", 400, "malformed request"),
    ("header without a colon", request("GET", "/livez", "Broken header\r\n"), 400, "malformed request"),
    ("body over the limit (Content-Length)", request("POST", "/recommend", "Content-Type: application/json\r\n"
                                                     "Content-Length: 10000000\r\n"), 413, "body"),
    ("no such route", request("GET", "/no-such-route"), 404, "/no-such-route"),
    ("method not allowed", request("DELETE", "/recommend"), 405, "DELETE"),
    ("ASCII digits only", request("GET", "/recommend?user_id=%D9%A1"), 400, "user_id"),
]


@pytest.mark.parametrize("name,raw,status,words", PROTOCOL_ERRORS, ids=[c[0] for c in PROTOCOL_ERRORS])
def test_every_error_over_http_is_json(server, name, raw, status, words):
    got, headers, body = exchange(server.port, raw)
    assert got == status, body[:300]
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    message = json.loads(body)["error"]
    assert words in message, message


def test_a_body_that_does_not_arrive_is_408_after_the_body_timeout(server):
    start = time.monotonic()
    got, headers, body = exchange(server.port, request("POST", "/recommend", "Content-Type: application/json\r\n"
                                                       "Content-Length: 100\r\n", b'{"ratings":'))
    waited = time.monotonic() - start
    assert got == 408 and "body" in json.loads(body)["error"], body
    assert headers.get("connection") == "close"
    assert IDLE_TIMEOUT - 0.5 < waited < IDLE_TIMEOUT + 5, waited


def _half_open(port: int, i: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    if i % 2 == 0:  # request line and part of the headers
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: ")
    else:           # whole headers, then 11 of 1,000 announced body bytes
        sock.sendall(b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"ratings\":")
    return sock


def test_half_open_connections_do_not_starve_other_clients(server):
    import requests

    held = [_half_open(server.port, i) for i in range(HALF_OPEN)]
    opened = time.monotonic()
    try:
        latencies, statuses = [], []
        deadline = time.monotonic() + 1.5   # well inside the idle timeout: all 100 are still held
        for n in range(200):
            if n >= 6 and time.monotonic() > deadline:
                break
            path = "/livez" if n % 2 == 0 else "/recommend?user_id=1&k=3"
            start = time.perf_counter()
            try:  # a fresh connection each time: the server must still accept and answer
                statuses.append(requests.get(server.base_url + path, timeout=1.5,
                                             headers={"Connection": "close"}).status_code)
            except requests.RequestException as exc:
                statuses.append(type(exc).__name__)
                break  # starved (what a thread worker does here): no need to wait for more
            latencies.append(time.perf_counter() - start)
        assert set(statuses) == {200}, f"not answered while {HALF_OPEN} connections were half open: {statuses}"
        assert max(latencies) < 1.0, sorted(latencies)[-5:]
        assert time.monotonic() - opened < IDLE_TIMEOUT, "too slow to test while all connections were held"

        # then the server closes them: headers after the idle timeout, bodies with a 408
        closed, answers = 0, {}
        for sock in held:
            sock.settimeout(max(0.1, opened + IDLE_TIMEOUT + 5 - time.monotonic()))
            try:
                data = sock.recv(200)
            except (TimeoutError, ConnectionResetError):
                continue
            closed += 1
            first = data.split(b"\r\n", 1)[0].decode("latin-1") or "closed"
            answers[first] = answers.get(first, 0) + 1
        assert closed == HALF_OPEN, answers
        assert answers.get("closed") == HALF_OPEN // 2 and answers.get("HTTP/1.1 408 Request Timeout") == HALF_OPEN // 2
        assert time.monotonic() - opened < IDLE_TIMEOUT + 5
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("head,trickle", [
    (b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: " + b"a" * 200),
    (b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: 1000\r\n\r\n", b"[" * 200),
], ids=["headers", "body"])
def test_the_timeouts_are_totals_a_trickling_client_is_cut_off(server, head, trickle):
    """A byte every 0.3 s never leaves a read idle for long: the header and body deadlines are totals."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head)
        start = time.monotonic()
        for byte in trickle:
            if time.monotonic() - start > IDLE_TIMEOUT + 4:
                pytest.fail(f"still open {IDLE_TIMEOUT + 4} s after a {IDLE_TIMEOUT} s timeout")
            try:
                sock.sendall(bytes([byte]))
                time.sleep(0.3)
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.setblocking(False)
            try:
                if sock.recv(200, socket.MSG_PEEK) == b"":
                    break      # closed by the server
                break          # or answered (408 for the body)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        waited = time.monotonic() - start
    assert IDLE_TIMEOUT - 0.5 < waited < IDLE_TIMEOUT + 2, waited
