"""The model bundle: everything the service needs, in one folder, loadable without unpickling.

    manifest.json     format version, the methods (in configured order), sizes
    <method>/         one folder per method, written by its own ``save`` (movierec.methods)
    ratings.npz       train ratings as CSR (known users' profiles; in memory, the same arrays as a
                      method holding this matrix, e.g. user_user: one copy per process)
    vocabulary.json   MovieLens ids <-> indices
    movies.parquet    movie table (title, genres, year, n_ratings)

:class:`ModelBundle` turns external ids into profiles and answers every method through the one
ranking path (:func:`movierec.models.protocol.recommend`), filtered before the top-k cut
(:mod:`movierec.serving.movie_filter`) and explained by the method itself.

Format 3 (before methods had one folder each: embedding/, user_user.npz, the user-user config in the
manifest) still loads, as its two methods; any other format is refused naming it and what to do.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.config import RATING_MAX, RATING_MIN, UserUserConfig
from movierec.data.vocabulary import Vocabularies
from movierec.methods import Method, method_class
from movierec.methods.contract import TRAINING_RECORD
from movierec.methods.user_user import UserUserMethod
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Profile, Ranked, recommend
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.movie_filter import MovieAttributes, MovieFilter

if TYPE_CHECKING:  # the embedding method loads torch: imported where it is used, not to assemble a bundle
    from movierec.models.embedding.hybrid import HybridRecommender

# 2: embedding hparams carry l2/implicit_weight for the fold-in; 3: the embedding method is a
# HybridRecommender (rating heads + item-item ranking) in embedding/; 4: one folder per method, listed
FORMAT_VERSION = 4
LEGACY_FORMAT = 3  # still loaded: embedding/ + user_user.npz
_RATINGS_KEYS = ("indptr", "indices", "data", "shape")


class UnknownUser(KeyError):
    """A user id the model was not trained on."""


class UnknownMethodRequest(ValueError):
    """A method this bundle does not hold."""


class BundleFormatError(ValueError):
    """A bundle written in a format this code cannot read."""


def save_ratings(path: Path, ratings: sp.csr_matrix) -> None:
    np.savez(path, indptr=ratings.indptr, indices=ratings.indices, data=ratings.data,
             shape=np.array(ratings.shape, np.int64))


def load_ratings(path: Path) -> tuple[sp.csr_matrix, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as r:
        arrays = {k: r[k] for k in r.files}
    shape = tuple(int(v) for v in arrays["shape"])
    return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape), arrays


def write_bundle_files(folder: Path, vocab: Vocabularies, movies: pd.DataFrame, ratings: sp.csr_matrix,
                       methods: list[str]) -> None:
    """Everything of a bundle but the methods' folders: ratings, vocabulary, movie table, manifest."""
    save_ratings(folder / "ratings.npz", ratings)
    vocab.save(folder / "vocabulary.json")
    movies.reset_index(drop=True).to_parquet(folder / "movies.parquet", index=False)
    manifest = {"format_version": FORMAT_VERSION, "methods": methods,
                "n_users": len(vocab.users), "n_movies": len(vocab.movies)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def assemble_bundle(folder: str | Path, vocab: Vocabularies, movies: pd.DataFrame, ratings: sp.csr_matrix,
                    trained: dict[str, Path]) -> None:
    """Write a bundle from the methods' trained folders (``{name: folder}``, in order), copied as their
    training wrote them: nothing is loaded or written again (the same files as loading each method and
    saving the bundle, without the cost). A training stage's own record (run.json) is left out."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in trained.items():
        if not Path(source).is_dir():
            raise FileNotFoundError(f"{source} is missing: method {name!r} has not been trained (run train@{name})")
        shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns(TRAINING_RECORD))
    write_bundle_files(folder, vocab, movies, sp.csr_matrix(ratings), list(trained))


def same_matrix(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    """Identical CSR storage: shape, and indptr, indices and data with their dtypes."""
    return a.shape == b.shape and all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in
                                      ((a.indptr, b.indptr), (a.indices, b.indices), (a.data, b.data)))


def shared_ratings(ratings: sp.csr_matrix, methods: Iterable[Method]) -> sp.csr_matrix:
    """`ratings`, or the identical matrix a method already holds (one copy per process, not two)."""
    for method in methods:
        own = method.train_ratings()
        if own is not None and (own is ratings or same_matrix(own, ratings)):
            return own
    return ratings


@dataclass
class ModelBundle:
    vocab: Vocabularies
    movies: pd.DataFrame
    ratings: sp.csr_matrix
    methods: dict[str, Method]

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("a model bundle needs at least one method")
        self.popularity = PopularityRecommender(self.movies["n_ratings"].to_numpy(), np.zeros(len(self.movies)))
        self.attributes = MovieAttributes(self.movies)

    # -- building and persistence -----------------------------------------------------------

    @classmethod
    def build(cls, vocab: Vocabularies, movies: pd.DataFrame, ratings: sp.csr_matrix,
              methods: dict[str, Method]) -> ModelBundle:
        """`ratings` are the known users' profiles; a method holding the same matrix lends its own."""
        return cls(vocab, movies.reset_index(drop=True), shared_ratings(sp.csr_matrix(ratings), methods.values()),
                   dict(methods))

    @classmethod
    def from_models(cls, vocab: Vocabularies, movies: pd.DataFrame, embedding: HybridRecommender,
                    user_user: UserUserRecommender) -> ModelBundle:
        """The two original methods from their models (the known users' profiles: user-user's CSR)."""
        from movierec.methods.embedding import EmbeddingMethod

        return cls(vocab, movies.reset_index(drop=True), user_user.ratings,
                   {"embedding": EmbeddingMethod(embedding), "user_user": UserUserMethod(user_user)})

    @property
    def method_names(self) -> list[str]:
        return list(self.methods)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, method in self.methods.items():
            method.save(folder / name)
        write_bundle_files(folder, self.vocab, self.movies, self.ratings, list(self.methods))

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        version = manifest.get("format_version")
        if version not in (FORMAT_VERSION, LEGACY_FORMAT):
            raise BundleFormatError(
                f"bundle {folder} has format version {version}; this code reads versions {LEGACY_FORMAT} and "
                f"{FORMAT_VERSION}: rebuild it with this code (`dvc repro`, or `make run`) and register it again")
        ratings, arrays = load_ratings(folder / "ratings.npz")
        if version == LEGACY_FORMAT:
            methods = cls._legacy_methods(folder, manifest, arrays)
        else:
            methods = {name: method_class(name).load(folder / name) for name in manifest["methods"]}
        movies = pd.read_parquet(folder / "movies.parquet")
        movies["genres"] = [list(g) for g in movies["genres"]]
        return cls.build(Vocabularies.load(folder / "vocabulary.json"), movies, ratings, methods)

    @staticmethod
    def _legacy_methods(folder: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> dict[str, Method]:
        with np.load(folder / "user_user.npz", allow_pickle=False) as u:
            arrays = {**arrays, **{k: u[k] for k in u.files}}
        from movierec.methods.embedding import EmbeddingMethod
        from movierec.models.embedding.hybrid import HybridRecommender

        user_user = UserUserRecommender.from_arrays(arrays, UserUserConfig.from_saved(manifest["user_user_config"]))
        return {"embedding": EmbeddingMethod(HybridRecommender.load(folder / "embedding")),
                "user_user": UserUserMethod(user_user)}

    # -- ids -> profiles ---------------------------------------------------------------------

    def method(self, name: str) -> Method:
        try:
            return self.methods[name]
        except KeyError:
            raise UnknownMethodRequest(f"method: this model holds {self.method_names}, not {name!r}") from None

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
        """One `{"code", "text", ...}` reason per movie, from the method itself."""
        return self.method(method).explain(profile, np.asarray(movie_idx, np.int64), self.movies)

    def predict(self, method: str, profile: Profile, movie_ids) -> tuple[np.ndarray, list[int]]:
        """Predicted ratings (clipped to [0.5, 5]) for known movie ids; unknown ids are returned."""
        movie_ids = np.asarray(movie_ids, dtype=np.int64)
        idx = self.vocab.movies.lookup(movie_ids)
        known = idx >= 0
        predicted = np.clip(self.method(method).predict(profile, idx[known]), RATING_MIN, RATING_MAX)
        return predicted, sorted(set(movie_ids[~known].tolist()))
