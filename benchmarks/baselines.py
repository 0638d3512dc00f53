"""Strong top-N baselines, self-contained (numpy / scipy / implicit): EASE^R, RP3beta, implicit ALS.

Each method fits on a scipy CSR users x movies matrix of train ratings and scores every movie for
every user (or for one profile); ranking, exclusion of rated movies and the metrics are the
caller's. Nothing here imports ``movierec``: the benchmark wires these into its table, and the
ranking research tuned them on validation (``benchmarks/results/ranking_research.md``).

* EASE^R (Steck 2019): B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, diag(B) = 0,
  scores = X B, with X the binary user x movie matrix.
* RP3beta (Paudel et al. 2017): W = P_iu P_ui (two-step random walk, both transition matrices
  raised element-wise to alpha), each column j divided by deg(j)^beta, the ``neighbours``
  largest entries kept per row, diagonal zero; scores = X W.
* implicit ALS (Hu, Koren, Volinsky 2008) through the ``implicit`` package (0.7): binary X is
  multiplied by ``alpha`` and taken as the confidence of an observed pair (unobserved: 1, target
  0), with ``factors`` and ``regularization`` given.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# grids searched on validation (NDCG@10); the chosen points are what benchmarks/accuracy.py reports
EASE_LAMBDAS = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
RP3_GRID = tuple((a, b) for a in (0.5, 0.8, 1.0) for b in (0.3, 0.45, 0.6))
ALS_GRID = tuple(dict(factors=f, regularization=r, alpha=a)
                 for f in (128, 256) for r in (3.0, 10.0, 30.0) for a in (1.0, 4.0))


def binary_matrix(user_idx: np.ndarray, movie_idx: np.ndarray, n_users: int, n_movies: int,
                  values: np.ndarray | None = None) -> sp.csr_matrix:
    """Users x movies CSR with 1 (or ``values``) at every rated pair."""
    data = np.ones(len(user_idx), np.float64) if values is None else np.asarray(values, np.float64)
    return sp.csr_matrix((data, (np.asarray(user_idx), np.asarray(movie_idx))), shape=(n_users, n_movies))


@dataclass
class ItemItemModel:
    """A movie x movie weight matrix W: a profile's scores are x W (x = its binary row)."""

    weights: np.ndarray  # (n_movies, n_movies), float32 or float64
    name: str = ""

    @property
    def n_movies(self) -> int:
        return self.weights.shape[0]

    def score_matrix(self, X: sp.csr_matrix) -> np.ndarray:
        """Scores of every movie for every row of X (users x movies)."""
        return np.asarray(X @ self.weights)

    def score_profile(self, movie_idx: np.ndarray) -> np.ndarray:
        """Scores of every movie for one profile (binary: the rated movies' rows summed)."""
        movie_idx = np.asarray(movie_idx, dtype=np.int64)
        if movie_idx.size == 0:
            return np.zeros(self.n_movies)
        return self.weights[movie_idx].sum(axis=0, dtype=np.float64)


def fit_ease(X: sp.csr_matrix, lam: float) -> ItemItemModel:
    """EASE^R closed form on the (binary) users x movies matrix X."""
    gram = np.asarray((X.T @ X).todense(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += lam
    P = np.linalg.inv(gram)
    B = P / (-np.diag(P))[None, :]
    B[np.diag_indices_from(B)] = 0.0
    return ItemItemModel(B.astype(np.float32), f"EASE lambda={lam:g}")


def fit_rp3beta(X: sp.csr_matrix, alpha: float, beta: float, neighbours: int = 200) -> ItemItemModel:
    """RP3beta item-item weights from the binary users x movies matrix X."""
    X = sp.csr_matrix(X, dtype=np.float64)
    X.data[:] = 1.0
    user_deg = np.asarray(X.sum(axis=1)).ravel()
    item_deg = np.asarray(X.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(user_deg, 1.0)) @ X   # user -> item transition
    p_iu = sp.diags(1.0 / np.maximum(item_deg, 1.0)) @ X.T.tocsr()  # item -> user transition
    p_ui.data **= alpha
    p_iu.data **= alpha
    W = np.asarray((p_iu @ p_ui).todense())
    W /= np.power(np.maximum(item_deg, 1.0), beta)[None, :]
    np.fill_diagonal(W, 0.0)
    if neighbours and neighbours < W.shape[1]:
        cut = np.argpartition(-W, neighbours - 1, axis=1)[:, neighbours:]
        np.put_along_axis(W, cut, 0.0, axis=1)
    return ItemItemModel(W.astype(np.float32), f"RP3beta alpha={alpha:g} beta={beta:g} k={neighbours}")


@dataclass
class FactorModel:
    """User and movie factors: scores = U V^T (``implicit`` ALS)."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    regularization: float
    alpha: float
    name: str = ""

    def score_matrix(self, users: np.ndarray | None = None) -> np.ndarray:
        U = self.user_factors if users is None else self.user_factors[users]
        return U @ self.item_factors.T

    def fold_in(self, movie_idx: np.ndarray) -> np.ndarray:
        """A new user's factors: implicit's ALS user step (confidence alpha on the rated movies,
        1 elsewhere): (V^T V + (alpha - 1) V_r^T V_r + reg I) p = alpha * sum V_r."""
        V = self.item_factors.astype(np.float64)
        Vr = V[np.asarray(movie_idx, np.int64)]
        A = V.T @ V + (self.alpha - 1.0) * Vr.T @ Vr + self.regularization * np.eye(V.shape[1])
        return np.linalg.solve(A, self.alpha * Vr.sum(axis=0))


def fit_als(X: sp.csr_matrix, factors: int, regularization: float, alpha: float, iterations: int = 15,
            seed: int = 42) -> FactorModel:
    """implicit's CPU ALS on binary X with confidence alpha on observed pairs (one thread)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    C = sp.csr_matrix(X, dtype=np.float32)
    C.data[:] = 1.0
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=alpha,
                                      iterations=iterations, random_state=seed, num_threads=1)
        als.fit(C, show_progress=False)
    return FactorModel(np.asarray(als.user_factors), np.asarray(als.item_factors), regularization, alpha,
                       f"ALS factors={factors} reg={regularization:g} alpha={alpha:g}")


# -- the Recommender protocol (duck-typed: a profile has movie_idx, rating, user_idx) -----------

class ItemItemRecommender:
    """An item-item model (EASE^R, RP3beta) behind the project's Recommender protocol: a profile
    (known or new user alike) scores every movie by x W, x its binary row; no ratings (NaN)."""

    predicts_ratings = False

    def __init__(self, model: ItemItemModel) -> None:
        self.model, self.n_movies = model, model.n_movies

    def rank_scores(self, profile) -> np.ndarray:
        return self.model.score_profile(profile.movie_idx)

    def predict(self, profile, movie_idx: np.ndarray) -> np.ndarray:
        return np.full(len(movie_idx), np.nan)


class FactorRecommender:
    """implicit ALS factors behind the Recommender protocol: a known user's factors, a new user's
    folded in by one ALS user step; no ratings (NaN)."""

    predicts_ratings = False

    def __init__(self, model: FactorModel) -> None:
        self.model, self.n_movies = model, model.item_factors.shape[0]

    def rank_scores(self, profile) -> np.ndarray:
        if profile.user_idx is not None:
            p = self.model.user_factors[int(profile.user_idx)]
        else:
            p = self.model.fold_in(profile.movie_idx)
        return self.model.item_factors @ p

    def predict(self, profile, movie_idx: np.ndarray) -> np.ndarray:
        return np.full(len(movie_idx), np.nan)


# -- tuning on validation -------------------------------------------------------------------------

def validation_ndcg(scores: np.ndarray, profile: sp.csr_matrix, val_user: np.ndarray, val_movie: np.ndarray,
                    val_rating: np.ndarray, k: int = 10, threshold: float = 4.0) -> float:
    """NDCG@k (binary gains) of a users x movies score matrix, the project's definition: the
    profile's movies excluded, ties to the lower index, mean over users with a relevant held-out
    movie (rating >= threshold)."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    liked = val_rating >= threshold
    users = np.unique(val_user[liked])
    s = np.array(scores[users], dtype=np.float64)
    rows, cols = profile[users].nonzero()
    s[rows, cols] = -np.inf
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    total = 0.0
    for row, user in zip(top, users):
        relevant = val_movie[liked & (val_user == user)]
        hits = np.isin(row, relevant)
        total += float((hits * discounts).sum() / discounts[: min(len(relevant), k)].sum())
    return total / len(users)


def tuned_ease(fit_part, val_part, n_users: int, n_movies: int, lambdas=EASE_LAMBDAS):
    """EASE^R with lambda chosen on validation NDCG@10: ``(name, fit, account)`` as in
    :func:`strong_baselines` (``fit(train_frame)`` refits the chosen lambda on all of train)."""
    def matrix(frame):
        return binary_matrix(frame["user_idx"].to_numpy(np.int64), frame["movie_idx"].to_numpy(np.int64),
                             n_users, n_movies)

    X = matrix(fit_part)
    vu, vm, vr = (val_part[c].to_numpy() for c in ("user_idx", "movie_idx", "rating"))
    scored = {lam: validation_ndcg(fit_ease(X, lam).score_matrix(X), X, vu, vm, vr) for lam in lambdas}
    lam = max(scored, key=scored.get)
    account = "val NDCG@10 " + ", ".join(f"{k:g}: {v:.4f}" for k, v in scored.items()) + f" -> {lam:g}"
    return ("EASE^R", lambda train: ItemItemRecommender(fit_ease(matrix(train), lam)),
            "binary user x movie matrix; lambda " + account)


def strong_baselines(fit_part, val_part, n_users: int, n_movies: int, quick: bool = False):
    """EASE^R, RP3beta and implicit ALS, each tuned on validation NDCG@10 (fit on `fit_part`,
    ranked against `val_part`; frames with user_idx, movie_idx, rating).

    Returns ``[(name, fit, params)]``: ``fit(train_frame)`` refits the chosen setting on all of
    train and returns a Recommender; ``params`` is a one-line account of the search.
    """
    def cols(frame):
        return (frame["user_idx"].to_numpy(np.int64), frame["movie_idx"].to_numpy(np.int64),
                frame["rating"].to_numpy(np.float64))

    fu, fm, _ = cols(fit_part)
    vu, vm, vr = cols(val_part)
    X = binary_matrix(fu, fm, n_users, n_movies)

    def ndcg(scores):
        return validation_ndcg(scores, X, vu, vm, vr)

    def matrix(frame):
        u, m, _ = cols(frame)
        return binary_matrix(u, m, n_users, n_movies)

    def account(scored: dict, best) -> str:
        return "val NDCG@10 " + ", ".join(f"{key}: {value:.4f}" for key, value in scored.items()) + f" -> {best}"

    out = [tuned_ease(fit_part, val_part, n_users, n_movies, EASE_LAMBDAS[2:4] if quick else EASE_LAMBDAS)]

    grid = RP3_GRID[:2] if quick else RP3_GRID
    scored = {ab: ndcg(fit_rp3beta(X, *ab).score_matrix(X)) for ab in grid}
    ab = max(scored, key=scored.get)
    out.append(("RP3beta", lambda train: ItemItemRecommender(fit_rp3beta(matrix(train), *ab)),
                "200 neighbours per movie; (alpha, beta) " + account({f"({a:g}, {b:g})": v for (a, b), v in scored.items()},
                                                                   f"({ab[0]:g}, {ab[1]:g})")))

    grid = ALS_GRID[:2] if quick else ALS_GRID
    scored = {i: ndcg(fit_als(X, **point).score_matrix()) for i, point in enumerate(grid)}
    best = grid[max(scored, key=scored.get)]
    out.append(("implicit ALS (tuned)", lambda train: FactorRecommender(fit_als(matrix(train), **best)),
                "binary, 15 iterations; (factors, regularization, alpha) " + account(
                    {f"({p['factors']}, {p['regularization']:g}, {p['alpha']:g})": scored[i] for i, p in enumerate(grid)},
                    f"({best['factors']}, {best['regularization']:g}, {best['alpha']:g})")))
    return out
