"""A Bayesian factorization machine (``myfm``: Gibbs sampling, Rendle 2013) as a rating baseline.

Features of a (user, movie) pair - the SVD++ idea on both sides, as in myFM's MovieLens examples -
all computed from the ratings the model is fitted on (never from held-out ones):

* user block:  the user's one-hot, and the movies the user rated, each weighted 1/sqrt(|N(u)|);
* movie block: the movie's one-hot, and the users who rated it, each weighted 1/sqrt(|N(m)|).

Each of the four feature groups has its own prior (myFM ``group_shapes``). The first
``BURN_IN_FRACTION`` of the ``n_iter`` Gibbs sweeps are burn-in; the prediction is the mean over
the samples kept after it.

Predictions for every movie at once, from the kept samples: in sample s the FM's prediction for
(u, m) is  w0 + c_u + c_m + a_u . b_m  with  a_u = V_user^T x_u  and  c_u = w_user . x_u +
1/2 (|a_u|^2 - sum_i x_ui^2 |v_i|^2)  (the user block's own pairwise terms), likewise for movies. So
the posterior mean over S samples is  mean(w0) + mean_s c_u + mean_s c_m + [a_u^1 .. a_u^S] .
[b_m^1 .. b_m^S] / S : one dot product of S x rank numbers per pair. The model answers for users
seen in the fitted ratings (the benchmarks' known-user cases).

Needs ``myfm`` (the ``bench`` extra). Nothing here imports ``movierec``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

# (rank, Gibbs sweeps) searched on validation RMSE; burn-in is the first quarter of the sweeps
GRID: tuple[tuple[int, int], ...] = tuple((rank, n_iter) for rank in (10, 32) for n_iter in (256, 512))
QUICK_GRID: tuple[tuple[int, int], ...] = ((4, 16), (8, 16))
BURN_IN_FRACTION = 0.25
SEED = 42


def import_myfm():
    """myfm 0.4 imports ``pkg_resources`` (setuptools < 81) and warns that it is deprecated."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import myfm
    return myfm


def feature_blocks(user_idx: np.ndarray, movie_idx: np.ndarray, n_users: int,
                   n_movies: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """The user block (n_users x [n_users one-hot | n_movies rated]) and the movie block
    (n_movies x [n_movies one-hot | n_users raters]), implicit parts weighted 1/sqrt(count)."""
    X = sp.csr_matrix((np.ones(len(user_idx)), (np.asarray(user_idx), np.asarray(movie_idx))),
                      shape=(n_users, n_movies))
    X.data[:] = 1.0  # a pair listed twice is still one rated movie

    def normalised(M: sp.csr_matrix) -> sp.csr_matrix:
        count = np.diff(M.indptr).astype(np.float64)
        return sp.diags(np.where(count > 0, 1.0 / np.sqrt(np.maximum(count, 1.0)), 0.0)) @ M

    users = sp.hstack([sp.identity(n_users, format="csr"), normalised(X)], format="csr")
    movies = sp.hstack([sp.identity(n_movies, format="csr"), normalised(X.T.tocsr())], format="csr")
    return users, movies


@dataclass
class BayesianFM:
    """Posterior summaries of a fitted FM: prediction(u, m) = bias + user_bias[u] + movie_bias[m]
    + user_factors[u] . movie_factors[m] (the factors of every kept sample side by side; the
    1/S of the mean is in movie_factors)."""

    bias: float
    user_bias: np.ndarray      # (n_users,) float64
    movie_bias: np.ndarray     # (n_movies,) float64
    user_factors: np.ndarray   # (n_users, S * rank) float32
    movie_factors: np.ndarray  # (n_movies, S * rank) float32
    rank: int
    n_iter: int
    n_samples: int

    @property
    def name(self) -> str:
        return f"Bayesian FM rank {self.rank}, {self.n_iter} sweeps ({self.n_samples} kept)"

    def predict_pairs(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        u, m = np.asarray(user_idx, np.int64), np.asarray(movie_idx, np.int64)
        dots = np.einsum("ij,ij->i", self.user_factors[u], self.movie_factors[m], dtype=np.float64)
        return self.bias + self.user_bias[u] + self.movie_bias[m] + dots

    def predict_user(self, user: int) -> np.ndarray:
        """Predicted ratings of every movie for one user."""
        dots = (self.movie_factors @ self.user_factors[int(user)]).astype(np.float64)
        return self.bias + self.user_bias[int(user)] + self.movie_bias + dots


def block_terms(block: sp.csr_matrix, w: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sample's (c, a) for every row x of a feature block: a = V^T x and
    c = w . x + 1/2 (|a|^2 - sum_i x_i^2 |v_i|^2)."""
    a = np.asarray(block @ V)
    squared = block.multiply(block).tocsr()
    c = block @ w + 0.5 * ((a * a).sum(axis=1) - squared @ (V * V).sum(axis=1))
    return c, a


def summarise(samples, users: sp.csr_matrix, movies: sp.csr_matrix, rank: int, n_iter: int) -> BayesianFM:
    """The posterior summaries from myFM's kept samples (feature order: user block, movie block)."""
    n_user_features = users.shape[1]
    n = len(samples)
    bias, user_bias, movie_bias = 0.0, np.zeros(users.shape[0]), np.zeros(movies.shape[0])
    user_factors = np.empty((users.shape[0], n * rank), np.float32)
    movie_factors = np.empty((movies.shape[0], n * rank), np.float32)
    for s, fm in enumerate(samples):
        w, V = np.asarray(fm.w), np.asarray(fm.V)
        c_u, a_u = block_terms(users, w[:n_user_features], V[:n_user_features])
        c_m, a_m = block_terms(movies, w[n_user_features:], V[n_user_features:])
        bias += fm.w0 / n
        user_bias += c_u / n
        movie_bias += c_m / n
        user_factors[:, s * rank:(s + 1) * rank] = a_u
        movie_factors[:, s * rank:(s + 1) * rank] = a_m / n
    return BayesianFM(bias, user_bias, movie_bias, user_factors, movie_factors, rank, n_iter, n)


def fit_myfm(ratings: pd.DataFrame, n_users: int, n_movies: int, rank: int, n_iter: int, seed: int = SEED):
    """myFM's regressor fitted on `ratings` (user_idx, movie_idx, rating), and the two feature
    blocks it used: ``(fm, users, movies)``."""
    myfm = import_myfm()
    u, m = ratings["user_idx"].to_numpy(np.int64), ratings["movie_idx"].to_numpy(np.int64)
    users, movies = feature_blocks(u, m, n_users, n_movies)
    burn_in = int(round(n_iter * BURN_IN_FRACTION))
    fm = myfm.MyFMRegressor(rank=rank, random_seed=seed)
    fm.fit(None, ratings["rating"].to_numpy(np.float64),
           X_rel=[myfm.RelationBlock(u, users), myfm.RelationBlock(m, movies)],
           n_iter=n_iter, n_kept_samples=n_iter - burn_in,
           group_shapes=[n_users, n_movies, n_movies, n_users])
    return fm, users, movies


def fit_bayesian_fm(ratings: pd.DataFrame, n_users: int, n_movies: int, rank: int, n_iter: int,
                    seed: int = SEED) -> BayesianFM:
    """A Bayesian FM (features from `ratings` only) reduced to its posterior summaries."""
    fm, users, movies = fit_myfm(ratings, n_users, n_movies, rank, n_iter, seed)
    return summarise(fm.predictor_.samples, users, movies, rank, n_iter)


class BayesianFMRecommender:
    """A :class:`BayesianFM` behind the project's Recommender protocol (duck-typed: a profile has
    movie_idx, rating, user_idx): rank by the predicted rating; known users only."""

    predicts_ratings = True

    def __init__(self, model: BayesianFM) -> None:
        self.model, self.n_movies = model, model.movie_bias.shape[0]

    def _user(self, profile) -> int:
        if profile.user_idx is None:
            raise ValueError("the Bayesian FM baseline scores users seen in its training ratings only")
        return int(profile.user_idx)

    def rank_scores(self, profile) -> np.ndarray:
        return self.model.predict_user(self._user(profile))

    def predict(self, profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.model.predict_user(self._user(profile))[np.asarray(movie_idx, np.int64)]


def tuned_bayesian_fm(fit_part: pd.DataFrame, val_part: pd.DataFrame, n_users: int, n_movies: int,
                      grid=GRID, seed: int = SEED) -> tuple[str, Callable[[pd.DataFrame], BayesianFMRecommender], str]:
    """(rank, sweeps) with the lowest validation RMSE: fitted on `fit_part` (its implicit features
    from `fit_part` alone), scored on `val_part`. Returns ``(name, fit, account)`` like
    :func:`baselines.tuned_ease`: ``fit(train)`` refits the chosen point on all of train."""
    vu, vm = val_part["user_idx"].to_numpy(np.int64), val_part["movie_idx"].to_numpy(np.int64)
    actual = val_part["rating"].to_numpy(np.float64)
    scored = {}
    for rank, n_iter in grid:
        started = time.perf_counter()
        error = fit_bayesian_fm(fit_part, n_users, n_movies, rank, n_iter, seed).predict_pairs(vu, vm) - actual
        scored[(rank, n_iter)] = (float(np.sqrt(np.mean(error ** 2))), float(np.mean(np.abs(error))),
                                  time.perf_counter() - started)
    rank, n_iter = min(scored, key=lambda point: scored[point][0])
    account = ("(rank, sweeps; burn-in 1/4) val RMSE/MAE " + ", ".join(
        f"({r}, {n}): {rmse:.4f}/{mae:.4f} [{seconds:.0f}s]" for (r, n), (rmse, mae, seconds) in scored.items())
        + f" -> ({rank}, {n_iter})")
    return ("Bayesian FM (myFM, tuned)",
            lambda train: BayesianFMRecommender(fit_bayesian_fm(train, n_users, n_movies, rank, n_iter, seed)),
            "user/movie one-hot + normalised rated-movie / rater sets from train; " + account)
