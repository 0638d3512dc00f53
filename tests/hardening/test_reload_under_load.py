"""Promote a new champion while the production server (gunicorn, 2 workers) is under load.

Bounded: a few seconds of traffic at concurrency 4; the long run is `python benchmarks/load.py`.
Every request must succeed, every response must name version 1 or 2, and the last ones version 2.
"""

from __future__ import annotations

import http.client

from mlflow.tracking import MlflowClient

from movierec.registry.alias import move_alias
from movierec.registry.tracking import use_store


def _chunked_oversized_body_status(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    # valid JSON, then 1 MiB of padding, chunked (no Content-Length): cut at the limit it would parse
    chunks = iter([b'{"ratings": [], "k": 3}', *(b" " * 65536 for _ in range(16))])
    try:
        conn.request("POST", "/recommend", body=chunks, headers={"Content-Type": "application/json"},
                     encode_chunked=True)
        return conn.getresponse().status
    except (BrokenPipeError, ConnectionResetError):      # refused before the whole body was sent
        return 413
    finally:
        conn.close()


def test_promote_under_load_fails_no_request(registry, load_module, tmp_path):
    use_store(registry.uri)       # an app built by another test may have pointed MLflow elsewhere
    client = MlflowClient(tracking_uri=registry.uri, registry_uri=registry.uri)
    new = registry.register("movierec")                 # promoted on registration (same metrics)...
    move_alias(client, "movierec", "champion", "1", "test: serve version 1 first")  # ...so serve 1 first
    try:
        with load_module.running_server(registry.uri, workers=2, log_dir=tmp_path) as server:
            users, movies = load_module.discover(server.port, max_users=40)
            mover = load_module.alias_mover(registry.uri, "movierec", "champion", new, after=1.0)
            # the workers poll the alias every serve.poll_seconds (5 s), then load the new version
            phase = load_module.run_phase(server, "reload", 4, 10.0, users, movies, sample_every=1.0, during=mover)
            assert _chunked_oversized_body_status(server.port) == 413   # the size limit holds without Content-Length
        verdict = load_module.reload_verdict(phase, "1", new)
        summary = phase.summary()
        assert summary["requests"] > 20, summary
        assert verdict["failed_requests"] == 0 and summary["errors"] == 0, summary["error_examples"]
        assert verdict["foreign_versions"] == [], verdict
        assert verdict["switched"] and verdict["ok"], (verdict, summary["versions"])
        assert summary["versions"].get("1", 0) > 0 and summary["versions"].get(new, 0) > 0
        assert len(summary["rss_per_worker"]) == 2
    finally:
        move_alias(client, "movierec", "champion", "1", "test: restore")
