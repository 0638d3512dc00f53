"""Which project and which MLflow store a command line means, from any working directory.

The pipeline's stages run under DVC, which names the project (``DVC_ROOT``) and composes the
config into ``params.yaml``. A command run by hand (the champion CLI, `make ui`, the tracking
server, `reproduce`) has neither: :func:`~movierec.config.root.find_project_root` finds the checkout
without looking at the working directory, and :func:`configured_tracking_uri` reads ``mlflow.tracking_uri`` from its
``conf/`` the way the stages and the service do (``MLFLOW_TRACKING_URI`` wins). Kept apart from
:mod:`movierec.registry.tracking`, which the training stages depend on.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from movierec.config.root import ROOT_ENV, find_project_root
from movierec.registry.tracking import MLFLOW_ENV, resolve_tracking_uri

__all__ = ["ROOT_ENV", "configured_tracking_uri", "display_uri", "find_project_root", "missing_store",
           "mlflow_config"]


def mlflow_config(root: Path) -> dict[str, Any]:
    """The ``mlflow`` group of the project's composed ``conf/`` (tracking_uri, model_name, alias, ...)."""
    from movierec.config.compose import compose

    return dict(compose(root / "conf").get("mlflow") or {})


def configured_tracking_uri(root: Path | None = None, mlflow_cfg: dict[str, Any] | None = None) -> str:
    """The store the configuration names: ``MLFLOW_TRACKING_URI``, else ``mlflow.tracking_uri`` of the
    composed ``conf/`` (a relative sqlite path from the project root), else ``<root>/mlflow.db``."""
    if os.environ.get(MLFLOW_ENV):
        return os.environ[MLFLOW_ENV]
    root = root or find_project_root()
    cfg = mlflow_config(root) if mlflow_cfg is None else mlflow_cfg
    return resolve_tracking_uri(cfg.get("tracking_uri"), root)


def display_uri(uri: str) -> str:
    """`uri` fit to print: a password in it (``postgresql://user:secret@host/db``) is masked."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:***@", uri)


def missing_store(uri: str) -> str | None:
    """The path of a local sqlite store that does not exist (yet); None for any other store.
    Reading must not create one: MLflow would, at that path."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = Path(uri[len(prefix):].split("?", 1)[0])
    return None if path.is_file() else str(path)
