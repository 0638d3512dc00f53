"""Which MLflow run trained a model folder: found by the folder's content hash, not by a stored id.

The train stage's outputs are tracked by DVC and rebuilt bit for bit on any machine (dvc.lock
holds their hashes), so they cannot hold an MLflow run id: a random id that only this machine's
store knows. The train stage tags its run with the hash of the folder it wrote
(:data:`MODEL_HASH_TAG`); the register stage finds the run by that hash and logs the test metrics
and the evaluation report to it.

A store without such a run (a deleted mlflow.db; outputs restored by `dvc checkout`, from DVC's run
cache or a remote) gets one made for the folder, tagged the same way and marked
``restored=true``, so the metrics and the model version still land on a run of this store.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_HASH_TAG = "model_sha256"
RESTORED_TAG = "restored"


def folder_sha256(folder: Path) -> str:
    """Content hash of a folder: every file's relative path and bytes, in path order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def find_training_run(experiment: str, digest: str) -> str | None:
    """The newest run of `experiment` tagged with model hash `digest`, or None."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs([found.experiment_id], filter_string=f"tags.{MODEL_HASH_TAG} = '{digest}'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def training_run_id(model_dir: Path, experiment: str, params: dict[str, Any], run_name: str) -> str:
    """The run that trained `model_dir` in the current store (see :func:`use_store`); one made for it
    (`params` logged, ``restored=true``) when the store has none."""
    import mlflow

    from movierec.registry.tracking import log_params_flat

    digest = folder_sha256(model_dir)
    run_id = find_training_run(experiment, digest)
    if run_id is not None:
        return run_id
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{run_name} (restored)") as active:
        log_params_flat(params)
        mlflow.set_tags({"stage": "train", MODEL_HASH_TAG: digest, RESTORED_TAG: "true"})
    log.warning("no run of experiment %r in this MLflow store trained %s (sha256 %s): made run %s for it "
                "(restored=true; the training curves are in the run that trained it, on another store)",
                experiment, model_dir, digest[:12], active.info.run_id)
    return active.info.run_id


def flatten_metrics(metrics: dict, prefix: str = "test") -> dict[str, float]:
    """{"embedding": {"ndcg@10": x}, "new_user": {...}} -> {"test_embedding_ndcg_at_10": x, ...}"""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}_{key.replace('@', '_at_')}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, name))
        else:
            flat[name] = float(value)
    return flat


def log_evaluation(run_id: str, metrics: dict, report: Path, figures: Path) -> None:
    """The test metrics (flattened, ``test_*``), the report and its figures, to run `run_id`."""
    import mlflow

    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(flatten_metrics(metrics))
        if Path(report).is_file():
            mlflow.log_artifact(str(report), artifact_path="report")
        if Path(figures).is_dir():
            mlflow.log_artifacts(str(figures), artifact_path="report/figures")


def logged_evaluation_matches(run_id: str, metrics: dict) -> bool:
    """Whether every one of these test metrics (flattened, ``test_*``) is logged to run `run_id` with
    this value as its latest: True when :func:`log_evaluation` already logged this evaluation to it,
    False when it logged none or another (metrics another evaluation logged beside them are ignored)."""
    from mlflow.tracking import MlflowClient

    logged = MlflowClient().get_run(run_id).data.metrics
    return all(k in logged and (logged[k] == v or (math.isnan(logged[k]) and math.isnan(v)))
               for k, v in flatten_metrics(metrics).items())
