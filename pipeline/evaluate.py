"""Stage `evaluate`: every method on the test split through the bundle the service will load.

Writes reports/metrics.json ({method: {rmse, mae, precision@k, ...}}) and logs it to the
training run in MLflow.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow

from movierec.atomic import atomic_write_json
from movierec.bundle import ModelBundle
from movierec.config import Config
from movierec.evaluation import evaluate, heldout_cases
from movierec.popularity import PopularityRecommender
from movierec.processed import load_processed
from movierec.tracking import resolve_tracking_uri, use_store
from pipeline.stage import REPO_ROOT, stage

log = logging.getLogger(__name__)


def evaluate_bundle(bundle: ModelBundle, data, k: int, threshold: float) -> dict[str, dict[str, float]]:
    cases = list(heldout_cases(data.test, bundle.profile_for_user))
    train = data.train
    popularity = PopularityRecommender.fit(train["movie_idx"].to_numpy(), train["rating"].to_numpy(), data.n_movies)
    methods = {"embedding": bundle.embedding, "user_user": bundle.user_user, "popularity": popularity}
    return {name: evaluate(model, cases, k, threshold) for name, model in methods.items()}


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


def run(cfg: Config) -> dict:
    data = load_processed(cfg.paths.processed)
    bundle = ModelBundle.load(Path(cfg.paths.models) / "bundle")
    metrics: dict = evaluate_bundle(bundle, data, cfg.evaluate.k, cfg.evaluate.relevance_threshold)
    metrics["new_user"] = json.loads((Path(cfg.paths.reports) / "new_user.json").read_text())
    atomic_write_json(Path(cfg.paths.reports) / "metrics.json", metrics)
    run_info = json.loads((Path(cfg.paths.models) / "embedding" / "run.json").read_text())
    use_store(resolve_tracking_uri(cfg.mlflow.tracking_uri, REPO_ROOT))
    with mlflow.start_run(run_id=run_info["run_id"]):
        mlflow.log_metrics(flatten_metrics(metrics))
    for method, values in metrics.items():
        if method != "new_user":
            log.info("%-10s %s", method, " ".join(f"{k}={v:.4f}" for k, v in values.items() if k != "n_users"))
    return metrics


main = stage(run)

if __name__ == "__main__":
    main()
