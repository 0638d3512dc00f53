"""User-user hyper-parameters (Hydra keys ``user_user.*``), validated by the class itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RANK_VALUES = ("rating", "deviation", "one")
# what a saved config without the issue-15 ranking keys meant: the earlier ranking (no factors)
EARLIER_RANKING = {"rank_activity_power": 0.0, "rank_popularity_power": 0.0, "rank_light_profile": 0}


@dataclass
class UserUserConfig:
    """Hyper-parameters (Hydra keys ``user_user.*``); defaults chosen on validation, see benchmarks/.

    Rating path: ``n_neighbours``, ``min_co_rated``, ``shrinkage``, ``min_similarity`` (neighbours
    with |shrunk similarity| ≤ this are ignored), ``damping``. Bias baseline: ``bias_reg_user``,
    ``bias_reg_movie``, ``bias_iters``. Ranking path: ``rank_neighbours``, ``rank_min_co_rated``,
    ``rank_significance`` (S in min(n, S)/S), ``rank_min_similarity`` (Pearson x significance
    weights ≤ this are dropped), ``rank_activity_power`` (a: weights x (n / n_v)^a, n_v the
    neighbour's number of ratings, so that a neighbour whose ratings the profile covers counts
    more than a prolific one), ``rank_popularity_power`` (b: scores / max(popularity, 1)^b,
    popularity = the movie's number of training ratings), ``rank_value`` (what a neighbour votes
    with: ``rating``, ``deviation`` from its baseline, or ``one``). Light profiles (fewer than
    ``rank_light_profile`` ratings; 0: none) rank with ``rank_light_significance`` and neither
    the activity nor the popularity factor (a = b = 0): the factors help known users but cost new
    users with a handful of ratings. ``rank_significance=25, rank_activity_power=0,
    rank_popularity_power=0`` is the earlier ranking. ``max_query_entries`` caps one neighbour search's work: when the
    profile's movies hold more ratings than this (a heavy profile of popular movies on a large
    data set), the similarities use the profile's most extreme ratings (largest |r - mean|) whose
    columns fit the budget. It never binds on ml-latest-small (72K train ratings in all).
    """

    n_neighbours: int = 30
    min_co_rated: int = 2
    shrinkage: float = 25.0
    min_similarity: float = 0.0
    damping: float = 1.0
    bias_reg_user: float = 5.0
    bias_reg_movie: float = 5.0
    bias_iters: int = 10
    rank_neighbours: int = 100
    rank_min_co_rated: int = 5
    rank_significance: int = 50
    rank_min_similarity: float = 0.0
    rank_activity_power: float = 0.5
    rank_popularity_power: float = 0.15
    rank_light_profile: int = 15
    rank_light_significance: int = 25
    rank_value: str = "rating"
    max_query_entries: int = 500_000

    @classmethod
    def from_saved(cls, saved: dict) -> UserUserConfig:
        """A config saved by ``asdict``; one saved before the activity/popularity keys existed
        gets them switched off, so that it ranks as it did (its own ``rank_significance``)."""
        return cls(**{**EARLIER_RANKING, **saved})

    def __post_init__(self) -> None:
        for name in ("n_neighbours", "min_co_rated", "bias_iters", "rank_neighbours",
                     "rank_min_co_rated", "rank_significance", "rank_light_significance",
                     "max_query_entries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"UserUserConfig.{name} must be an integer >= 1, got {value!r}")
        value = self.rank_light_profile
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"UserUserConfig.rank_light_profile must be an integer >= 0, got {value!r}")
        for name in ("shrinkage", "damping", "bias_reg_user", "bias_reg_movie", "rank_activity_power",
                     "rank_popularity_power"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"UserUserConfig.{name} must be a finite number >= 0, got {value!r}")
        for name in ("min_similarity", "rank_min_similarity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not 0.0 <= value < 1.0:
                raise ValueError(f"UserUserConfig.{name} must lie in [0, 1), got {value!r}")
        if self.rank_value not in RANK_VALUES:
            raise ValueError(f"UserUserConfig.rank_value must be one of {RANK_VALUES}, "
                             f"got {self.rank_value!r}")
