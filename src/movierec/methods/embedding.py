"""`embedding`: the blend served at /recommend (models/embedding/hybrid.py), behind the method contract.

Rating = the mean of `model.n_heads` embedding models' rating heads (matrix factorisation with an
implicit "which movies a user rates" objective); ranking = a z-scored blend of an item-item model
(tilted EASE^R), the heads' choice scores and their ratings. New users are folded in (closed form per
head; item-item scores from their ratings). Config section: ``model`` (conf/model/embedding.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.config import ModelConfig
from movierec.methods.contract import TRAINING_RECORD, FitContext, Method, TrainingData
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.protocol import Profile
from movierec.serving.explanations import EMBEDDING_REASONS, EmbeddingExplainer

RUN_FILE = TRAINING_RECORD  # the train stage's record: the epoch counts chosen on validation


class TrainOutputError(ValueError):
    """The train stage's run.json is missing or does not fit this configuration."""


def chosen_epochs(folder: Path, n_heads: int) -> list[int] | None:
    """Each head's epoch count from the trained folder's run.json; None (choose again) without a refit."""
    path = Path(folder) / RUN_FILE
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


class EmbeddingMethod(Method):
    name = "embedding"
    label = "Embedding blend"
    description = ("Blend of learned taste vectors (rating and choice heads) and an item-item model "
                   "of co-rated movies")
    config_class = ModelConfig
    reasons = EMBEDDING_REASONS

    def __init__(self, model: HybridRecommender) -> None:
        self.model = model
        self.n_movies = model.n_movies
        self._explainer: tuple[int, EmbeddingExplainer] | None = None

    @classmethod
    def fit(cls, data: TrainingData, config: ModelConfig, context: FitContext) -> EmbeddingMethod:
        from movierec.models.embedding.train_hybrid import train_hybrid  # Lightning only when training

        epochs = None if context.trained is None else chosen_epochs(context.trained, config.n_heads)
        training = train_hybrid(data.ratings, None, data.n_users, data.n_movies, config, context.trainer,
                                context.seed, context.hooks, epochs=epochs)
        return cls(training.model)

    def save(self, folder: Path) -> None:
        self.model.save(folder)

    @classmethod
    def load(cls, folder: Path) -> EmbeddingMethod:
        return cls(HybridRecommender.load(folder))

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.model.rank_scores(profile)

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.model.predict(profile, movie_idx)

    def predict_at(self, profile: Profile, movie_idx: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
        return self.model.predict_at(profile, movie_idx, timestamp)

    def explain(self, profile: Profile, movie_idx: np.ndarray, movies: pd.DataFrame) -> list[dict]:
        if self._explainer is None or self._explainer[0] != id(movies):  # built once per movie table
            self._explainer = (id(movies), EmbeddingExplainer.build(self.model.movie_vectors(), movies["movie_id"],
                                                                    movies["title"]))
        return self._explainer[1].explain(profile, movie_idx)


METHOD = EmbeddingMethod
