"""Popularity baseline: rank by how many train ratings a movie has; predict its damped mean."""

from __future__ import annotations

import numpy as np

from movierec.models.protocol import Profile


class PopularityRecommender:
    """Same list for everyone (minus what they rated); the baseline every method must beat."""

    def __init__(self, counts: np.ndarray, movie_mean: np.ndarray) -> None:
        self.counts = np.asarray(counts, dtype=np.float64)
        self.movie_mean = np.asarray(movie_mean, dtype=np.float64)
        self.n_movies = int(self.counts.size)

    @classmethod
    def fit(cls, movie_idx: np.ndarray, rating: np.ndarray, n_movies: int,
            damping: float = 5.0) -> PopularityRecommender:
        counts = np.bincount(movie_idx, minlength=n_movies).astype(np.float64)
        sums = np.bincount(movie_idx, weights=rating, minlength=n_movies)
        mu = float(np.mean(rating)) if len(rating) else 0.0
        return cls(counts, (sums + damping * mu) / (counts + damping))

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.counts.copy()

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.movie_mean[np.asarray(movie_idx, dtype=np.int64)]
