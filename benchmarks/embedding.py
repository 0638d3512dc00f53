"""Embedding model: design variants on validation, then the chosen config on test over seeds.

    python benchmarks/embedding.py            # ~4 min on 2 cores
    python benchmarks/embedding.py --quick    # one seed, fewer variants

Validation = a seeded 10% of train (the test split chooses nothing). Writes
benchmarks/results/embedding.json and prints a table. Needs `dvc repro` to have run.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from movierec.atomic import atomic_write_json
from movierec.config import validate
from movierec.data.dataset import load_processed
from movierec.data.split import random_fraction_mask
from movierec.evaluation.protocol import evaluate, known_user_cases
from movierec.models.embedding.fit import train_embedding
from pipeline.memory import prepare_training_process
from pipeline.stage import compose_params

RANK_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)


def variants_on_validation(data, cfg, quick: bool) -> list[dict]:
    """Train on train minus validation; score design variants on validation only."""
    val_mask = random_fraction_mask(len(data.train), cfg.trainer.val_fraction, cfg.seed)
    fit_part, val_part = data.train[~val_mask], data.train[val_mask]
    cases = list(known_user_cases(fit_part, val_part))
    no_refit = dataclasses.replace(cfg.trainer, refit=False)
    rows = []
    objectives = {"mse + choice softmax (default)": cfg.model}
    if not quick:
        objectives["mse only"] = dataclasses.replace(cfg.model, implicit_weight=0.0)
    for label, model_cfg in objectives.items():
        result = train_embedding(fit_part, None, data.n_users, data.n_movies, model_cfg, no_refit, cfg.seed)
        for weight in RANK_WEIGHTS if label.endswith("(default)") else (model_cfg.rank_rating_weight,):
            result.model.net.hp = dataclasses.replace(result.model.net.hp, rank_rating_weight=weight)
            metrics = evaluate(result.model, cases)
            rows.append({"objective": label, "rank_rating_weight": weight, "val_rmse": metrics["rmse"],
                         "val_ndcg@10": metrics["ndcg@10"], "val_precision@10": metrics["precision@10"]})
            print(f"  {label:32s} rank_rating_weight={weight:<4} val RMSE {metrics['rmse']:.4f} "
                  f"NDCG@10 {metrics['ndcg@10']:.4f}", flush=True)
    return rows


def chosen_on_test(data, cfg, seeds: list[int]) -> list[dict]:
    cases = list(known_user_cases(data.train, data.test))
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        result = train_embedding(data.train, None, data.n_users, data.n_movies, cfg.model, cfg.trainer, seed)
        fit_seconds = time.perf_counter() - started
        metrics = evaluate(result.model, cases)
        epoch = result.median_epoch_seconds
        rows.append({"seed": seed, "test_rmse": metrics["rmse"], "test_ndcg@10": metrics["ndcg@10"],
                     "test_precision@10": metrics["precision@10"], "best_epoch": result.best_epoch,
                     "fit_seconds": fit_seconds, "median_epoch_seconds": epoch,
                     "ratings_per_second": len(data.train) * (1 - cfg.trainer.val_fraction) / epoch})
        print(f"  seed {seed}: test RMSE {metrics['rmse']:.4f} NDCG@10 {metrics['ndcg@10']:.4f} "
              f"fit {fit_seconds:.1f}s, epoch {epoch:.2f}s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/processed")
    parser.add_argument("--out", default="benchmarks/results/embedding.json")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cfg = validate(compose_params())
    prepare_training_process(cfg.trainer)
    data = load_processed(args.data)
    print("variants (validation):")
    variants = variants_on_validation(data, cfg, args.quick)
    print("chosen config (test):")
    seeds = [cfg.seed] if args.quick else [cfg.seed, cfg.seed + 1, cfg.seed + 2]
    tested = chosen_on_test(data, cfg, seeds)
    summary = {k: [float(np.mean([r[k] for r in tested])), float(np.min([r[k] for r in tested])),
                   float(np.max([r[k] for r in tested]))] for k in ("test_rmse", "test_ndcg@10")}
    print(f"mean [min, max] over {len(seeds)} seed(s): RMSE {summary['test_rmse']}, NDCG@10 {summary['test_ndcg@10']}")
    atomic_write_json(Path(args.out), {"protocol": "ml-latest-small, >=5 ratings/movie, random 80/20 seed 42; "
                                                   "validation = seeded 10% of train",
                                       "config": dataclasses.asdict(cfg.model), "variants_validation": variants,
                                       "test_by_seed": tested, "test_summary_mean_min_max": summary})


if __name__ == "__main__":
    main()
