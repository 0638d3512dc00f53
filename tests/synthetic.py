"""Synthetic ratings whose right answers are known exactly: two taste groups.

Users in group A rate movies 0..n/2-1 with 5 and the rest with 1; group B the opposite.
Each user rates a seeded random half of the movies, so every user has unseen movies whose
right rating (5 or 1) and right ranking (own group's movies first) are known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def two_group_ratings(n_users: int = 60, n_movies: int = 40, seen_fraction: float = 0.5,
                      seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        group_a = user % 2 == 0
        seen = rng.permutation(n_movies)[: int(n_movies * seen_fraction)]
        for movie in seen:
            likes = (movie < n_movies // 2) == group_a
            rows.append((user, int(movie), 5.0 if likes else 1.0, user * 1000 + int(movie)))
    frame = pd.DataFrame(rows, columns=["user_idx", "movie_idx", "rating", "timestamp"])
    frame["user_id"] = frame["user_idx"] + 1
    frame["movie_id"] = frame["movie_idx"] * 10 + 7
    return frame.astype({"rating": "float32"})


def liked_movies(user: int, n_movies: int = 40) -> set[int]:
    half = n_movies // 2
    return set(range(half)) if user % 2 == 0 else set(range(half, n_movies))


def movie_frame(n_movies: int = 40) -> pd.DataFrame:
    return pd.DataFrame({
        "movie_id": np.arange(n_movies) * 10 + 7, "movie_idx": np.arange(n_movies),
        "title": [f"Movie {i}" for i in range(n_movies)],
        "genres": [["Drama"] if i % 2 else ["Comedy", "Drama"] for i in range(n_movies)],
        "year": pd.array([1990 + i for i in range(n_movies)], dtype="Int64"),
        "n_ratings": np.full(n_movies, 30),
    })


def small_bundle(seed: int = 0):
    """A real (tiny) ModelBundle trained on the two-group data in about a second."""
    from movierec.config import ModelConfig, TrainerConfig, UserUserConfig
    from movierec.data.vocabulary import Vocabularies, Vocabulary
    from movierec.models.embedding.fit import train_embedding
    from movierec.models.embedding.hybrid import HybridRecommender
    from movierec.models.user_user.model import UserUserRecommender
    from movierec.serving.model_bundle import ModelBundle

    ratings = two_group_ratings(seed=seed)
    n_users, n_movies = 60, 40
    model = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0)
    embedding = train_embedding(ratings, None, n_users, n_movies, model,
                                TrainerConfig(max_epochs=10, patience=3, refit=False), seed=seed).model
    user_user = UserUserRecommender.fit(ratings["user_idx"].to_numpy(), ratings["movie_idx"].to_numpy(),
                                        ratings["rating"].to_numpy(), n_users, n_movies,
                                        UserUserConfig(rank_min_co_rated=2, rank_neighbours=10))
    vocab = Vocabularies(Vocabulary.from_ids(np.arange(n_users) + 1), Vocabulary.from_ids(np.arange(n_movies) * 10 + 7))
    return ModelBundle.from_models(vocab, movie_frame(n_movies), HybridRecommender.single(embedding), user_user)
