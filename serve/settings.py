"""Service settings from the one config source, `conf/` (groups `serve` and `mlflow`)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from movierec.config import compose, validate

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
WEB_DIR = REPO_ROOT / "web" / "out"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeSettings:
    """Where to listen, which model to serve, how often to look for a new champion."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4                 # threads per worker (worker_class gthread only)
    model_name: str = "movierec"
    model_alias: str = "champion"
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else <repo>/mlflow.db
    poll_seconds: float = 5.0        # 0 disables the alias poller
    max_content_length: int = 256 * 1024
    torch_threads: int = 1           # intra-op threads per worker; more only adds contention
    timeout: int = 120               # gunicorn worker timeout (model loading happens at boot)
    max_in_flight: int = 4           # requests running at once per worker; more wait...
    queue_timeout: float = 2.0       # ...at most this long, then 503 with Retry-After
    # Slow and idle clients (README "The built-in server"); not in conf/ yet, `python -m serve` flags:
    worker_class: str = "gevent"     # gevent: one event loop per worker, a greenlet per connection
    worker_connections: int = 2000   # open connections per worker (gevent); more wait in the listen backlog
    idle_timeout: int = 10           # s: the request line and headers must arrive within it; idle keep-alive too
    body_timeout: float = 10.0       # s: a request body must arrive whole within it, else 408 and closed

    @classmethod
    def load(cls, conf_dir: Path = CONF_DIR, **overrides) -> "ServeSettings":
        """`serve.*` and `mlflow.*` from the composed `conf/` (validated), then non-None `overrides`."""
        cfg = validate(compose(conf_dir))
        settings = cls(**asdict(cfg.serve), model_name=cfg.mlflow.model_name, model_alias=cfg.mlflow.alias,
                       tracking_uri=cfg.mlflow.tracking_uri)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
