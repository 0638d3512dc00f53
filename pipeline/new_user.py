"""Stage `new_user`: the cold-start protocol for every method.

10% of users (seeded) are held out of training entirely; each reveals 10 seeded random ratings
through the method's new-user path (embedding: each head's closed-form fold-in and the
item-item scores of the revealed ratings; user-user from ratings alone) and is
evaluated on the rest. Writes reports/new_user.json ({method: metrics}).

The embedding heads train for the epoch counts the `train` stage chose on its validation slice
(models/embedding/run.json), so this stage runs no selection of its own.
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
from movierec.evaluation.protocol import MovieStats, evaluate, new_user_split
from movierec.models.embedding.train_hybrid import train_hybrid
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Recommender
from movierec.models.user_user.model import UserUserRecommender
from pipeline.memory import prepare_training_process
from pipeline.stage import stage

log = logging.getLogger(__name__)


class TrainOutputError(ValueError):
    """The train stage's run.json is missing or does not fit this configuration."""


def chosen_epochs(models_dir: Path, n_heads: int) -> list[int] | None:
    """Each head's epoch count from the train stage's run.json; None (choose again) without a refit."""
    path = models_dir / "embedding" / "run.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise TrainOutputError(f"{path} is missing or unreadable ({error}); run the train stage first") from error
    best = info.get("head_best_epochs")
    if not info.get("refit") or best is None:
        return None
    if len(best) != n_heads:
        raise TrainOutputError(f"{path} has epoch counts for {len(best)} heads, model.n_heads is {n_heads}; "
                               "run the train stage again")
    return [int(b) + 1 for b in best]  # the refit trained each head for its best epoch + 1 epochs


def run(cfg: Config) -> dict:
    prepare_training_process(cfg.trainer)
    data = load_processed(cfg.paths.processed)
    everything = pd.concat([data.train, data.test], ignore_index=True)
    warm, cases = new_user_split(everything, cfg.evaluate.new_user_fraction, cfg.evaluate.new_user_reveal, cfg.seed)
    u, m, r = (warm[c].to_numpy() for c in ("user_idx", "movie_idx", "rating"))
    methods: dict[str, Recommender] = {
        "embedding": train_hybrid(warm, None, data.n_users, data.n_movies, cfg.model, cfg.trainer, cfg.seed,
                                  epochs=chosen_epochs(Path(cfg.paths.models), cfg.model.n_heads)).model,
        "user_user": UserUserRecommender.fit(u, m, r, data.n_users, data.n_movies, cfg.cf),
        "popularity": PopularityRecommender.fit(m, r, data.n_movies),
    }
    # beyond-accuracy figures count popularity in the data the methods were trained on (warm users)
    catalogue = MovieStats(np.bincount(m, minlength=data.n_movies), [frozenset(g) for g in data.movies["genres"]],
                          int(np.unique(u).size))
    metrics = {name: evaluate(model, cases, cfg.evaluate.k, cfg.evaluate.relevance_threshold, catalogue=catalogue)
               for name, model in methods.items()}
    atomic_write_json(Path(cfg.paths.reports) / "new_user.json", metrics)
    for name, values in metrics.items():
        log.info("new_user %-10s rmse=%.4f ndcg@%d=%.4f (%d users)", name, values["rmse"], cfg.evaluate.k,
                 values[f"ndcg@{cfg.evaluate.k}"], values["n_users"])
    return metrics


main = stage(run, expected=(TrainOutputError,))

if __name__ == "__main__":
    main()
