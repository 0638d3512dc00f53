"""The bias baseline both user-user paths centre on: r = mu + b_u + b_m, fitted by regularised
alternating means; a new user's bias folded in against fixed movie biases."""

from __future__ import annotations

import numpy as np


def fit_biases(user_idx: np.ndarray, movie_idx: np.ndarray, rating: np.ndarray, n_users: int,
               n_movies: int, reg_user: float, reg_movie: float,
               n_iters: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Regularised baseline ``mu + b_u + b_i`` by alternating closed-form updates.

    The last update of each round is the user step, the same formula as :func:`fold_in_user_bias`.
    """
    mu = float(rating.mean())
    n_u = np.bincount(user_idx, minlength=n_users)
    n_i = np.bincount(movie_idx, minlength=n_movies)
    b_u = np.zeros(n_users)
    b_i = np.zeros(n_movies)
    for _ in range(n_iters):
        b_i = np.bincount(movie_idx, weights=rating - mu - b_u[user_idx], minlength=n_movies) / (reg_movie + n_i)
        b_u = np.bincount(user_idx, weights=rating - mu - b_i[movie_idx], minlength=n_users) / (reg_user + n_u)
    return mu, b_u, b_i


def fold_in_user_bias(movie_idx: np.ndarray, rating: np.ndarray, mu: float, movie_bias: np.ndarray,
                      reg_user: float) -> float:
    """User bias of a (new) user from their ratings, with the training regularisation."""
    if movie_idx.size == 0:
        return 0.0
    return float(np.sum(rating - mu - movie_bias[movie_idx]) / (reg_user + movie_idx.size))
