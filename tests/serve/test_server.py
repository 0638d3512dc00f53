"""`python -m serve` really starts (gunicorn, fresh process) and answers over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_serve_loads_neither_torch_nor_mlflow():
    code = ("import sys, serve, serve.__main__; "
            "print([m for m in ('torch', 'mlflow', 'lightning') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _metrics_folders(temp: Path) -> list[Path]:
    return sorted(temp.glob("movierec-metrics-*"))


def test_python_m_serve_answers_over_http_and_removes_its_metrics_folder(registry, tmp_path, monkeypatch):
    """A real server answers; each `python -m serve` makes a Prometheus multiprocess folder in the temp
    dir and its stop removes that folder and no other: the first service, still running, keeps its own."""
    from serve.process import serve_subprocess

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))   # the services' tempfile.mkdtemp() lands here
    with serve_subprocess(tmp_path / "serve.log", registry.uri, timeout=60) as server:
        base = server.base_url
        body = requests.get(f"{base}/recommend", params={"user_id": 1, "k": 3}, timeout=5).json()
        assert body["model_version"] == "1" and len(body["recommendations"]) == 3
        bad = requests.get(f"{base}/recommend", params={"user_id": "x"}, timeout=5)
        assert bad.status_code == 400 and "user_id" in bad.json()["error"]
        assert "Server" not in bad.headers or "Werkzeug" not in bad.headers["Server"]
        (mine,) = _metrics_folders(temp)
        # a second service beside it (no model needed: /livez answers without one), then stopped
        with serve_subprocess(tmp_path / "b.log", f"sqlite:///{tmp_path / 'empty.db'}", timeout=60,
                              ready_path="/livez") as other:
            assert len(_metrics_folders(temp)) == 2
        assert other.process.returncode == 0
        assert _metrics_folders(temp) == [mine]
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 200
        assert list(mine.glob("*.db")), "the running service's metrics files are gone"
    assert server.process.returncode == 0
    assert _metrics_folders(temp) == []
    assert "serving on http://127.0.0.1:" in (tmp_path / "serve.log").read_text()


def test_a_metrics_folder_the_caller_names_is_emptied_at_start_and_kept(tmp_path, monkeypatch):
    from serve.__main__ import GunicornServer, prepare_metrics_dir, release_metrics_dir
    from serve.settings import ServeSettings

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"old run")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    monkeypatch.delenv("GUNICORN_PID", raising=False)
    assert prepare_metrics_dir() == (str(given), False)
    assert given.is_dir() and not list(given.iterdir())     # no counters of an earlier run
    (given / "counter_2.db").write_bytes(b"this run")
    release_metrics_dir(str(given), False, GunicornServer(ServeSettings.load()))
    assert (given / "counter_2.db").exists()                # the caller's folder: never removed
    monkeypatch.setenv("GUNICORN_PID", "1")                   # a re-executed master: its parent's workers write there
    assert prepare_metrics_dir() == (str(given), False) and (given / "counter_2.db").exists()
