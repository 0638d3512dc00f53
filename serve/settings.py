"""Service settings from the one config source, `conf/` (groups `serve` and `mlflow`)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from movierec.config import MlflowConfig, ServeConfig, compose, validate

REPO_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = REPO_ROOT / "conf"
WEB_DIR = REPO_ROOT / "web" / "out"

log = logging.getLogger(__name__)


@dataclass
class ServeSettings(ServeConfig):
    """`serve.*` (where to listen, workers, limits: :class:`~movierec.config.ServeConfig`, one set of
    names and defaults) plus which model to serve and where its registry is (`mlflow.*`)."""

    model_name: str = MlflowConfig.model_name
    model_alias: str = MlflowConfig.alias
    tracking_uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else <repo>/mlflow.db

    @classmethod
    def load(cls, conf_dir: Path = CONF_DIR, **overrides) -> ServeSettings:
        """`serve.*` and `mlflow.*` from the composed `conf/` (validated), then non-None `overrides`."""
        cfg = validate(compose(conf_dir))
        settings = cls(**asdict(cfg.serve), model_name=cfg.mlflow.model_name, model_alias=cfg.mlflow.alias,
                       tracking_uri=cfg.mlflow.tracking_uri)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
