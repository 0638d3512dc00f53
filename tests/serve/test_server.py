"""`python -m serve` really starts (gunicorn, fresh process) and answers over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_importing_serve_loads_neither_torch_nor_mlflow():
    code = ("import sys, serve, serve.__main__; "
            "print([m for m in ('torch', 'mlflow', 'lightning') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_serve_answers_over_http(registry, tmp_path):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry.uri, "PYTHONPATH": str(REPO_ROOT)}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "serve", "--port", str(port), "--workers", "1"],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # refused, or accepted but still loading
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        body = requests.get(f"{base}/recommend", params={"user_id": 1, "k": 3}, timeout=5).json()
        assert body["model_version"] == "1" and len(body["recommendations"]) == 3
        bad = requests.get(f"{base}/recommend", params={"user_id": "x"}, timeout=5)
        assert bad.status_code == 400 and "user_id" in bad.json()["error"]
        assert "Server" not in bad.headers or "Werkzeug" not in bad.headers["Server"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    assert "serving on http://127.0.0.1:" in (tmp_path / "serve.log").read_text()
