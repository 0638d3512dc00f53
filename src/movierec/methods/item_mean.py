"""`item_mean`: damped item means - a strong non-personalised baseline with real rating predictions.

Rating = mu + b_movie + b_user: b_movie = sum(r - mu) / (n_movie + movie_damping) over the movie's
training ratings, b_user = sum(r - mu - b_movie) / (n_user + user_damping) over the profile's ratings
(so known and new users are scored alike, from their ratings). Ranking = a lower confidence bound of
the movie's damped mean: mu + b_movie - rank_confidence x s_movie / sqrt(n_movie + movie_damping), with
s_movie the movie's rating spread damped towards the overall one: well-liked and well-attested first.
Config section: ``item_mean`` (conf/item_mean/damped.yaml).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.methods.contract import FitContext, Method, TrainingData
from movierec.models.protocol import Profile

ARRAYS = "item_mean.npz"
CONFIG = "config.json"


@dataclass
class ItemMeanConfig:
    movie_damping: float = 10.0   # pseudo-ratings of the overall mean added to every movie
    user_damping: float = 5.0     # pseudo-ratings of no offset added to every user
    rank_confidence: float = 1.0  # standard errors subtracted from the damped mean to rank (0: the mean)

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"item_mean.{name} must be a finite number >= 0, got {value!r}")


class ItemMeanMethod(Method):
    name = "item_mean"
    label = "Damped item mean"
    description = "Movies rated highly by many people, the same for everyone; ratings = mean + offsets"
    config_class = ItemMeanConfig
    reasons = {"well_rated": "`n_users` people rated it, `mean_rating` on average"}

    def __init__(self, mu: float, movie_offset: np.ndarray, rank_score: np.ndarray, counts: np.ndarray,
                 means: np.ndarray, config: ItemMeanConfig) -> None:
        self.mu, self.config = float(mu), config
        self.movie_offset = np.asarray(movie_offset, np.float64)
        self.rank_score = np.asarray(rank_score, np.float64)
        self.counts = np.asarray(counts, np.int64)
        self.means = np.asarray(means, np.float64)
        self.n_movies = int(self.movie_offset.size)

    @classmethod
    def fit(cls, data: TrainingData, config: ItemMeanConfig, context: FitContext) -> ItemMeanMethod:
        _, movie, rating = data.columns()
        rating = rating.astype(np.float64)
        mu = float(rating.mean()) if rating.size else 0.0
        counts = np.bincount(movie, minlength=data.n_movies)
        sums = np.bincount(movie, weights=rating, minlength=data.n_movies)
        squares = np.bincount(movie, weights=rating ** 2, minlength=data.n_movies)
        offset = (sums - counts * mu) / (counts + config.movie_damping)
        damped_n = counts + max(config.movie_damping, 1e-9)
        mean = np.divide(sums, counts, out=np.full(data.n_movies, mu), where=counts > 0)
        spread = np.maximum(squares - counts * mean ** 2, 0.0)  # the movie's own sum of squared deviations
        overall = float(rating.var()) if rating.size else 0.0
        std = np.sqrt((spread + config.movie_damping * overall) / damped_n)
        rank = mu + offset - config.rank_confidence * std / np.sqrt(damped_n)
        return cls(mu, offset, rank, counts, mean, config)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / ARRAYS, mu=np.array([self.mu]), movie_offset=self.movie_offset,
                 rank_score=self.rank_score, counts=self.counts, means=self.means)
        (folder / CONFIG).write_text(json.dumps(asdict(self.config), indent=2))

    @classmethod
    def load(cls, folder: Path) -> ItemMeanMethod:
        folder = Path(folder)
        config = ItemMeanConfig(**json.loads((folder / CONFIG).read_text()))
        with np.load(folder / ARRAYS, allow_pickle=False) as a:
            return cls(float(a["mu"][0]), a["movie_offset"], a["rank_score"], a["counts"], a["means"], config)

    def user_offset(self, profile: Profile) -> float:
        residual = profile.rating.astype(np.float64) - self.mu - self.movie_offset[profile.movie_idx]
        return float(residual.sum() / (residual.size + self.config.user_damping)) if residual.size else 0.0

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.rank_score.copy()

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(movie_idx, dtype=np.int64)
        return self.mu + self.movie_offset[idx] + self.user_offset(profile)

    def explain(self, profile: Profile, movie_idx: np.ndarray, movies: pd.DataFrame) -> list[dict]:
        idx = np.asarray(movie_idx, dtype=np.int64)
        return [{"code": "well_rated", "text": f"{n} people rated it, {m:.1f} on average" if n else
                 "nobody has rated it yet", "n_users": int(n), "mean_rating": round(float(m), 2) if n else None}
                for n, m in zip(self.counts[idx], self.means[idx])]


METHOD = ItemMeanMethod
