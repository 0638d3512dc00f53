"""Embedding collaborative filtering: one set of user/movie embeddings, two heads.

* rating head  — biased matrix factorisation: r̂ = μ + b_u + b_m + p_u·q_m (trained with MSE);
* choice head  — which movies a user chooses to rate: s_um = (p_u W)·q_m + c_m, a softmax over
  all movies (trained with a rating-weighted, per-user averaged cross-entropy).

Ranking score = s_um + ``rank_rating_weight`` × r̂_um: the choice head finds movies the user is
likely to watch, the rating head prefers the ones they will like. A new user is folded in by
minimising the training objective for that one user with the movie side frozen. With a rating link
(``hp.link_sigma`` > 0, :mod:`movierec.models.embedding.link`) the rating head's score η is served as
g(η), the expected rating of a noisy score clipped to the scale; rankings use η (g is increasing).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from movierec.config import RATING_MAX, RATING_MIN
from movierec.models.embedding.link import expected_clipped_torch
from movierec.models.protocol import Profile

# 2: the implicit_movie buffer (y of the implicit term) is saved with the weights; 3: implicit_movie_bias too
SAVE_FORMAT = 3


@dataclass(frozen=True)
class EmbeddingHParams:
    """Plain-typed hyper-parameters saved beside the weights (safe for weights_only loading)."""

    n_users: int
    n_movies: int
    embedding_dim: int
    dropout: float
    global_mean: float
    rank_rating_weight: float = 1.0
    l2: float = 0.0               # the training regularisation, reused when folding in a user
    implicit_weight: float = 0.0  # the training weight of the choice loss, likewise
    link_sigma: float = 0.0       # > 0: ratings are served through the clipped-normal link with this sigma

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddingNet(nn.Module):
    """User/movie embeddings and biases with a rating head and a choice head."""

    global_mean: torch.Tensor  # a buffer (saved with the weights, not trained)
    # y_j of the SVD++-style implicit term (models/embedding/stacked.py), kept for folding in a new
    # user: their vector adds |N|^-1/2 Σ_{j ∈ N} y_j over the movies they rated (zeros: no term)
    implicit_movie: torch.Tensor
    # w_j of the implicit bias term: a new user's bias adds |N|^-1/2 Σ_{j ∈ N} w_j (zeros: no term)
    implicit_movie_bias: torch.Tensor

    def __init__(self, hp: EmbeddingHParams, seed: int = 0) -> None:
        super().__init__()
        self.hp = hp
        gen = torch.Generator().manual_seed(seed)
        dim = hp.embedding_dim
        self.user = nn.Embedding(hp.n_users, dim)
        self.movie = nn.Embedding(hp.n_movies, dim)
        self.user_bias = nn.Embedding(hp.n_users, 1)
        self.movie_bias = nn.Embedding(hp.n_movies, 1)
        self.choice_movie_bias = nn.Embedding(hp.n_movies, 1)
        self.choice_proj = nn.Linear(dim, dim, bias=False)
        with torch.no_grad():
            for table in (self.user, self.movie):
                table.weight.copy_(torch.randn(table.weight.shape, generator=gen) * 0.05)
            for table in (self.user_bias, self.movie_bias, self.choice_movie_bias):
                table.weight.zero_()
            self.choice_proj.weight.copy_(torch.eye(dim) + torch.randn(dim, dim, generator=gen) * 0.01)
        self.register_buffer("global_mean", torch.tensor(float(hp.global_mean)))
        self.register_buffer("implicit_movie", torch.zeros(hp.n_movies, dim))
        self.register_buffer("implicit_movie_bias", torch.zeros(hp.n_movies))
        self.dropout = nn.Dropout(hp.dropout)

    def implicit_sum(self, movie_idx: torch.Tensor) -> torch.Tensor:
        """|N|^-1/2 Σ_{j ∈ N} y_j over a user's rated movies N (zeros for no movies)."""
        if len(movie_idx) == 0:
            return torch.zeros(self.hp.embedding_dim)
        return self.implicit_movie[movie_idx].sum(0) / math.sqrt(len(movie_idx))

    def implicit_bias_sum(self, movie_idx: torch.Tensor) -> torch.Tensor:
        """|N|^-1/2 Σ_{j ∈ N} w_j over a user's rated movies N (0 for no movies)."""
        if len(movie_idx) == 0:
            return torch.tensor(0.0)
        return self.implicit_movie_bias[movie_idx].sum() / math.sqrt(len(movie_idx))

    def linked(self, score: torch.Tensor) -> torch.Tensor:
        """The rating served for rating-head scores η: g(η) with a link (``hp.link_sigma`` > 0), else η."""
        if self.hp.link_sigma <= 0:
            return score
        return expected_clipped_torch(score, torch.tensor(self.hp.link_sigma), RATING_MIN, RATING_MAX)

    def predict_pairs(self, user_idx: torch.Tensor, movie_idx: torch.Tensor) -> torch.Tensor:
        """Rating head for (user, movie) pairs; dropout on the embeddings while training."""
        p = self.dropout(self.user(user_idx))
        q = self.dropout(self.movie(movie_idx))
        return (self.global_mean + self.user_bias(user_idx).squeeze(-1)
                + self.movie_bias(movie_idx).squeeze(-1) + (p * q).sum(-1))

    def choice_logits(self, user_idx: torch.Tensor) -> torch.Tensor:
        """Choice head: logits over all movies for each user, shape (batch, n_movies)."""
        p = self.dropout(self.user(user_idx))
        return self.choice_proj(p) @ self.movie.weight.T + self.choice_movie_bias.weight.T

    def choice_loss(self, user_idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Mean over users of the cross-entropy of the choice softmax (over every movie) against
        each user's target distribution `weights` (batch, n_movies; rows sum to 1)."""
        log_p = torch.log_softmax(self.choice_logits(user_idx), dim=-1)
        return -(weights * log_p).sum(-1).mean()

    def sampled_choice_loss(self, user_idx: torch.Tensor, pos_row: torch.Tensor, pos_movie: torch.Tensor,
                            pos_weight: torch.Tensor, pos_log_q: torch.Tensor, neg_movie: torch.Tensor,
                            neg_log_q: torch.Tensor) -> torch.Tensor:
        """:meth:`choice_loss` with the softmax's normaliser estimated from sampled movies.

        User ``user_idx[pos_row[i]]`` chose ``pos_movie[i]`` with target weight ``pos_weight[i]``
        (each user's weights sum to 1). ``neg_movie`` are N draws with probabilities
        ``exp(neg_log_q)``, shared by all users; ``pos_log_q`` is each chosen movie's probability of
        being drawn. For chosen movie i the normaliser is its own term plus an importance-sampled
        estimate of all the others:  Z_i = exp(s_ui) + (1/N) Σ_{j: draw j ≠ i} exp(s_uj) / q_j,
        unbiased, and ≥ exp(s_ui), so each term of the loss is ≥ 0. (Leaving the chosen movie out
        of its own normaliser lets a movie the draws rarely contain be raised without bound.)
        Exact when the draws are every movie once with q = 1 / n_movies.
        """
        # index_select, and one lookup for chosen and drawn movies: one scatter-add per table in the
        # backward (faster than embedding lookups and h[pos_row]; docs/scaling.md)
        h = self.choice_proj(self.dropout(self.user.weight.index_select(0, user_idx)))
        n_pos = len(pos_movie)
        movies = torch.cat([pos_movie, neg_movie])
        vec = self.movie.weight.index_select(0, movies)
        bias = self.choice_movie_bias.weight.index_select(0, movies).squeeze(-1)
        pos = (h.index_select(0, pos_row) * vec[:n_pos]).sum(-1) + bias[:n_pos]
        neg = h @ vec[n_pos:].T + (bias[n_pos:] - neg_log_q)
        log_n = math.log(len(neg_movie))
        log_all = (torch.logsumexp(neg, dim=1) - log_n).index_select(0, pos_row)  # the estimate over every draw
        copies = torch.bincount(neg_movie, minlength=self.hp.n_movies)[pos_movie].to(pos.dtype)
        top = torch.maximum(pos, log_all)
        own = torch.exp(pos - top)
        drawn_own = torch.where(copies > 0, copies * torch.exp(pos - pos_log_q - log_n - top), 0.0)
        z = torch.maximum(own + torch.exp(log_all - top) - drawn_own, own)  # rounding can't go below own
        per_choice = pos_weight * (top + torch.log(z) - pos)
        return torch.zeros(len(user_idx), dtype=pos.dtype, device=pos.device).index_add_(0, pos_row,
                                                                                          per_choice).mean()

    # -- inference from an explicit user vector (known or folded-in) -------------------------

    def rating_from_vector(self, p: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.global_mean + b + self.movie_bias.weight.squeeze(-1) + self.movie.weight @ p

    def choice_from_vector(self, p: torch.Tensor) -> torch.Tensor:
        return self.movie.weight @ self.choice_proj(p) + self.choice_movie_bias.weight.squeeze(-1)


def fold_in(net: EmbeddingNet, movie_idx: np.ndarray, rating: np.ndarray,
            max_iter: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """A new user's (p, b): the training objective for that one user, movie side frozen.

    Minimises  mean_m (r_m − g(μ + b_m + b + t + (p + s)·q_m))²  +  w_c · CE(choice(p + s), ratings)
    +  l2 (|p|² + b²) with the model's own ``implicit_weight`` (w_c) and ``l2``; s, t = the implicit
    sums of the rated movies (:meth:`EmbeddingNet.implicit_sum`, :meth:`~EmbeddingNet.implicit_bias_sum`),
    g the rating link (the identity without one). Returns (p + s, b + t), the user's vector and bias.
    Without a link the objective is convex in (p, b) (least squares plus log-sum-exp of a linear map),
    so L-BFGS from zero finds the optimum; with one it is smooth but not convex in general, and L-BFGS
    finds a stationary point (the one the rating heads' Gauss-Newton fold-in finds, in the tests).
    With no ratings: p = 0, b = 0 (the ranking falls back to the movies' choice biases).
    """
    dim = net.hp.embedding_dim
    if len(movie_idx) == 0:
        return torch.zeros(dim), torch.tensor(0.0)
    idx = torch.as_tensor(np.asarray(movie_idx), dtype=torch.long)
    r = torch.as_tensor(np.asarray(rating), dtype=torch.float32)
    q_all = net.movie.weight.detach()
    q, bm = q_all[idx], net.movie_bias.weight.detach()[idx, 0]
    proj, choice_bias = net.choice_proj.weight.detach(), net.choice_movie_bias.weight.detach()[:, 0]
    weights = r / r.sum() if float(r.sum()) > 0 else torch.full_like(r, 1.0 / len(r))
    hp = net.hp
    implicit, implicit_bias = net.implicit_sum(idx).detach(), net.implicit_bias_sum(idx).detach()
    theta = torch.zeros(dim + 1, requires_grad=True)
    optimizer = torch.optim.LBFGS([theta], max_iter=max_iter, tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        p, b = theta[:dim] + implicit, theta[dim]
        mse = torch.mean((net.linked(net.global_mean + b + implicit_bias + bm + q @ p) - r) ** 2)
        loss = mse + hp.l2 * theta.pow(2).sum()
        if hp.implicit_weight > 0:
            log_p = torch.log_softmax(q_all @ (proj @ p) + choice_bias, dim=-1)
            loss = loss + hp.implicit_weight * -(weights * log_p[idx]).sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    theta = theta.detach()
    return theta[:dim] + implicit, theta[dim] + implicit_bias


class EmbeddingRecommender:
    """The trained net behind the :class:`~movierec.models.protocol.Recommender` protocol (CPU, eval)."""

    def __init__(self, net: EmbeddingNet) -> None:
        self.net = net.eval()
        self.n_movies = net.hp.n_movies
        # ranking, rating and explaining one new user each need the same fold-in: do it once
        self._fold_in = functools.lru_cache(maxsize=64)(self._fold_in_uncached)

    def _fold_in_uncached(self, movie_bytes: bytes, rating_bytes: bytes) -> tuple[torch.Tensor, torch.Tensor]:
        movies, ratings = np.frombuffer(movie_bytes, np.int64).copy(), np.frombuffer(rating_bytes, np.float32).copy()
        return fold_in(self.net, movies, ratings)

    def user_vector(self, profile: Profile) -> tuple[torch.Tensor, torch.Tensor]:
        if profile.user_idx is not None:
            u = int(profile.user_idx)
            return self.net.user.weight[u].detach(), self.net.user_bias.weight[u, 0].detach()
        return self._fold_in(profile.movie_idx.tobytes(), profile.rating.tobytes())

    @torch.no_grad()
    def predict_all(self, profile: Profile) -> np.ndarray:
        p, b = self.user_vector(profile)
        return self.net.linked(self.net.rating_from_vector(p, b)).numpy()

    @torch.no_grad()
    def rank_scores(self, profile: Profile) -> np.ndarray:
        p, b = self.user_vector(profile)
        rating = self.net.rating_from_vector(p, b)
        return (self.net.choice_from_vector(p) + self.net.hp.rank_rating_weight * rating).numpy()

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.predict_all(profile)[np.asarray(movie_idx, dtype=np.int64)]

    def movie_vectors(self) -> np.ndarray:
        return self.net.movie.weight.detach().numpy()

    # -- persistence: plain tensors + a JSON-able dict, loadable with weights_only=True -------

    def state(self) -> dict:
        return {"format": SAVE_FORMAT, "hparams": self.net.hp.to_dict(), "state_dict": self.net.state_dict()}

    def save(self, path) -> None:
        torch.save(self.state(), path)

    @classmethod
    def load(cls, path) -> EmbeddingRecommender:
        state = torch.load(path, map_location="cpu", weights_only=True)
        found = state.get("format", 1) if isinstance(state, dict) else "?"
        if found not in (1, 2, SAVE_FORMAT):
            raise ValueError(f"{path}: embedding model save format {found}, this version reads formats 1 to "
                             f"{SAVE_FORMAT}; retrain the model with this code (dvc repro)")
        net = EmbeddingNet(EmbeddingHParams(**state["hparams"]))
        weights = dict(state["state_dict"])
        # saved before the implicit terms / implicit biases existed: y = 0 / w = 0 is exactly the model it was
        weights.setdefault("implicit_movie", torch.zeros_like(net.implicit_movie))
        weights.setdefault("implicit_movie_bias", torch.zeros_like(net.implicit_movie_bias))
        net.load_state_dict(weights)
        return cls(net)
