"""The small real model the service tests serve: synthetic ratings, trained for real, registered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

N_USERS, N_MOVIES = 40, 30
USER_IDS = np.arange(N_USERS, dtype=np.int64) * 2 + 1     # 1, 3, 5, ...: ids are not indices
MOVIE_IDS = np.arange(1, N_MOVIES + 1, dtype=np.int64) * 10  # 10, 20, ..., 300
UNKNOWN_USER, UNKNOWN_MOVIE = 2, 15
METRICS = {"rmse": 1.0, "ndcg@10": 0.1}


@dataclass
class Registry:
    uri: str
    bundle_dir: Path
    ratings: pd.DataFrame   # user_id, movie_id, rating (all of them train)
    bundle: object          # movierec.serving.model_bundle.ModelBundle, as built (not loaded)

    def rated(self, user_id: int) -> set[int]:
        return set(self.ratings.loc[self.ratings["user_id"] == user_id, "movie_id"].tolist())

    def register(self, name: str, bundle_dir: Path | None = None) -> str:
        """A new version of `name` from `bundle_dir` (default: the good bundle); returns its number."""
        import mlflow

        from movierec.registry.register import register_bundle
        from movierec.registry.tracking import use_store

        # this store, whatever an earlier test in this process pointed MLflow at (test order is not fixed:
        # `make test` runs files on two workers)
        use_store(self.uri, "serve-tests")
        with mlflow.start_run() as run:
            pass
        return register_bundle(bundle_dir or self.bundle_dir, run.info.run_id, name, "champion", METRICS,
                               rmse_tolerance=0.005, ndcg_tolerance=0.01).version


def synthetic_ratings(seed: int = 0) -> pd.DataFrame:
    """Two taste groups: even users like the first half of the movies, odd users the second."""
    rng = np.random.default_rng(seed)
    rows = []
    for u, user_id in enumerate(USER_IDS):
        for m in rng.choice(N_MOVIES, size=int(rng.integers(8, 20)), replace=False):
            likes = (m < N_MOVIES // 2) == (u % 2 == 0)
            rating = np.clip(np.round(2 * ((4.5 if likes else 2.0) + rng.normal(0, 0.5))) / 2, 0.5, 5.0)
            rows.append((int(user_id), int(MOVIE_IDS[m]), float(rating)))
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])


def build_bundle(ratings: pd.DataFrame):
    from movierec.config import ModelConfig, TrainerConfig, UserUserConfig
    from movierec.data.vocabulary import Vocabularies, Vocabulary
    from movierec.models.embedding.batches import Ratings
    from movierec.models.embedding.fit import fit_embedding
    from movierec.models.embedding.hybrid import Blend, HybridRecommender
    from movierec.models.embedding.train_hybrid import fit_item_item
    from movierec.models.user_user.model import UserUserRecommender
    from movierec.serving.model_bundle import ModelBundle

    vocab = Vocabularies(Vocabulary.from_ids(ratings["user_id"]), Vocabulary.from_ids(ratings["movie_id"]))
    u = vocab.users.index(ratings["user_id"])
    m = vocab.movies.index(ratings["movie_id"])
    r = ratings["rating"].to_numpy(np.float32)
    data = Ratings.from_arrays(u, m, r)
    model_cfg = ModelConfig(embedding_dim=8, batch_size=128, implicit_users=8, item_item_lambda=5.0)
    heads = [fit_embedding(data, data, None, len(vocab.users), len(vocab.movies), model_cfg,
                           TrainerConfig(max_epochs=3, patience=3), seed=seed).model
             for seed in range(model_cfg.n_heads)]
    frame = pd.DataFrame({"user_idx": u, "movie_idx": m, "rating": r})
    embedding = HybridRecommender(heads, fit_item_item(frame, len(vocab.users), len(vocab.movies), model_cfg),
                                  Blend.from_config(model_cfg))
    user_user = UserUserRecommender.fit(u, m, r, len(vocab.users), len(vocab.movies),
                                        UserUserConfig(rank_min_co_rated=2, rank_neighbours=10))
    movies = pd.DataFrame({
        "movie_id": vocab.movies.ids,
        "movie_idx": np.arange(len(vocab.movies), dtype=np.int64),
        "title": [("Toy Story " if i % 10 == 0 else "Movie ") + str(mid) for i, mid in enumerate(vocab.movies.ids)],
        "genres": [["Comedy"] if i % 2 else ["Drama", "Thriller"] for i in range(len(vocab.movies))],
        "year": pd.array([None if i == 3 else 1990 + i for i in range(len(vocab.movies))], dtype="Int64"),
        "n_ratings": np.bincount(m, minlength=len(vocab.movies)).astype(np.int64),
    })
    bundle = ModelBundle.from_models(vocab, movies, embedding, user_user)
    # every other registered method (item_mean, any added later), fitted through its contract with its defaults
    from movierec.methods import FitContext, TrainingData, available_methods, method_class

    data = TrainingData(frame, len(vocab.users), len(vocab.movies))
    for name in available_methods():
        if name not in bundle.methods:
            cls = method_class(name)
            bundle.methods[name] = cls.fit(data, cls.config_class(), FitContext(seed=0, trainer=TrainerConfig()))
    return bundle
