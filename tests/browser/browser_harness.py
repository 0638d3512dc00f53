"""What the browser tests and `screenshot.py` share: the real service in a subprocess, the browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"   # git-ignored; CI keeps it as the job's artifact
WEB_INDEX = REPO_ROOT / "web" / "out" / "index.html"
CHROMIUM = Path(os.environ.get("MOVIEREC_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_service(log_path: Path, tracking_uri: str | None, timeout: float = 120) -> Iterator[str]:
    """`python -m serve` on a free port (the production server, one worker); yields its origin.

    `tracking_uri` None: the service's own default (`<repo>/mlflow.db`), whatever the caller's env says.
    Returns once `/health` answers 200 (the model is loaded); stops the server on exit.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "1"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # refused, or accepted but still loading
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`python -m serve` did not become healthy on {base} "
                                       f"(exit code {proc.poll()}):\n{log_path.read_text()[-4000:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
