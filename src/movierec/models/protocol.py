"""The one ranking code path: a user's profile in, top-k movie indices out.

Evaluation and the service both call :func:`recommend`, so what is measured is what is served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Profile:
    """What a recommender knows about one user.

    ``movie_idx``/``rating`` are the user's known ratings (contiguous movie indices).
    ``user_idx`` is set for a user seen in training and ``None`` for a new user, whose
    representation is inferred from the ratings alone (fold-in, no retraining).
    """

    movie_idx: np.ndarray
    rating: np.ndarray
    user_idx: int | None = None

    def __post_init__(self) -> None:
        movie_idx = np.asarray(self.movie_idx, dtype=np.int64)
        rating = np.asarray(self.rating, dtype=np.float32)
        if movie_idx.shape != rating.shape or movie_idx.ndim != 1:
            raise ValueError(
                f"profile movie_idx {movie_idx.shape} and rating {rating.shape} must be 1-d and equal"
            )
        object.__setattr__(self, "movie_idx", movie_idx)
        object.__setattr__(self, "rating", rating)


class Recommender(Protocol):
    """What every method offers: a ranking score for all movies and rating predictions."""

    n_movies: int

    def rank_scores(self, profile: Profile) -> np.ndarray:
        """Score every movie (shape ``(n_movies,)``); higher ranks first."""

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings (unclipped) of the given movies for this user."""


@dataclass(frozen=True)
class Ranked:
    """Top-k result: movie indices in rank order and their ranking scores."""

    movie_idx: np.ndarray
    score: np.ndarray
    n_candidates: int = field(default=0)


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None,
          allowed: np.ndarray | None = None) -> Ranked:
    """Indices of the ``k`` highest scores, never an excluded one.

    Exclusion and filtering happen *before* the cut, so the result holds exactly
    ``min(k, n_candidates)`` items. Ties break towards the lower index (stable).

    Args:
        scores: ``(n_movies,)`` ranking scores.
        k: how many to return (≥ 1).
        exclude: movie indices never to return (e.g. the user's rated movies).
        allowed: optional boolean mask ``(n_movies,)`` of movies that pass filters.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores = np.asarray(scores, dtype=np.float64)
    candidate = np.isfinite(scores) if allowed is None else (np.asarray(allowed, bool) & np.isfinite(scores))
    if exclude is not None and len(exclude):
        candidate = candidate.copy()
        candidate[np.asarray(exclude, dtype=np.int64)] = False
    idx = np.flatnonzero(candidate)
    n = idx.size
    if n > k:
        cand_scores = scores[idx]
        part = np.argpartition(-cand_scores, k - 1)[:k]
        # keep every item tied with the k-th score so the stable sort below decides ties by index
        kth = cand_scores[part].min()
        idx = idx[cand_scores >= kth]
    order = np.lexsort((idx, -scores[idx]))[:k]
    chosen = idx[order]
    return Ranked(movie_idx=chosen, score=scores[chosen], n_candidates=n)


def recommend(model: Recommender, profile: Profile, k: int,
              allowed: np.ndarray | None = None) -> Ranked:
    """Top-k movies for ``profile`` from ``model``, never one the profile already rated."""
    return top_k(model.rank_scores(profile), k, exclude=profile.movie_idx, allowed=allowed)
