"""One trained rating head as numpy tables, and a new user's fold-in into it.

A known user's (p, b) are stored; a new user's are the ridge solution of the training objective's MSE
and l2 terms for that one user, the movie side frozen (no iterative fold-in), plus what the implicit
terms add from the set of movies they rated: |N|^-1/2 Σ y_j to the vector and, with implicit bias
terms, |N|^-1/2 Σ w_j to the bias. With a rating link (:mod:`movierec.models.embedding.link`) the
objective's MSE is on g(score): the ridge solution starts a few Gauss-Newton steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movierec.config import RATING_MAX, RATING_MIN, ModelConfig
from movierec.models.embedding.link import expected_clipped, expected_clipped_slope
from movierec.models.embedding.net import EmbeddingRecommender
from movierec.models.protocol import Profile

# a linked fold-in's Gauss-Newton steps: until no parameter moves by more than the tolerance, at most this many
# (typically 3-5; a few ratings all at the scale's ends converge more slowly, the steps overshooting)
LINK_FOLD_IN_MAX_STEPS, LINK_FOLD_IN_TOLERANCE = 30, 1e-7


@dataclass(frozen=True)
class FoldIn:
    """A new user's closed-form fold-in: its ridge on the vector p and on the bias b is the training
    l2 times these (chosen on validation new users, benchmarks/results/new_user_research.md)."""

    vector: float = 1.0
    bias: float = 1.0

    def __post_init__(self) -> None:
        if not (self.vector > 0 and self.bias > 0):
            raise ValueError(f"fold-in ridge scales must be > 0 (got vector {self.vector}, bias {self.bias})")

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> FoldIn:
        return cls(cfg.fold_in_scale, cfg.fold_in_bias_scale)


class RatingHead:
    """One embedding model as numpy tables (views of the net's weights; float32)."""

    def __init__(self, model: EmbeddingRecommender, ridge: FoldIn = FoldIn()) -> None:
        net = model.net
        self.model = model
        self.P = net.user.weight.detach().numpy()
        self.bu = net.user_bias.weight.detach().numpy()[:, 0]
        self.Q = net.movie.weight.detach().numpy()
        self.bm = net.movie_bias.weight.detach().numpy()[:, 0]
        self.proj = net.choice_proj.weight.detach().numpy()   # h = proj @ p
        self.cbias = net.choice_movie_bias.weight.detach().numpy()[:, 0]
        self.mu = float(net.global_mean)
        self.l2 = float(net.hp.l2)
        self.link_sigma = float(net.hp.link_sigma)            # 0: no rating link
        self.ridge = ridge  # the fold-in's ridge: the training l2, scaled
        self.Y = net.implicit_movie.detach().numpy()          # y_j of the implicit term (zeros: none)
        self.W = net.implicit_movie_bias.detach().numpy()     # w_j of the implicit bias term (zeros: none)

    def implicit_sum(self, movie_idx: np.ndarray) -> np.ndarray:
        """s = |N|^-1/2 Σ_{j ∈ N} y_j over the profile's movies N, what training added to a known
        user's own p (models/embedding/stacked.py)."""
        return (self.Y[movie_idx].astype(np.float64).sum(0) / np.sqrt(len(movie_idx)))

    def implicit_bias_sum(self, movie_idx: np.ndarray) -> float:
        """t = |N|^-1/2 Σ_{j ∈ N} w_j, what training added to a known user's own bias."""
        return float(self.W[movie_idx].astype(np.float64).sum() / np.sqrt(len(movie_idx)))

    def fold_in(self, movie_idx: np.ndarray, rating: np.ndarray) -> tuple[np.ndarray, float]:
        """A new user's vector and bias (p + s, b + t): s, t = :meth:`implicit_sum`,
        :meth:`implicit_bias_sum` of their movies and
        (p, b) = argmin  Σ_m (r_m − g(μ + b_m + b + t + (p + s)·q_m))² + n · l2 (v |p|² + w b²),
        l2 = the training l2, (v, w) = :class:`FoldIn`'s scales (1, 1: the training objective's terms),
        g the rating link (the identity without one).

        The training objective's MSE and l2 terms for this one user (the mean over their n ratings
        plus l2 (|p|² + b²), times n), the choice term left out: a ridge regression on [q_m, 1]; with a
        link, Gauss-Newton steps from that solution. No ratings: p = 0, b = 0."""
        n = len(movie_idx)
        dim = self.Q.shape[1]
        if n == 0:
            return np.zeros(dim, np.float32), 0.0
        movie_idx = np.asarray(movie_idx, dtype=np.int64)
        s, t = self.implicit_sum(movie_idx), self.implicit_bias_sum(movie_idx)
        A = np.empty((n, dim + 1), dtype=np.float64)
        A[:, :dim] = self.Q[movie_idx]
        A[:, dim] = 1.0
        r = np.asarray(rating, np.float64)
        y = r - self.mu - self.bm[movie_idx] - A[:, :dim] @ s - t  # the rating less the score's fixed part
        ridge = np.zeros(dim + 1)
        ridge[:dim], ridge[dim] = n * self.l2 * self.ridge.vector, n * self.l2 * self.ridge.bias
        gram = A.T @ A
        gram[np.diag_indices(dim + 1)] += ridge
        theta = np.linalg.solve(gram, A.T @ y)
        if self.link_sigma > 0:
            theta = self._linked_fold_in(A, r - y, r, ridge, theta)
        return (theta[:dim] + s).astype(np.float32), float(theta[dim] + t)

    def _linked_fold_in(self, A: np.ndarray, offset: np.ndarray, r: np.ndarray, ridge: np.ndarray,
                        theta: np.ndarray) -> np.ndarray:
        """Gauss-Newton on  Σ (r − g(offset + Aθ))² + Σ ridge θ²  from `theta`."""
        for _ in range(LINK_FOLD_IN_MAX_STEPS):
            score = offset + A @ theta
            residual = r - expected_clipped(score, self.link_sigma, RATING_MIN, RATING_MAX)
            J = A * expected_clipped_slope(score, self.link_sigma, RATING_MIN, RATING_MAX)[:, None]
            gram = J.T @ J
            gram[np.diag_indices(len(theta))] += ridge
            step = np.linalg.solve(gram, J.T @ residual - ridge * theta)
            theta = theta + step
            if np.abs(step).max() < LINK_FOLD_IN_TOLERANCE:
                break
        return theta

    def vector(self, profile: Profile) -> tuple[np.ndarray, float]:
        if profile.user_idx is not None:
            u = int(profile.user_idx)
            return self.P[u], float(self.bu[u])
        return self.fold_in(profile.movie_idx, profile.rating)

    def rating(self, p: np.ndarray, b: float) -> np.ndarray:
        """The head's score η of every movie (the served rating is g(η) with a link)."""
        return self.mu + b + self.bm + self.Q @ p

    def choice(self, p: np.ndarray) -> np.ndarray:
        return self.Q @ (self.proj @ p) + self.cbias
