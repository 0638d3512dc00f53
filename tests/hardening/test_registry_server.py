"""The service against a real `mlflow server`: outages, recovery, and what downloads leave on disk.

The server (sqlite backend, proxied artifacts) is stopped and restarted for real; the service is
`python -m serve` (gunicorn) polling every second. Figures are printed (`pytest -s`).
"""

from __future__ import annotations

import socket
import tempfile
import time
from datetime import datetime

import pytest
import requests
from mlflow.tracking import MlflowClient
from mlflow_server import MlflowServer, register_on

from movierec.registry.alias import move_alias
from serve.model_cache import ModelCache
from serve.model_store import ModelStore
from serve.process import serve_subprocess
from serve.registry_limits import RegistryLimits

POLL = 1.0       # the services' poll interval here (seconds)
SLACK = 10.0     # a loaded 2-core machine: process start-up, imports, a model load


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mlflow = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    mlflow.start()
    yield mlflow
    mlflow.stop()


def _wait(what: str, check, timeout: float, every: float = 0.1):
    """`check()`'s first truthy value within `timeout` s, and the seconds it took."""
    start = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def _health(base: str) -> dict:
    return requests.get(f"{base}/health", timeout=5).json()


def _stamp(iso: str | None) -> float | None:
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def test_a_registry_that_hangs_costs_a_bounded_check(tmp_path):
    """A server that accepts connections and never answers: the check gives up after its timeouts."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)                              # the kernel accepts; nobody ever answers
        uri = f"http://127.0.0.1:{hung.getsockname()[1]}"
        store = ModelStore("movierec", "champion", uri, limits=RegistryLimits(timeout=1, retries=1),
                           cache=ModelCache(tmp_path / "cache"))
        started = time.monotonic()
        assert store.refresh() is False
        took = time.monotonic() - started
    print(f"hung registry: the check failed after {took:.1f} s (2 tries x 1 s)")
    assert took < 10, took                          # MLflow's own defaults: 8 tries x 120 s
    assert store.last_error.startswith("registry check failed") and "timed out" in store.last_error.lower()
    assert store.last_checked is not None and store.last_ok is None and store.current is None


def test_ten_versions_leave_only_the_served_one_on_disk(server, registry, tmp_path, monkeypatch):
    import mlflow.artifacts

    first = register_on(server, registry, "cache-ten")
    client = MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
    base = client.get_model_version("cache-ten", first)
    model_id = base.model_id or base.source.removeprefix("models:/")   # the logged model: files are shared
    versions = [first] + [str(client.create_model_version("cache-ten", base.source, run_id=base.run_id,
                                                          model_id=model_id).version) for _ in range(9)]
    downloads: list[str] = []
    original = mlflow.artifacts.download_artifacts

    def counted(*args, **kwargs):
        downloads.append(kwargs.get("dst_path"))
        return original(*args, **kwargs)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", counted)
    system_tmp = tmp_path / "system-tmp"           # where MLflow's own temporary folders would go
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    cache = ModelCache(tmp_path / "cache")
    worker_a = ModelStore("cache-ten", "champion", server.uri, cache=cache)
    worker_b = ModelStore("cache-ten", "champion", server.uri, cache=cache)    # a second worker, same folder
    move_alias(client, "cache-ten", "champion", first, "test: start at the first version")
    assert worker_b.refresh() and worker_b.current.version == first, worker_b.last_error
    one_version = cache.size_bytes()
    sizes = []
    for version in versions:
        move_alias(client, "cache-ten", "champion", version, "test: next version")
        worker_a.refresh()
        assert worker_a.current.version == version and worker_a.last_error is None, worker_a.last_error
        held = {version, first}                    # worker B still serves the first version
        assert {p.name for p in (cache.root / "cache-ten").iterdir() if p.is_dir()} == held
        sizes.append(cache.size_bytes())
    assert worker_a.refresh(force=True)            # the same version again: found in the cache
    assert worker_b.refresh() and worker_b.current.version == versions[-1]
    assert {p.name for p in (cache.root / "cache-ten").iterdir() if p.is_dir()} == {versions[-1]}
    assert cache.size_bytes() == one_version
    print(f"ten versions: cache {one_version} B for one version, at most {max(sizes)} B while two were served; "
          f"{len(downloads)} downloads")
    assert max(sizes) <= 2 * one_version
    assert len(downloads) == 10 and all(d is not None and d.startswith(str(cache.root)) for d in downloads)
    assert list(system_tmp.iterdir()) == []        # MLflow left no temporary folder behind


def test_the_service_rides_out_a_registry_outage_and_follows_it_back(server, registry, tmp_path):
    name = "movierec"                               # the service's configured model (this server's own)
    assert register_on(server, registry, name) == "1"
    cache = tmp_path / "cache"
    args = ("--poll-seconds", str(POLL), "--model-cache", str(cache))
    with serve_subprocess(tmp_path / "a.log", server.uri, workers=1, timeout=120,
                          extra_args=args) as a:
        health = _health(a.base_url)
        assert health["model_version"] == "1" and health["last_error"] is None and health["last_ok"]

        stopping = time.monotonic()
        server.stop()                                   # returns once the port refuses connections
        down, stopped = time.time(), time.monotonic()
        health, _ = _wait("/health shows the outage", lambda: (h := _health(a.base_url))["last_error"] and h,
                          timeout=POLL + SLACK)
        gap = _stamp(health["last_checked"]) - _stamp(health["last_ok"])
        print(f"outage: /health showed the error {time.monotonic() - stopped:.1f} s after the registry refused "
              f"connections ({stopped - stopping:.1f} s to stop it); the failed check ended {gap:.1f} s after the "
              f"last good one (poll {POLL:g} s)")
        assert health["last_error"].startswith("registry check failed") and health["model_version"] == "1"
        assert _stamp(health["last_ok"]) <= down and gap < POLL + 5
        checked = _stamp(health["last_checked"])
        _wait("last_checked advances during the outage",
              lambda: _stamp(_health(a.base_url)["last_checked"]) > checked, timeout=POLL + SLACK)
        assert requests.get(f"{a.base_url}/recommend", params={"user_id": 1}, timeout=5).status_code == 200

        # a worker that starts during the outage answers /livez, and /readyz says why it is not ready
        with serve_subprocess(tmp_path / "b.log", server.uri, workers=1, timeout=120, ready_path="/livez",
                              extra_args=args) as b:
            assert requests.get(f"{b.base_url}/livez", timeout=5).status_code == 200
            first = requests.get(f"{b.base_url}/readyz", timeout=5)   # "loading" until its first check ends
            assert first.status_code == 503 and first.json()["error"].startswith("not ready: no model loaded")

            def readyz_reason():
                ready = requests.get(f"{b.base_url}/readyz", timeout=5)
                assert ready.status_code == 503, ready.text
                return "registry check failed" in ready.json()["error"] and ready.json()["error"]

            reason, _ = _wait("/readyz names the outage", readyz_reason, timeout=POLL + SLACK)
            print(f"late worker during the outage: /livez 200, /readyz 503 {reason!r}")
            assert requests.get(f"{b.base_url}/livez", timeout=5).status_code == 200

            server.start()                              # returns once the server answers
            livez_seconds = []

            def ready_b() -> bool:
                started = time.monotonic()
                assert requests.get(f"{b.base_url}/livez", timeout=30).status_code == 200
                livez_seconds.append(time.monotonic() - started)
                return requests.get(f"{b.base_url}/readyz", timeout=30).status_code == 200

            _, loaded = _wait("the late worker loads its model", ready_b, timeout=POLL + SLACK)
            print(f"late worker while loading: /livez answered in at most {max(livez_seconds):.2f} s")
            _, cleared = _wait("/health clears the error", lambda: _health(a.base_url)["last_error"] is None,
                               timeout=POLL + SLACK)
            print(f"recovery: the late worker ready {loaded:.1f} s, the error cleared {cleared:.1f} s "
                  "after the registry answered again")

            assert register_on(server, registry, name) == "2"      # promoted (same metrics): a new champion
            _, followed = _wait("both follow the new champion", lambda: all(
                _health(s.base_url).get("model_version") == "2" for s in (a, b)), timeout=POLL + SLACK)
            print(f"new champion after the outage: both services serve it {followed:.1f} s after registration")
            versions = {p.name for p in (cache / name).iterdir() if p.is_dir()}
            assert versions == {"2"}, versions              # version 1's download went once nobody served it
