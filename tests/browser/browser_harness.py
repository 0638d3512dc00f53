"""What the browser tests and `screenshot.py` share: the real service in a subprocess, the browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"   # git-ignored; CI keeps it as the job's artifact
WEB_INDEX = REPO_ROOT / "web" / "out" / "index.html"
CHROMIUM = Path(os.environ.get("MOVIEREC_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}


@contextmanager
def running_service(log_path: Path, tracking_uri: str | None, timeout: float = 120) -> Iterator[str]:
    """`python -m serve` (the production server, one worker) until ready; yields its origin.

    `tracking_uri` None: the service's own default (`<repo>/mlflow.db`), whatever the caller's env says.
    """
    from serve.process import serve_subprocess

    with serve_subprocess(log_path, tracking_uri, timeout=timeout, stop_timeout=20) as server:
        yield server.base_url


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
