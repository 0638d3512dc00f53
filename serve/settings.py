"""Service settings from the one config source, `conf/` (groups `serve` and `mlflow`): the checkout's,
or, run from an installed wheel, that of the project `MOVIEREC_ROOT` names."""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from movierec.config import MlflowConfig, ServeConfig, compose, validate
from movierec.config.root import config_root

try:  # the checkout holding serve/; from an installed wheel the folder $MOVIEREC_ROOT names
    REPO_ROOT = config_root(Path(__file__).resolve().parent.parent)
except ValueError as exc:
    sys.exit(f"movierec: {exc}")
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
