"""User-user collaborative filtering with pairwise-complete Pearson similarity.

Two paths share the per-query similarities (:mod:`movierec.models.user_user.pearson`):

* rating prediction — bias baseline plus similarity-weighted, baseline-centred deviations of
  the ``n_neighbours`` most similar users (by |similarity|, negatives kept) who rated the movie;
  similarity shrunk by ``n / (n + shrinkage)``; ``damping`` added to Σ|w| pulls thin evidence
  toward the baseline;
* top-N ranking — neighbour support: the ``rank_neighbours`` users with the largest weight
  Pearson × ``min(n, S) / S`` × ``(n / n_v)^a`` (positive only; n co-rated, n_v the neighbour's
  ratings) vote for the movies they rated with weight × rating; a movie's total is divided by
  ``max(popularity, 1)^b``. Profiles under ``rank_light_profile`` ratings use
  ``rank_light_significance`` and a = b = 0.
  Ranking by predicted rating is useless for top-N (NDCG@10 ≈ 0.004 in early prototypes).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from movierec.config import UserUserConfig
from movierec.models.protocol import Profile
from movierec.models.user_user.baseline import fit_biases, fold_in_user_bias
from movierec.models.user_user.pearson import gather_columns, pearson_against_all


def _compact(matrix: sp.csr_matrix | sp.csc_matrix):
    """The same matrix with int32 indices where they fit, sorted indices, and float32 data when
    that is exact (MovieLens half stars are; arbitrary floats keep float64). Copies only when needed."""
    index_dtype = np.int32 if max(matrix.nnz, max(matrix.shape)) < np.iinfo(np.int32).max else np.int64
    data32 = matrix.data.astype(np.float32, copy=False)
    if data32 is matrix.data or np.array_equal(data32, matrix.data):
        matrix.data = data32
    else:
        matrix.data = matrix.data.astype(np.float64, copy=False)
    matrix.indices = matrix.indices.astype(index_dtype, copy=False)
    matrix.indptr = matrix.indptr.astype(index_dtype, copy=False)
    if not matrix.has_sorted_indices:
        matrix.sort_indices()
    return matrix


class UserUserRecommender:
    """User-user Pearson CF over a sparse users × movies ratings matrix (implements ``Recommender``)."""

    def __init__(self, ratings: sp.csr_matrix, global_mean: float, user_bias: np.ndarray,
                 movie_bias: np.ndarray, config: UserUserConfig) -> None:
        self.config = config
        self.n_users, self.n_movies = ratings.shape
        if user_bias.shape != (self.n_users,) or movie_bias.shape != (self.n_movies,):
            raise ValueError(f"bias shapes {user_bias.shape}, {movie_bias.shape} do not match "
                             f"ratings {ratings.shape}")
        # float32 ratings (when exact) and int32 indices: half the memory of scipy's defaults
        self._csr = _compact(ratings.tocsr())
        self._csc = _compact(self._csr.tocsc())
        self.global_mean = float(global_mean)
        self.user_bias = np.asarray(user_bias, dtype=np.float64)
        self.movie_bias = np.asarray(movie_bias, dtype=np.float64)
        counts = np.diff(self._csr.indptr)
        sums = np.bincount(np.repeat(np.arange(self.n_users), counts), weights=self._csr.data,
                           minlength=self.n_users)
        self._user_centre = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        self._popularity = np.diff(self._csc.indptr).astype(np.float64)
        self._user_count = np.maximum(counts, 1).astype(np.float64)
        self._damping_cache: tuple[float, np.ndarray] | None = None

    # ---- construction and persistence -------------------------------------------------------
    @classmethod
    def fit(cls, user_idx: np.ndarray, movie_idx: np.ndarray, rating: np.ndarray, n_users: int,
            n_movies: int, config: UserUserConfig | None = None) -> UserUserRecommender:
        """Build the ratings matrix and fit the bias baseline; (user, movie) pairs must be unique."""
        config = config or UserUserConfig()
        user_idx = np.asarray(user_idx, dtype=np.int64)
        movie_idx = np.asarray(movie_idx, dtype=np.int64)
        rating = np.asarray(rating, dtype=np.float64)
        if not (user_idx.shape == movie_idx.shape == rating.shape) or rating.size == 0:
            raise ValueError("user_idx, movie_idx and rating must be non-empty and of equal length")
        if user_idx.min() < 0 or user_idx.max() >= n_users or movie_idx.min() < 0 \
                or movie_idx.max() >= n_movies:
            raise ValueError(f"indices out of range for n_users={n_users}, n_movies={n_movies}")
        pairs = np.sort(user_idx * n_movies + movie_idx)  # (np.unique's hashing is slow at 25M)
        if pairs.size > 1 and bool((pairs[1:] == pairs[:-1]).any()):
            raise ValueError("duplicate (user, movie) pairs in the ratings")
        ratings = sp.csr_matrix((rating, (user_idx, movie_idx)), shape=(n_users, n_movies))
        mu, b_u, b_i = fit_biases(user_idx, movie_idx, rating, n_users, n_movies,
                                  config.bias_reg_user, config.bias_reg_movie, config.bias_iters)
        return cls(ratings, mu, b_u, b_i, config)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the model, as plain arrays (for an ``.npz``, no pickle).

        The ratings arrays are the model's own (not copies, to spare memory at scale): read only.
        """
        return {
            "indptr": self._csr.indptr, "indices": self._csr.indices,  # shared, not copied: read-only use
            "data": self._csr.data, "shape": np.array([self.n_users, self.n_movies], np.int64),
            "global_mean": np.array([self.global_mean]), "user_bias": self.user_bias.copy(),
            "movie_bias": self.movie_bias.copy(),
            "bias_reg": np.array([self.config.bias_reg_user, self.config.bias_reg_movie]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], config: UserUserConfig) -> UserUserRecommender:
        """Inverse of :meth:`to_arrays`; ``config`` must carry the bias regularisation it was fit with."""
        bias_reg = np.asarray(arrays["bias_reg"], dtype=np.float64)
        if not np.allclose(bias_reg, [config.bias_reg_user, config.bias_reg_movie]):
            raise ValueError(f"model was fit with bias_reg_user/bias_reg_movie = {bias_reg.tolist()}, "
                             f"config has {[config.bias_reg_user, config.bias_reg_movie]}")
        n_users, n_movies = (int(v) for v in arrays["shape"])
        ratings = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                                shape=(n_users, n_movies))
        return cls(ratings, float(arrays["global_mean"][0]), arrays["user_bias"],
                   arrays["movie_bias"], config)

    @property
    def ratings(self) -> sp.csr_matrix:
        """The users × movies ratings (CSR; float32 when exact); shared with the model: do not modify."""
        return self._csr

    # ---- similarities -----------------------------------------------------------------------
    def similarities(self, profile: Profile, min_co_rated: int) -> tuple[np.ndarray, np.ndarray]:
        """Pearson correlation (NaN where undefined) and co-rated counts against every user.

        The profile's own user, if known, gets NaN so it is never its own neighbour.
        """
        movie_idx, rating = self._search_profile(profile)
        corr, n_co = pearson_against_all(self._csc.indptr, self._csc.indices, self._csc.data,
                                         self.n_users, movie_idx, rating, min_co_rated, self._user_centre)
        if profile.user_idx is not None:
            corr[profile.user_idx] = np.nan
        return corr, n_co

    def _search_profile(self, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """The profile's ratings the neighbour search reads: all, or the most extreme within the budget."""
        movie_idx, rating = profile.movie_idx, profile.rating
        lengths = self._csc.indptr[movie_idx + 1] - self._csc.indptr[movie_idx]
        if lengths.sum() <= self.config.max_query_entries:
            return movie_idx, rating
        extreme = np.argsort(-np.abs(rating - rating.mean()), kind="stable")
        keep = extreme[np.cumsum(lengths[extreme]) <= self.config.max_query_entries]
        keep = np.sort(keep if keep.size else extreme[:1])
        return movie_idx[keep], rating[keep]

    def _rating_weights(self, profile: Profile) -> np.ndarray:
        cfg = self.config
        corr, n_co = self.similarities(profile, cfg.min_co_rated)
        w = np.nan_to_num(corr, nan=0.0) * (n_co / (n_co + cfg.shrinkage) if cfg.shrinkage else 1.0)
        w[np.abs(w) <= cfg.min_similarity] = 0.0
        return w

    def _rank_settings(self, profile: Profile) -> tuple[int, float, float]:
        """(significance, activity power, popularity power) for this profile: light profiles keep
        the earlier ranking (light significance, no activity or popularity factor)."""
        cfg = self.config
        if profile.movie_idx.size < cfg.rank_light_profile:
            return cfg.rank_light_significance, 0.0, 0.0
        return cfg.rank_significance, float(cfg.rank_activity_power), float(cfg.rank_popularity_power)

    def rank_neighbours(self, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
        """The ranking path's neighbours (user indices, best first; ties to the lower index) and weights."""
        cfg = self.config
        significance, activity, _ = self._rank_settings(profile)
        corr, n_co = self.similarities(profile, cfg.rank_min_co_rated)
        w = np.nan_to_num(corr, nan=0.0) * (np.minimum(n_co, significance) / significance)
        candidates = np.flatnonzero(w > cfg.rank_min_similarity)
        if activity:  # x (co-rated / the neighbour's ratings)^a: neighbours the profile covers
            w[candidates] *= (n_co[candidates] / self._user_count[candidates]) ** activity
        k = cfg.rank_neighbours
        if candidates.size > k:  # keep the k best (and every tie of the k-th) before the stable sort
            kth = -np.partition(-w[candidates], k - 1)[k - 1]
            candidates = candidates[w[candidates] >= kth]
        order = np.argsort(-w[candidates], kind="stable")[:k]
        users = candidates[order]
        return users, w[users]

    def _popularity_damping(self, power: float) -> np.ndarray:
        """max(popularity, 1)^power per movie, kept for the last power asked."""
        cached = self._damping_cache
        if cached is None or cached[0] != power:
            cached = (power, np.maximum(self._popularity, 1.0) ** power)
            self._damping_cache = cached
        return cached[1]

    # ---- the Recommender protocol -----------------------------------------------------------
    def user_bias_of(self, profile: Profile) -> float:
        """Learned bias of a known user; folded in from the profile's ratings for a new one."""
        if profile.user_idx is not None:
            return float(self.user_bias[profile.user_idx])
        return fold_in_user_bias(profile.movie_idx, profile.rating.astype(np.float64),
                                 self.global_mean, self.movie_bias, self.config.bias_reg_user)

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings (unclipped): baseline + damped weighted deviations of the top neighbours."""
        cfg = self.config
        movie_idx = np.atleast_1d(np.asarray(movie_idx, dtype=np.int64))
        base = self.global_mean + self.user_bias_of(profile) + self.movie_bias[movie_idx]
        w = self._rating_weights(profile)
        pos, owner = gather_columns(self._csc.indptr, movie_idx)
        raters = self._csc.indices[pos]
        wr = w[raters]
        keep = wr != 0.0
        pos, owner, raters, wr = pos[keep], owner[keep], raters[keep], wr[keep]
        # the n_neighbours largest |w| per requested movie (stable: ties go to the lower user index)
        order = np.lexsort((-np.abs(wr), owner))
        grouped = owner[order]
        rank = np.arange(grouped.size) - np.searchsorted(grouped, grouped, side="left")
        sel = order[rank < cfg.n_neighbours]
        owner, raters, wr = owner[sel], raters[sel], wr[sel]
        dev = (self._csc.data[pos[sel]].astype(np.float64) - self.global_mean - self.user_bias[raters]
               - self.movie_bias[movie_idx[owner]])
        num = np.bincount(owner, weights=wr * dev, minlength=movie_idx.size)
        den = np.bincount(owner, weights=np.abs(wr), minlength=movie_idx.size) + cfg.damping
        with np.errstate(divide="ignore", invalid="ignore"):
            adjust = np.where(den > 0, num / den, 0.0)
        return base + adjust

    def rank_scores(self, profile: Profile) -> np.ndarray:
        """Neighbour support for every movie (divided by popularity^b); popularity when no
        neighbour qualifies (cold start)."""
        users, w = self.rank_neighbours(profile)
        if users.size == 0:
            return self._popularity.copy()
        pos, owner = gather_columns(self._csr.indptr, users)  # rows of a CSR: same layout
        movies = self._csr.indices[pos]
        weight = w[owner]
        value = self.config.rank_value
        if value == "rating":
            weight = weight * self._csr.data[pos].astype(np.float64)
        elif value == "deviation":
            raters = users[owner]
            weight = weight * (self._csr.data[pos].astype(np.float64) - self.global_mean - self.user_bias[raters]
                               - self.movie_bias[movies])
        scores = np.bincount(movies, weights=weight, minlength=self.n_movies)
        popularity_power = self._rank_settings(profile)[2]
        if popularity_power:
            return scores / self._popularity_damping(popularity_power)
        return scores

    def explain(self, profile: Profile, movie_idx: int) -> dict:
        """Why a movie was recommended: how many ranking neighbours rated it, and how."""
        return self.explain_many(profile, np.array([movie_idx]))[0]

    def explain_many(self, profile: Profile, movie_idx: np.ndarray) -> list[dict]:
        """:meth:`explain` for several movies, finding the neighbours once."""
        movie_idx = np.asarray(movie_idx, dtype=np.int64)
        users, _ = self.rank_neighbours(profile)
        predicted = self.predict(profile, movie_idx) if movie_idx.size else np.empty(0)
        out = []
        for movie, rating in zip(movie_idx.tolist(), predicted.tolist()):
            col = slice(self._csc.indptr[movie], self._csc.indptr[movie + 1])
            raters, ratings = self._csc.indices[col], self._csc.data[col].astype(np.float64)
            hit = np.isin(raters, users)
            n_rated = int(hit.sum())
            out.append({
                "movie_idx": movie,
                "n_neighbours": int(users.size),
                "n_neighbours_rated": n_rated,
                "mean_neighbour_rating": float(ratings[hit].mean()) if n_rated else None,
                "predicted_rating": float(rating),
            })
        return out
