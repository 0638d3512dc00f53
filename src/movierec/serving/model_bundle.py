"""The model bundle: everything the service needs, in one folder, loadable without unpickling.

    manifest.json     format version, sizes, the user-user config
    embedding/        the embedding method (HybridRecommender): head{i}.pt (EmbeddingNet weights +
                      plain hparams, torch.load weights_only=True), item-item weights (.npy, loaded
                      memory-mapped) and hybrid.json (blend weights)
    user_user.npz     user-user biases (plain arrays)
    ratings.npz       train ratings as CSR (known users' profiles; user-user neighbours)
    vocabulary.json   MovieLens ids <-> indices
    movies.parquet    movie table (title, genres, year, n_ratings)

:class:`ModelBundle` turns external ids into profiles and answers both methods through the one
ranking path (:func:`movierec.models.protocol.recommend`), filtered before the top-k cut
(:mod:`movierec.serving.movie_filter`) and explained (:mod:`movierec.serving.explanations`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.config import RATING_MAX, RATING_MIN, UserUserConfig
from movierec.data.vocabulary import Vocabularies
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Profile, Ranked, Recommender, recommend
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.explanations import EmbeddingExplainer, because_user_user
from movierec.serving.movie_filter import MovieAttributes, MovieFilter

# 2: embedding hparams carry l2/implicit_weight for the fold-in; 3: the embedding method is a
# HybridRecommender (rating heads + item-item ranking) in embedding/
FORMAT_VERSION = 3
METHODS = ("embedding", "user_user")
_RATINGS_KEYS = ("indptr", "indices", "data", "shape")


class UnknownUser(KeyError):
    """A user id the model was not trained on."""


@dataclass
class ModelBundle:
    vocab: Vocabularies
    movies: pd.DataFrame
    ratings: sp.csr_matrix
    embedding: HybridRecommender
    user_user: UserUserRecommender

    def __post_init__(self) -> None:
        self.popularity = PopularityRecommender(self.movies["n_ratings"].to_numpy(), np.zeros(len(self.movies)))
        self.attributes = MovieAttributes(self.movies)
        self.explainer = EmbeddingExplainer.build(self.embedding.movie_vectors(), self.movies["movie_id"],
                                                  self.movies["title"])

    # -- building and persistence -----------------------------------------------------------

    @classmethod
    def build(cls, vocab: Vocabularies, movies: pd.DataFrame, embedding: HybridRecommender,
              user_user: UserUserRecommender) -> ModelBundle:
        # the known users' profiles read the user-user model's own CSR (one copy in memory, not two)
        return cls(vocab, movies.reset_index(drop=True), user_user.ratings, embedding, user_user)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = self.user_user.to_arrays()
        # numpy's stubs do not type **arrays for savez
        np.savez(folder / "ratings.npz", **{k: arrays[k] for k in _RATINGS_KEYS})  # type: ignore[arg-type]
        user_user = {k: v for k, v in arrays.items() if k not in _RATINGS_KEYS}
        np.savez(folder / "user_user.npz", **user_user)  # type: ignore[arg-type]
        self.embedding.save(folder / "embedding")
        self.vocab.save(folder / "vocabulary.json")
        self.movies.to_parquet(folder / "movies.parquet", index=False)
        manifest = {"format_version": FORMAT_VERSION, "n_users": len(self.vocab.users),
                    "n_movies": len(self.vocab.movies), "user_user_config": asdict(self.user_user.config)}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"bundle {folder} has format {manifest.get('format_version')}, expected {FORMAT_VERSION}")
        with np.load(folder / "ratings.npz", allow_pickle=False) as r, \
                np.load(folder / "user_user.npz", allow_pickle=False) as u:
            arrays = {**{k: r[k] for k in r.files}, **{k: u[k] for k in u.files}}
        user_user = UserUserRecommender.from_arrays(arrays, UserUserConfig.from_saved(manifest["user_user_config"]))
        movies = pd.read_parquet(folder / "movies.parquet")
        movies["genres"] = [list(g) for g in movies["genres"]]
        return cls.build(Vocabularies.load(folder / "vocabulary.json"), movies,
                         HybridRecommender.load(folder / "embedding"), user_user)

    # -- ids -> profiles ---------------------------------------------------------------------

    def method(self, name: str) -> Recommender:
        if name == "embedding":
            return self.embedding
        if name == "user_user":
            return self.user_user
        raise ValueError(f"unknown method {name!r}; choose one of {list(METHODS)}")

    def profile_for_user(self, user_id: int) -> Profile:
        """A known user's profile: their train ratings."""
        idx = int(self.vocab.users.lookup([user_id])[0])
        if idx < 0:
            raise UnknownUser(user_id)
        start, end = self.ratings.indptr[idx], self.ratings.indptr[idx + 1]
        return Profile(self.ratings.indices[start:end], self.ratings.data[start:end], user_idx=idx)

    def profile_from_ratings(self, movie_ids, ratings) -> tuple[Profile, list[int]]:
        """A new user's profile from (MovieLens movie id, rating) pairs; unknown ids are returned.

        A movie given twice keeps its last rating.
        """
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float32)
        idx = self.vocab.movies.lookup(movie_ids)
        known = idx >= 0
        ignored = sorted(set(movie_ids[~known].tolist()))
        last = {int(i): float(r) for i, r in zip(idx[known], ratings[known])}
        order = sorted(last)
        return Profile(np.asarray(order, np.int64), np.asarray([last[i] for i in order], np.float32)), ignored

    def recommend(self, method: str, profile: Profile, k: int, allowed: np.ndarray | None = None,
                  movie_filter: MovieFilter | None = None) -> Ranked:
        """Top-k of `method`, among the movies `allowed` and passing `movie_filter` (both before the cut).

        An unknown genre in `movie_filter` raises :class:`~movierec.serving.movie_filter.UnknownGenre` (a ValueError).
        """
        mask = self.attributes.allowed(movie_filter)
        if allowed is not None:
            mask = np.asarray(allowed, bool) if mask is None else mask & np.asarray(allowed, bool)
        return recommend(self.method(method), profile, k, mask)

    def explain(self, method: str, profile: Profile, movie_idx) -> list[dict]:
        """One `{"code", "text", ...}` reason per movie (see :mod:`movierec.serving.explanations`)."""
        if method == "embedding":
            return self.explainer.explain(profile, movie_idx)
        if method == "user_user":
            return because_user_user(self.user_user, profile, movie_idx)
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")

    def predict(self, method: str, profile: Profile, movie_ids) -> tuple[np.ndarray, list[int]]:
        """Predicted ratings (clipped to [0.5, 5]) for known movie ids; unknown ids are returned."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        idx = self.vocab.movies.lookup(movie_ids)
        known = idx >= 0
        predicted = np.clip(self.method(method).predict(profile, idx[known]), RATING_MIN, RATING_MAX)
        return predicted, sorted(set(movie_ids[~known].tolist()))
