"""`user_user`: user-user Pearson collaborative filtering (models/user_user/), served at /recommend-simple.

Rating = bias baseline + similarity-weighted deviations of the most similar users who rated the movie;
ranking = neighbour support. A new user's neighbours are found from their ratings alone.
Config section: ``user_user`` (conf/user_user/pearson.yaml).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.atomic import atomic_path
from movierec.config import UserUserConfig
from movierec.methods.contract import FitContext, Method, TrainingData
from movierec.models.protocol import Profile
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.explanations import USER_USER_REASONS, because_user_user

MODEL_FILE, CONFIG_FILE = "model.npz", "config.json"


class UserUserMethod(Method):
    name = "user_user"
    label = "User-user"
    description = "From people with similar ratings (Pearson correlation over co-rated movies)"
    config_class = UserUserConfig
    reasons = USER_USER_REASONS

    def __init__(self, model: UserUserRecommender) -> None:
        self.model = model
        self.n_movies = model.n_movies

    @classmethod
    def fit(cls, data: TrainingData, config: UserUserConfig, context: FitContext) -> UserUserMethod:
        return cls(UserUserRecommender.fit(*data.columns(), data.n_users, data.n_movies, config))

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / MODEL_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.model.to_arrays())  # type: ignore[arg-type]  # numpy stubs: **arrays
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self.model.config), indent=2))

    @classmethod
    def load(cls, folder: Path) -> UserUserMethod:
        folder = Path(folder)
        config = UserUserConfig.from_saved(json.loads((folder / CONFIG_FILE).read_text()))
        with np.load(folder / MODEL_FILE, allow_pickle=False) as arrays:
            return cls(UserUserRecommender.from_arrays({k: arrays[k] for k in arrays.files}, config))

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.model.rank_scores(profile)

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.model.predict(profile, movie_idx)

    def explain(self, profile: Profile, movie_idx: np.ndarray, movies: pd.DataFrame) -> list[dict]:
        return because_user_user(self.model, profile, movie_idx)

    def train_ratings(self) -> sp.csr_matrix:
        return self.model.ratings


METHOD = UserUserMethod
