"""Operations: liveness vs readiness, Prometheus metrics, the busy limit, lineage in /health,
and (on the real gunicorn server) metrics across workers and a graceful SIGTERM."""

from __future__ import annotations

import signal
import socket
import time

import requests

from serve.operations import LIMITER_KEY


def test_livez_and_readyz_with_a_model(client):
    assert client.get("/livez").get_json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready", "model_version": "1"}


def test_without_a_model_alive_but_not_ready(registry, web_dir, tmp_path):
    from serve import create_app

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(tracking_uri=empty, poll_seconds=0, web_dir=web_dir)
    client = app.test_client()
    assert client.get("/livez").status_code == 200
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503 and "no model" in not_ready.get_json()["error"]


def test_health_names_the_commit_and_data(client):
    body = client.get("/health").get_json()
    assert {"git_commit", "git_dirty", "data_fingerprint"} <= set(body)


def test_metrics_count_requests_by_endpoint_status_and_model_version(client):
    client.get("/recommend?user_id=1&k=3")
    client.get("/recommend?user_id=999999&k=3")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'movierec_requests_total{endpoint="/recommend",method="GET",model_version="1",status="200"}' in text
    assert 'movierec_request_errors_total{endpoint="/recommend",method="GET",model_version="1",status="404"}' in text
    assert 'movierec_request_seconds_bucket{endpoint="/recommend"' in text


def test_a_body_refused_before_flask_runs_is_counted_too(client, app):
    padding = " " * app.config["MAX_CONTENT_LENGTH"]
    assert client.post("/recommend", data=f'{{"ratings": []{padding}}}',
                       content_type="application/json").status_code == 413
    assert client.post("/nowhere", data=padding + "x", content_type="application/json").status_code == 413
    text = client.get("/metrics").get_data(as_text=True)
    assert 'movierec_request_errors_total{endpoint="/recommend",method="POST",model_version="1",status="413"}' in text
    assert 'movierec_request_errors_total{endpoint="unmatched",method="POST",model_version="1",status="413"}' in text


def test_a_failure_while_counting_does_not_change_the_answer():
    from werkzeug.test import Client

    from serve.buffering import BufferedBody

    def broken(*_):
        raise RuntimeError("metrics are down")

    wrapped = BufferedBody(lambda environ, start: [], limit=10, timeout=5, on_refused=broken)
    response = Client(wrapped).post("/recommend", data=b"x" * 100)
    assert response.status_code == 413 and "limit" in response.get_json()["error"]


def test_a_busy_worker_answers_503_with_retry_after_instead_of_queueing(registry, web_dir):
    from serve import create_app

    app = create_app(tracking_uri=registry.uri, poll_seconds=0, web_dir=web_dir)
    slots = app.extensions[LIMITER_KEY]
    client = app.test_client()
    held = [slots.acquire(timeout=1) for _ in range(4)]  # every slot taken (max_in_flight = 4)
    try:
        started = time.perf_counter()
        busy = client.get("/recommend?user_id=1")
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "busy" in busy.get_json()["error"] and time.perf_counter() - started < 10
        assert client.get("/livez").status_code == 200  # probes are never refused
    finally:
        for _ in held:
            slots.release()
    assert client.get("/recommend?user_id=1").status_code == 200


def _half_sent_request(port: int, body: bytes) -> tuple[socket.socket, bytes]:
    """A connection the server has accepted and is reading: headers and half the body sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock, body[len(body) // 2:]


def _wait_until_workers_hold(master_pid: int, client_ports: set[int], timeout: float = 20.0) -> None:
    """Wait until the server's worker processes hold an open socket to each of `client_ports`."""
    import psutil

    deadline = time.monotonic() + timeout
    held: set[int] = set()
    while time.monotonic() < deadline:
        held = set()
        for worker in psutil.Process(master_pid).children(recursive=True):
            try:
                held |= {c.raddr.port for c in worker.net_connections(kind="tcp") if c.raddr}
            except psutil.NoSuchProcess:
                continue
        if client_ports <= held:
            return
        time.sleep(0.05)
    raise AssertionError(f"workers accepted {sorted(client_ports & held)} of {sorted(client_ports)} in {timeout} s")


def test_real_server_metrics_add_up_across_workers_and_sigterm_finishes_in_flight(registry, tmp_path):
    import json

    from serve.process import serve_subprocess

    with serve_subprocess(tmp_path / "serve.log", registry.uri, workers=2, timeout=90) as server:
        base, port, proc = server.base_url, server.port, server.process
        session = requests.Session()
        for _ in range(40):
            assert session.get(f"{base}/recommend", params={"user_id": 1, "k": 5}, timeout=10).status_code == 200
        text = requests.get(f"{base}/metrics", timeout=10).text
        line = next(row for row in text.splitlines()
                    if row.startswith('movierec_requests_total{endpoint="/recommend",method="GET"'))
        assert float(line.rsplit(" ", 1)[1]) >= 40  # every worker's count, whichever worker answered
        session.close()

        ratings = [{"movie_id": int(m), "rating": 4.0} for m in registry.bundle.vocab.movies.ids[:20]]
        in_flight = [_half_sent_request(port, json.dumps({"ratings": ratings, "k": 5}).encode()) for _ in range(3)]
        # in flight = accepted by a worker: a connection still in the listen backlog when the master
        # closes its sockets is reset, whatever the server does (seen on a loaded machine)
        _wait_until_workers_hold(proc.pid, {sock.getsockname()[1] for sock, _ in in_flight})
        proc.send_signal(signal.SIGTERM)  # graceful: stop accepting, finish what is in flight
        time.sleep(0.5)
        for sock, rest in in_flight:
            sock.sendall(rest)
            response = b""
            while chunk := sock.recv(65536):
                response += chunk
            sock.close()
            assert response.startswith(b"HTTP/1.1 200"), response[:200]
        assert proc.wait(timeout=30) == 0
