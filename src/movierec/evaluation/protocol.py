"""The evaluation protocol shared by every method: rating error and top-k on held-out ratings.

Candidates for a user are all movies the user has not rated in the profile (train); relevant
ones are the user's held-out movies rated at least ``relevance_threshold``. Ranking goes through
:func:`movierec.models.protocol.recommend` - the same call the service makes. Metric definitions, including
the beyond-accuracy ones (which need a :class:`MovieStats`), live in :mod:`movierec.evaluation.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from movierec.evaluation.metrics import (
    ACTIVITY_EDGES,
    beyond_accuracy_metrics,
    mae,
    ndcg_by_activity,
    ranking_metrics,
    rmse,
)
from movierec.models.protocol import Profile, Recommender, recommend


@dataclass(frozen=True)
class UserCase:
    """One evaluated user: what the method may see (profile) and what is held out (with each held-out
    rating's time, unix seconds, where the data has it)."""

    profile: Profile
    heldout_movie_idx: np.ndarray
    heldout_rating: np.ndarray
    heldout_timestamp: np.ndarray | None = None


def _grouped(frame: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """user_idx -> (movie_idx, rating, timestamp or None) arrays, ordered by movie."""
    ordered = frame.sort_values(["user_idx", "movie_idx"], kind="stable")
    users = ordered["user_idx"].to_numpy()
    movies = ordered["movie_idx"].to_numpy(np.int64)
    ratings = ordered["rating"].to_numpy(np.float32)
    stamps = ordered["timestamp"].to_numpy(np.int64) if "timestamp" in ordered else None
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    return {int(users[s]): (movies[s:e], ratings[s:e], None if stamps is None else stamps[s:e])
            for s, e in zip(starts, ends)}


def group_by_user(frame: pd.DataFrame) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """user_idx -> (movie_idx, rating) arrays."""
    return {user: (movies, ratings) for user, (movies, ratings, _) in _grouped(frame).items()}


def known_user_cases(train: pd.DataFrame, test: pd.DataFrame) -> Iterator[UserCase]:
    """Users seen in training: profile = their train ratings, held out = their test ratings."""
    profiles = group_by_user(train)
    for user, (movies, ratings, stamps) in _grouped(test).items():
        seen_movies, seen_ratings = profiles.get(user, (np.empty(0, np.int64), np.empty(0, np.float32)))
        yield UserCase(Profile(seen_movies, seen_ratings, user_idx=user), movies, ratings, stamps)


def heldout_cases(heldout: pd.DataFrame, profile_of: Callable[[int], Profile]) -> Iterator[UserCase]:
    """One case per user in `heldout` (keyed by user_id), the profile coming from `profile_of`."""
    frame = heldout.rename(columns={"user_idx": "_idx", "user_id": "user_idx"})
    for user_id, (movies, ratings, stamps) in _grouped(frame).items():
        yield UserCase(profile_of(user_id), movies, ratings, stamps)


@dataclass(frozen=True)
class MovieStats:
    """What beyond-accuracy metrics know about movies: train rating counts and genre sets."""

    n_ratings: np.ndarray
    genres: list[frozenset]
    n_users: int

    @classmethod
    def from_movie_table(cls, movies: pd.DataFrame, n_users: int) -> MovieStats:
        """From the processed/bundle movie table (one row per movie index, in index order)."""
        if not np.array_equal(movies["movie_idx"].to_numpy(), np.arange(len(movies))):
            raise ValueError("movie table rows must be in movie_idx order 0..n-1")
        return cls(movies["n_ratings"].to_numpy(np.int64), [frozenset(g) for g in movies["genres"]], int(n_users))


@dataclass(frozen=True)
class CaseResults:
    """What one method answered for each case: predicted held-out ratings and its top-k list."""

    predicted: list[np.ndarray]
    ranked: list[np.ndarray]


def predict_heldout(model: Recommender, case: UserCase) -> np.ndarray:
    """The case's held-out ratings as predicted: at their times for a method that takes them
    (``predict_at``, e.g. per-user-day biases), else by ``predict``."""
    predict_at = getattr(model, "predict_at", None)
    if case.heldout_timestamp is not None and predict_at is not None:
        return predict_at(case.profile, case.heldout_movie_idx, case.heldout_timestamp)
    return model.predict(case.profile, case.heldout_movie_idx)


def run_cases(model: Recommender, cases: list[UserCase], k: int) -> CaseResults:
    """Predict every held-out rating and rank the top k, through the service's ranking call."""
    return CaseResults([predict_heldout(model, c) for c in cases],
                       [recommend(model, c.profile, k).movie_idx for c in cases])


def score_cases(cases: list[UserCase], results: CaseResults, k: int, relevance_threshold: float, n_movies: int,
                catalogue: MovieStats | None = None,
                activity_edges: tuple[int, int] = ACTIVITY_EDGES) -> dict[str, float]:
    """Every metric of :mod:`movierec.evaluation.metrics` for one method's answers to `cases`."""
    pred = np.concatenate(results.predicted) if cases else np.empty(0)
    act = np.concatenate([c.heldout_rating for c in cases]) if cases else np.empty(0)
    relevant = [set(c.heldout_movie_idx[c.heldout_rating >= relevance_threshold].tolist()) for c in cases]
    result = {"rmse": rmse(pred, act), "mae": mae(pred, act)}
    result.update(ranking_metrics(results.ranked, relevant, k, n_movies))
    if catalogue is not None:
        result.update(beyond_accuracy_metrics(results.ranked, k, catalogue.n_ratings, catalogue.genres,
                                              catalogue.n_users))
    activity = [len(c.profile.movie_idx) for c in cases]
    result.update(ndcg_by_activity(results.ranked, relevant, activity, k, activity_edges))
    return result


def evaluate(model: Recommender, cases: list[UserCase], k: int = 10, relevance_threshold: float = 4.0,
             catalogue: MovieStats | None = None,
             activity_edges: tuple[int, int] = ACTIVITY_EDGES) -> dict[str, float]:
    """RMSE/MAE over every held-out rating, mean top-k metrics over users with a relevant item,
    NDCG by user activity, and (given the `catalogue`) popularity, novelty and genre diversity."""
    cases = list(cases)
    return score_cases(cases, run_cases(model, cases, k), k, relevance_threshold, model.n_movies, catalogue,
                       activity_edges)


def new_user_split(ratings: pd.DataFrame, user_fraction: float, n_reveal: int,
                   seed: int) -> tuple[pd.DataFrame, list[UserCase]]:
    """The cold-start protocol: hold out a seeded `user_fraction` of users entirely.

    Returns the ratings of the other users (to train on) and, for each held-out user with more
    than `n_reveal` ratings, a case whose profile is `n_reveal` seeded random ratings (no
    user_idx: the method must fold the user in) and whose held-out part is the rest.
    """
    rng = np.random.RandomState(seed)
    users = np.unique(ratings["user_idx"].to_numpy())
    cold = set(rng.permutation(users)[: int(round(len(users) * user_fraction))].tolist())
    is_cold = ratings["user_idx"].isin(cold).to_numpy()
    cases = []
    for _, (movies, values) in sorted(group_by_user(ratings[is_cold]).items()):
        if len(movies) <= n_reveal:
            continue
        order = rng.permutation(len(movies))
        shown, hidden = order[:n_reveal], order[n_reveal:]
        cases.append(UserCase(Profile(movies[shown], values[shown]), movies[hidden], values[hidden]))
    return ratings[~is_cold].reset_index(drop=True), cases
