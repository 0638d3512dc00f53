"""MLflow plumbing shared by the pipeline and the service: where the store is, runs, epochs.

The default store is a sqlite file at the repository root, given to MLflow as an absolute
``sqlite:///`` URI (MLflow 3 refuses the old file store; a relative URI breaks when the
working directory changes). ``MLFLOW_TRACKING_URI`` wins when set.

Under DVC the repository root is the one DVC names in ``DVC_ROOT``, not the folder the code runs
from: a queued or ``--temp`` experiment runs in a temporary copy of the repository (deleted
afterwards) while ``DVC_ROOT`` names the parent repository, so every experiment's runs and model
versions land in the one store. ``DVC_EXP_NAME`` names the experiment under ``dvc exp run``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from movierec.config.root import DVC_ROOT_ENV

MLFLOW_ENV = "MLFLOW_TRACKING_URI"
DVC_EXP_NAME_ENV = "DVC_EXP_NAME"  # set by DVC under `dvc exp run` (workspace, --queue, --temp)
DVC_EXP_BASELINE_ENV = "DVC_EXP_BASELINE_REV"
EXPERIMENT_TAG = "dvc_exp_name"
BASELINE_TAG = "dvc_exp_baseline_rev"


def project_root(default: Path) -> Path:
    """The repository root DVC names (``DVC_ROOT``), else `default` (e.g. the root found from ``__file__``)."""
    named = os.environ.get(DVC_ROOT_ENV)
    return Path(named).resolve() if named else Path(default).resolve()


def experiment_name() -> str | None:
    """The DVC experiment this process belongs to (``DVC_EXP_NAME``), or None outside ``dvc exp run``."""
    return os.environ.get(DVC_EXP_NAME_ENV) or None


def experiment_tags() -> dict[str, str]:
    """Tags naming the DVC experiment (and its baseline commit); empty outside ``dvc exp run``."""
    name = experiment_name()
    if name is None:
        return {}
    tags = {EXPERIMENT_TAG: name}
    if os.environ.get(DVC_EXP_BASELINE_ENV):
        tags[BASELINE_TAG] = os.environ[DVC_EXP_BASELINE_ENV]
    return tags


DEFAULT_RUN_NAME = "defaults"  # a run of conf/ as it is, outside an experiment
RUN_NAME_LIMIT = 250           # MLflow's longest run name


def run_name(changed: dict[str, Any], experiment: str | None = None) -> str:
    """A run's name from its experiment and the parameters it changed, e.g.
    ``dozy-pods:model.embedding_dim=32,filter.min_movie_ratings=10``: runs of different experiments
    tell themselves apart in the UI. A changed config group shows as its choice (``data=ml-1m``, not
    its url and checksum); where outputs go (``paths.*``) is no change of the run. Without changes the
    experiment's name alone, or :data:`DEFAULT_RUN_NAME`; without an experiment the changes alone."""
    groups = {key.split(".")[0] for key in changed if key.count(".") == 1 and key.endswith(".name")}
    parts: list[str] = []
    for key, value in changed.items():
        group = key.split(".")[0]
        if group == "paths":
            continue
        if group in groups:
            choice = f"{group}={_plain(changed[group + '.name'])}"
            if choice not in parts:
                parts.append(choice)
            continue
        parts.append(f"{key}={_plain(value)}")
    shown = ",".join(parts)
    name = f"{experiment}:{shown}" if experiment and shown else (experiment or shown or DEFAULT_RUN_NAME)
    if len(name) <= RUN_NAME_LIMIT:
        return name
    more = f"…({len(parts)} changed)"
    return name[:RUN_NAME_LIMIT - len(more)] + more


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if hasattr(value, "value"):  # an enum
        return str(value.value)
    return str(value)


def resolve_tracking_uri(configured: str | None, root: Path) -> str:
    """Env var, else the configured URI, else ``sqlite:///<root>/mlflow.db`` (absolute).

    `root` is replaced by ``DVC_ROOT`` when DVC sets it (see :func:`project_root`), so a relative
    or default store always means the parent repository's, also from an experiment's temporary copy.
    """
    root = project_root(root)
    if os.environ.get(MLFLOW_ENV):
        return os.environ[MLFLOW_ENV]
    if configured:
        if configured.startswith("sqlite:///") and not configured.startswith("sqlite:////"):
            relative = configured[len("sqlite:///"):]
            return f"sqlite:///{(root / relative).resolve()}"
        return configured
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def tag_new_runs_with_experiment() -> None:
    """Every MLflow run this process creates from now on carries :func:`experiment_tags`.

    Through MLflow's ``MLFLOW_RUN_CONTEXT`` (JSON tags its run-context provider adds to each new run),
    merged with whatever it already holds; nothing changes outside ``dvc exp run``.
    """
    import json

    tags = experiment_tags()
    if not tags:
        return
    try:
        current = json.loads(os.environ.get("MLFLOW_RUN_CONTEXT") or "{}")
    except ValueError:
        current = {}
    os.environ["MLFLOW_RUN_CONTEXT"] = json.dumps({**(current if isinstance(current, dict) else {}), **tags})


def use_store(uri: str, experiment: str | None = None) -> None:
    """Point MLflow at `uri` (tracking and registry), optionally selecting an experiment.

    Under ``dvc exp run`` every run created afterwards is tagged with the experiment's name.
    """
    import mlflow

    tag_new_runs_with_experiment()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        create_experiment_beside_store(uri, experiment)
        mlflow.set_experiment(experiment)


def artifact_root(uri: str) -> Path | None:
    """``<folder of the sqlite file>/mlruns`` for a local sqlite store (absolute path); None otherwise."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = Path(uri[len(prefix):])
    return path.parent / "mlruns" if path.is_absolute() else None


def create_experiment_beside_store(uri: str, experiment: str) -> None:
    """Create `experiment` with its artifacts in :func:`artifact_root` (``mlruns/<name>``) if the store
    lacks it. MLflow's own default is ``./mlruns`` of the *working directory*, which would put a
    store's models wherever the process happened to start (e.g. a test's store in the project's folder)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    root = artifact_root(uri)
    client = MlflowClient(tracking_uri=uri)
    if root is None or client.get_experiment_by_name(experiment) is not None:
        return
    folder = re.sub(r"[^A-Za-z0-9._-]", "_", experiment)
    try:
        client.create_experiment(experiment, artifact_location=str(root / folder))
    except MlflowException as exc:  # created meanwhile by another process
        if client.get_experiment_by_name(experiment) is None:
            raise exc


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
