"""Log a bundle as an MLflow pyfunc model, register it, and move the alias by the promotion rule."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.champion import move_alias
from movierec.registry.metric_tags import metric_tags, metrics_from_tags
from movierec.registry.promotion import Decision, decide_promotion

log = logging.getLogger(__name__)

MODEL_CODE = Path(__file__).with_name("pyfunc.py")
PACKAGE_DIR = Path(__file__).parents[1]
PINNED = ("torch", "mlflow", "numpy", "pandas", "scipy", "pyarrow")


def pip_requirements() -> list[str]:
    """Exact versions of what loading the bundle needs (explicit: inference takes ~10 s)."""
    return [f"{name}=={version(name).split('+')[0]}" for name in PINNED]


@dataclass(frozen=True)
class Registration:
    version: str
    run_id: str
    promoted: bool
    reason: str


def champion_metrics(client: MlflowClient, name: str, alias: str) -> tuple[str | None, dict[str, float] | None]:
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None, None
    return current.version, metrics_from_tags(current.tags)


def register_bundle(bundle_dir: Path, run_id: str, name: str, alias: str, metrics: dict[str, float],
                    rmse_tolerance: float, ndcg_tolerance: float, tags: dict[str, str] | None = None) -> Registration:
    """Log `bundle_dir` to run `run_id`, register it as a new version of `name`, maybe move `alias`."""
    client = MlflowClient()
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE), artifacts={"bundle": str(bundle_dir)},
            code_paths=[str(PACKAGE_DIR)], pip_requirements=pip_requirements(),
        )
    with contextlib.suppress(MlflowException):  # already exists
        client.create_registered_model(name)
    mv = client.create_model_version(name, info.model_uri, run_id=run_id)
    for key, value in {**metric_tags(metrics), **(tags or {})}.items():
        client.set_model_version_tag(name, mv.version, key, value)
    champion_version, champion = champion_metrics(client, name, alias)
    decision: Decision = decide_promotion(metrics, champion, rmse_tolerance, ndcg_tolerance)
    if decision.promote:
        move_alias(client, name, alias, str(mv.version), f"registered: {decision.reason}")
        log.info("version %s is now @%s (%s)", mv.version, alias, decision.reason)
    else:
        log.warning("version %s registered WITHOUT @%s (still version %s): %s", mv.version, alias,
                    champion_version, decision.reason)
    client.set_model_version_tag(name, mv.version, "promotion", decision.reason)
    return Registration(str(mv.version), run_id, decision.promote, decision.reason)
