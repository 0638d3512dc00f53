"""The embedding method as served: rating heads (embedding models) and a blended ranking.

* rating: the mean of ``n_heads`` :class:`EmbeddingRecommender` predictions (same architecture,
  init seeds ``seed + i × head_seed_offset``, all early-stopped on one validation carve);
* ranking: ``w_ii z(x·B) + w_c mean_h z(choice_h) + w_r mean_h z(rating_h)``, z = the per-user
  z-score over **all** movies (rated ones are excluded afterwards, by :func:`recommend`);
  B = tilted EASE^R (:mod:`movierec.models.item_item`) applied to the profile's own ratings;
* a known user: each head's stored (p, b); a new user: each head's (p, b) in closed form, the
  ridge solution of the MSE + l2 terms of the training objective (:mod:`.rating_head`);
* the served rating stretched about the training mean μ: μ + s (rating − μ), ``rating_stretch`` s
  chosen on validation (an average of heads is under-dispersed: regressing held-out ratings on it
  gives a slope above 1; docs/results.md); z-scored per user, the ranking's rating term is unchanged;
* with a rating link (heads trained with ``model.rating_link``, :mod:`.link`) the served rating is
  g(the stretched mean score), σ the heads' mean; the ranking uses the scores (g is increasing);
* optionally per-user-day biases (:mod:`movierec.models.embedding.day_bias`), added by
  :meth:`HybridRecommender.predict_at` when a known user's rating times are given (never to ranking:
  a constant per user and day).

Benchmarks behind the recipe: ``benchmarks/results/ranking_research.md`` (the "two heads" recipe).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from movierec.config import RATING_MAX, RATING_MIN, ModelConfig
from movierec.models.embedding.day_bias import DayBias
from movierec.models.embedding.link import expected_clipped
from movierec.models.embedding.net import EmbeddingRecommender
from movierec.models.embedding.rating_head import FoldIn, RatingHead
from movierec.models.item_item import ItemItemModel
from movierec.models.protocol import Profile

HYBRID_FILE = "hybrid.json"


def zscore(scores: np.ndarray) -> np.ndarray:
    """(s − mean) / std over all movies (float64); a constant vector becomes zeros."""
    s = np.asarray(scores, dtype=np.float64)
    centred = s - s.mean()
    sd = float(np.sqrt(np.mean(centred * centred)))
    return centred / sd if sd > 0 else centred


@dataclass(frozen=True)
class Blend:
    """Weights of the ranking score's z-scored components."""

    item_item: float = 1.0
    choice: float = 0.75
    rating: float = 0.5

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> Blend:
        return cls(cfg.blend_item_item, cfg.blend_choice, cfg.blend_rating)


class HybridRecommender:
    """Rating heads + tilted EASE^R behind the :class:`~movierec.models.protocol.Recommender` protocol."""

    def __init__(self, heads: Sequence[EmbeddingRecommender], item_item: ItemItemModel | None,
                 blend: Blend = Blend(), day_bias: DayBias | None = None, fold_in: FoldIn = FoldIn(),
                 rating_stretch: float = 1.0) -> None:
        if not heads:
            raise ValueError("a hybrid recommender needs at least one rating head")
        if not rating_stretch > 0:
            raise ValueError(f"rating_stretch must be > 0 (got {rating_stretch})")
        n_movies = {h.n_movies for h in heads} | ({item_item.n_movies} if item_item is not None else set())
        if len(n_movies) != 1:
            raise ValueError(f"heads and item-item model disagree on the number of movies: {sorted(n_movies)}")
        self.heads = list(heads)
        self.item_item = item_item
        self.blend = blend
        self.day_bias = day_bias
        self.fold_in = fold_in
        self.rating_stretch = float(rating_stretch)
        self.n_movies = heads[0].n_movies
        self._tables = [RatingHead(h, fold_in) for h in self.heads]
        sigmas = {t.link_sigma > 0 for t in self._tables}
        if len(sigmas) != 1:
            raise ValueError("some rating heads have a rating link and some have none")
        self.link_sigma = float(np.mean([t.link_sigma for t in self._tables]))  # 0: no link
        self._folded = functools.lru_cache(maxsize=64)(self._fold_in_uncached)

    @classmethod
    def single(cls, model: EmbeddingRecommender) -> HybridRecommender:
        """One head, no item-item: z(choice) + rank_rating_weight × z(rating), close to the model's own
        ranking (choice + rank_rating_weight × rating) — a model trained or built on its own, served."""
        return cls([model], None, Blend(item_item=0.0, choice=1.0, rating=model.net.hp.rank_rating_weight))

    @property
    def training_mean(self) -> float:
        """μ, the training ratings' mean (every head's), about which the served rating is stretched."""
        return self._tables[0].mu

    def with_fold_in(self, fold_in: FoldIn) -> HybridRecommender:
        """The same trained model with other fold-in ridge scales (the heads are shared)."""
        return HybridRecommender(self.heads, self.item_item, self.blend, self.day_bias, fold_in, self.rating_stretch)

    def with_rating_stretch(self, stretch: float) -> HybridRecommender:
        """The same trained model with another rating stretch (the heads are shared)."""
        return HybridRecommender(self.heads, self.item_item, self.blend, self.day_bias, self.fold_in, stretch)

    def _vectors(self, profile: Profile) -> list[tuple[np.ndarray, float]]:
        """Each head's (p, b); a new user's fold-in is cached by their ratings (a request ranks and then
        predicts the same profile; the arrays are shared, never written to)."""
        if profile.user_idx is not None:
            return [t.vector(profile) for t in self._tables]
        return self._folded(profile.movie_idx.tobytes(), profile.rating.tobytes())

    def _fold_in_uncached(self, movie_bytes: bytes, rating_bytes: bytes) -> list[tuple[np.ndarray, float]]:
        movies, ratings = np.frombuffer(movie_bytes, np.int64), np.frombuffer(rating_bytes, np.float32)
        return [t.fold_in(movies, ratings) for t in self._tables]

    def _scores(self, profile: Profile) -> np.ndarray:
        """μ + s (the mean of the heads' scores − μ) for every movie: the served rating before the link."""
        vectors = self._vectors(profile)
        mean = np.mean([t.rating(p, b) for t, (p, b) in zip(self._tables, vectors)], axis=0)
        if self.rating_stretch == 1.0:
            return mean
        return self.training_mean + self.rating_stretch * (mean - self.training_mean)

    def _linked(self, score: np.ndarray) -> np.ndarray:
        if self.link_sigma <= 0:
            return score
        return expected_clipped(score, self.link_sigma, RATING_MIN, RATING_MAX)

    def predict_all(self, profile: Profile) -> np.ndarray:
        """The served rating of every movie: μ + s (the mean of the heads' scores − μ), through the
        rating link when the heads have one."""
        return self._linked(self._scores(profile))

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.predict_all(profile)[np.asarray(movie_idx, dtype=np.int64)]

    def predict_at(self, profile: Profile, movie_idx: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
        """:meth:`predict` for ratings made at `timestamp` (unix seconds, one per movie): a known user's
        per-user-day bias of that day added to the score, stretched like the rest of it (0 for a day not
        in training, and for new users)."""
        if self.day_bias is None or profile.user_idx is None:
            return self.predict(profile, movie_idx)
        score = self._scores(profile)[np.asarray(movie_idx, dtype=np.int64)]
        return self._linked(score + self.rating_stretch * self.day_bias.offsets(int(profile.user_idx), timestamp))

    def rank_scores(self, profile: Profile) -> np.ndarray:
        vectors = self._vectors(profile)
        blend = self.blend
        score = np.zeros(self.n_movies, dtype=np.float64)
        if self.item_item is not None and blend.item_item:
            score += blend.item_item * zscore(self.item_item.scores(profile.movie_idx, profile.rating))
        if blend.choice:
            score += blend.choice * np.mean([zscore(t.choice(p)) for t, (p, _) in zip(self._tables, vectors)], axis=0)
        if blend.rating:
            score += blend.rating * np.mean([zscore(t.rating(p, b)) for t, (p, b) in zip(self._tables, vectors)],
                                            axis=0)
        return score

    def movie_vectors(self) -> np.ndarray:
        """The first head's movie embeddings (what explanations compare)."""
        return self.heads[0].movie_vectors()

    # -- persistence: head{i}.pt (weights_only), item-item arrays, hybrid.json ---------------

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for i, head in enumerate(self.heads):
            head.save(folder / f"head{i}.pt")
        if self.item_item is not None:
            self.item_item.save(folder)
        if self.day_bias is not None:
            self.day_bias.save(folder)
        meta = {"n_heads": len(self.heads), "item_item": self.item_item is not None, "blend": asdict(self.blend),
                "day_bias": self.day_bias is not None, "fold_in": asdict(self.fold_in),
                "rating_stretch": self.rating_stretch}
        (folder / HYBRID_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> HybridRecommender:
        folder = Path(folder)
        meta = json.loads((folder / HYBRID_FILE).read_text())
        heads = [EmbeddingRecommender.load(folder / f"head{i}.pt") for i in range(int(meta["n_heads"]))]
        item_item = ItemItemModel.load(folder) if meta["item_item"] else None
        day_bias = DayBias.load(folder) if meta.get("day_bias") else None
        # absent entries: saved before day biases / fold-in scales (1, 1: the training l2 as it was) /
        # the rating stretch (1: none)
        return cls(heads, item_item, Blend(**meta["blend"]), day_bias, FoldIn(**meta.get("fold_in", {})),
                   float(meta.get("rating_stretch", 1.0)))

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / HYBRID_FILE).is_file()
