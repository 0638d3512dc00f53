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


def test_python_m_serve_answers_over_http(registry, tmp_path):
    from serve.process import serve_subprocess

    with serve_subprocess(tmp_path / "serve.log", registry.uri, timeout=60) as server:
        base = server.base_url
        body = requests.get(f"{base}/recommend", params={"user_id": 1, "k": 3}, timeout=5).json()
        assert body["model_version"] == "1" and len(body["recommendations"]) == 3
        bad = requests.get(f"{base}/recommend", params={"user_id": "x"}, timeout=5)
        assert bad.status_code == 400 and "user_id" in bad.json()["error"]
        assert "Server" not in bad.headers or "Werkzeug" not in bad.headers["Server"]
    assert "serving on http://127.0.0.1:" in (tmp_path / "serve.log").read_text()
