"""Stage `evaluate`: every method on the test split through the bundle the service will load.

Writes reports/metrics.json ({method: {rmse, mae, precision@k, ..., novelty@k, ndcg@k_light, ...}}),
reports/summary.json (its headline: RMSE and NDCG@k per method and for new users; DVC's metrics file),
and the evaluation report (reports/evaluation.md + reports/figures/*.png). No MLflow here: the
register stage logs the metrics and the report to the training run (one store opened per repro).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_json
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.evaluation.protocol import MovieStats, heldout_cases, run_cases, score_cases
from movierec.evaluation.report import protocol_text, write_report
from movierec.evaluation.summary import headline
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Recommender
from movierec.serving.model_bundle import ModelBundle
from pipeline.stage import stage

log = logging.getLogger(__name__)


def evaluate_bundle(bundle: ModelBundle, data, k: int,
                    threshold: float) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Metrics per method, and every movie index each method recommended (for the report)."""
    cases = list(heldout_cases(data.test, bundle.profile_for_user))
    train = data.train
    popularity = PopularityRecommender.fit(train["movie_idx"].to_numpy(), train["rating"].to_numpy(), data.n_movies)
    catalogue = MovieStats.from_movie_table(bundle.movies, len(bundle.vocab.users))
    methods: dict[str, Recommender] = {**bundle.methods, "popularity": popularity}
    metrics, recommended = {}, {}
    for name, model in methods.items():
        results = run_cases(model, cases, k)
        metrics[name] = score_cases(cases, results, k, threshold, data.n_movies, catalogue)
        recommended[name] = np.concatenate(results.ranked) if results.ranked else np.empty(0, np.int64)
    return metrics, recommended


def run(cfg: Config) -> dict:
    data = load_processed(cfg.paths.processed)
    reports = Path(cfg.paths.reports)
    bundle = ModelBundle.load(Path(cfg.paths.models) / "bundle")
    metrics, recommended = evaluate_bundle(bundle, data, cfg.evaluate.k, cfg.evaluate.relevance_threshold)
    metrics["new_user"] = json.loads((reports / "new_user.json").read_text())
    atomic_write_json(reports / "metrics.json", metrics)
    atomic_write_json(reports / "summary.json", headline(metrics, cfg.evaluate.k))  # what dvc metrics show prints
    loss = pd.read_csv(reports / "loss.csv") if (reports / "loss.csv").is_file() else None
    report = write_report(reports, metrics, cfg.evaluate.k, protocol_text(cfg),
                          bundle.movies["n_ratings"].to_numpy(), recommended, loss)
    for method, values in metrics.items():
        if method != "new_user":
            log.info("%-10s %s", method, " ".join(f"{k}={v:.4f}" for k, v in values.items()
                                                  if not k.startswith("n_users")))
    log.info("evaluate: report at %s", report)
    return metrics


main = stage(run)

if __name__ == "__main__":
    main()
