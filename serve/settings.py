"""Service settings: `conf/serve/default.yaml` (the one config source) with defaults for missing keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVE_CONF = REPO_ROOT / "conf" / "serve" / "default.yaml"
WEB_DIR = REPO_ROOT / "web" / "out"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeSettings:
    """Where to listen, which model to serve, how often to look for a new champion."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4                 # gthread threads per worker
    model_name: str = "movierec"
    model_alias: str = "champion"
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else <repo>/mlflow.db
    poll_seconds: float = 5.0        # 0 disables the alias poller
    max_content_length: int = 256 * 1024
    torch_threads: int = 1           # intra-op threads per worker; more only adds contention
    timeout: int = 120               # gunicorn worker timeout (model loading happens at boot)

    @classmethod
    def load(cls, path: Path = SERVE_CONF, **overrides) -> "ServeSettings":
        """Settings from `path` (unknown keys refused), then `overrides` that are not None."""
        data = yaml.safe_load(path.read_text()) if path.is_file() else {}
        data = data or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            log.warning("%s: ignoring unknown serve setting(s) %s; known: %s", path, unknown, sorted(known))
        settings = cls(**{k: v for k, v in data.items() if k in known})
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
