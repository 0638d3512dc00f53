"""Stage `new_user`: the cold-start protocol for every method.

10% of users (seeded) are held out of training entirely; each reveals 10 seeded random ratings
through the method's new-user path (each configured method, refit without them; embedding: each
head's closed-form fold-in and the item-item scores of the revealed ratings; user-user and item_mean
from the ratings alone) and is evaluated on the rest; popularity is the baseline.
Writes reports/new_user.json ({method: metrics}).

The embedding heads train for the epoch counts the `train@embedding` stage chose on its validation
slice (models/methods/embedding/run.json), so this stage runs no selection of its own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.atomic import atomic_write_json
from movierec.config import Config
from movierec.data.dataset import load_processed
from movierec.evaluation.protocol import MovieStats, evaluate, new_user_split
from movierec.methods import TrainingData, configured_methods, fit_method, trained_dir
from movierec.methods.embedding import TrainOutputError
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Recommender
from pipeline.memory import prepare_training_process
from pipeline.stage import stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    prepare_training_process(cfg.trainer)
    data = load_processed(cfg.paths.processed)
    everything = pd.concat([data.train, data.test], ignore_index=True)
    warm, cases = new_user_split(everything, cfg.evaluate.new_user_fraction, cfg.evaluate.new_user_reveal, cfg.seed)
    u, m, r = (warm[c].to_numpy() for c in ("user_idx", "movie_idx", "rating"))
    warm_data = TrainingData(warm, data.n_users, data.n_movies)
    # each method refit on the warm users; `trained`: its folder from train@<method> (the embedding's
    # epoch counts chosen on validation, so this stage runs no selection of its own)
    methods: dict[str, Recommender] = {
        name: fit_method(name, warm_data, cfg, trained=trained_dir(cfg.paths.models, name))
        for name in configured_methods(cfg)}
    methods["popularity"] = PopularityRecommender.fit(m, r, data.n_movies)
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
