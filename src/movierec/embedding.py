"""Embedding collaborative filtering: one set of user/movie embeddings, two heads.

* rating head  — biased matrix factorisation: r̂ = μ + b_u + b_m + p_u·q_m (trained with MSE);
* choice head  — which movies a user chooses to rate: s_um = (p_u W)·q_m + c_m, a softmax over
  all movies (trained with a rating-weighted, per-user averaged cross-entropy).

Ranking score = s_um + ``rank_rating_weight`` × r̂_um: the choice head finds movies the user is
likely to watch, the rating head prefers the ones they will like. A new user is folded in by
solving for (p, b) in closed form (ridge) with the movie side frozen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from movierec.ranking import Profile


@dataclass(frozen=True)
class EmbeddingHParams:
    """Plain-typed hyper-parameters saved beside the weights (safe for weights_only loading)."""

    n_users: int
    n_movies: int
    embedding_dim: int
    dropout: float
    global_mean: float
    rank_rating_weight: float = 1.0
    fold_in_l2: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddingNet(nn.Module):
    """User/movie embeddings and biases with a rating head and a choice head."""

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
        self.dropout = nn.Dropout(hp.dropout)

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

    # -- inference from an explicit user vector (known or folded-in) -------------------------

    def rating_from_vector(self, p: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.global_mean + b + self.movie_bias.weight.squeeze(-1) + self.movie.weight @ p

    def choice_from_vector(self, p: torch.Tensor) -> torch.Tensor:
        return self.movie.weight @ self.choice_proj(p) + self.choice_movie_bias.weight.squeeze(-1)


def fold_in(net: EmbeddingNet, movie_idx: np.ndarray, rating: np.ndarray, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form ridge estimate of a new user's (p, b) with every movie parameter frozen.

    Minimises Σ_m (r_m − μ − b_m − b − p·q_m)² + l2 (|p|² + b²). With no ratings: p = 0, b = 0.
    """
    with torch.no_grad():
        dim = net.hp.embedding_dim
        if len(movie_idx) == 0:
            return torch.zeros(dim), torch.tensor(0.0)
        idx = torch.as_tensor(movie_idx, dtype=torch.long)
        q = net.movie.weight[idx].double()
        x = torch.cat([q, torch.ones(len(idx), 1, dtype=torch.float64)], dim=1)
        y = (torch.as_tensor(rating, dtype=torch.float64) - net.global_mean.double()
             - net.movie_bias.weight[idx].squeeze(-1).double())
        theta = torch.linalg.solve(x.T @ x + l2 * torch.eye(dim + 1, dtype=torch.float64), x.T @ y)
        return theta[:dim].float(), theta[dim].float()


class EmbeddingRecommender:
    """The trained net behind the :class:`~movierec.ranking.Recommender` protocol (CPU, eval)."""

    def __init__(self, net: EmbeddingNet) -> None:
        self.net = net.eval()
        self.n_movies = net.hp.n_movies

    def user_vector(self, profile: Profile) -> tuple[torch.Tensor, torch.Tensor]:
        if profile.user_idx is not None:
            u = int(profile.user_idx)
            return self.net.user.weight[u].detach(), self.net.user_bias.weight[u, 0].detach()
        return fold_in(self.net, profile.movie_idx, profile.rating, self.net.hp.fold_in_l2)

    @torch.no_grad()
    def predict_all(self, profile: Profile) -> np.ndarray:
        p, b = self.user_vector(profile)
        return self.net.rating_from_vector(p, b).numpy()

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
        return {"hparams": self.net.hp.to_dict(), "state_dict": self.net.state_dict()}

    def save(self, path) -> None:
        torch.save(self.state(), path)

    @classmethod
    def load(cls, path) -> "EmbeddingRecommender":
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = EmbeddingNet(EmbeddingHParams(**state["hparams"]))
        net.load_state_dict(state["state_dict"])
        return cls(net)
