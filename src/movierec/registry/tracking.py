"""MLflow plumbing shared by the pipeline and the service: where the store is, runs, epochs.

The default store is a sqlite file at the repository root, given to MLflow as an absolute
``sqlite:///`` URI (MLflow 3 refuses the old file store; a relative URI breaks when the
working directory changes). ``MLFLOW_TRACKING_URI`` wins when set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MLFLOW_ENV = "MLFLOW_TRACKING_URI"


def resolve_tracking_uri(configured: str | None, root: Path) -> str:
    """Env var, else the configured URI, else ``sqlite:///<root>/mlflow.db`` (absolute)."""
    if os.environ.get(MLFLOW_ENV):
        return os.environ[MLFLOW_ENV]
    if configured:
        if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
            relative = configured[len("sqlite:///"):]
            return f"sqlite:///{(root / relative).resolve()}"
        return configured
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def use_store(uri: str, experiment: str | None = None) -> None:
    """Point MLflow at `uri` (tracking and registry), optionally selecting an experiment."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        mlflow.set_experiment(experiment)


def log_params_flat(params: dict[str, Any]) -> None:
    """Log every resolved parameter (MLflow params are strings of at most 6000 chars)."""
    import mlflow

    items = list(params.items())
    for start in range(0, len(items), 100):
        mlflow.log_params({k: ("" if v is None else str(v))[:6000] for k, v in items[start:start + 100]})


class EpochLogger:
    """Per-epoch metrics to an MLflow run, with the epoch as the step (for the UI's curves)."""

    def __init__(self, run_id: str, prefix: str = "") -> None:
        from mlflow.tracking import MlflowClient

        self.client, self.run_id, self.prefix = MlflowClient(), run_id, prefix

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(f"{self.prefix}{k}", float(v), now, epoch)
                                                    for k, v in metrics.items()])
