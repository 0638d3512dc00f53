"""The processed data set: indexed train/test ratings, the movie table and the vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.data.split import split_ratings
from movierec.data.vocabulary import Vocabularies, Vocabulary

RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp", "user_idx", "movie_idx"]


@dataclass(frozen=True)
class ProcessedData:
    train: pd.DataFrame
    test: pd.DataFrame
    movies: pd.DataFrame
    vocab: Vocabularies

    @property
    def n_users(self) -> int:
        return len(self.vocab.users)

    @property
    def n_movies(self) -> int:
        return len(self.vocab.movies)


def add_indices(ratings: pd.DataFrame, vocab: Vocabularies) -> pd.DataFrame:
    out = ratings.copy()
    out["user_idx"] = vocab.users.index(out["user_id"].to_numpy())
    out["movie_idx"] = vocab.movies.index(out["movie_id"].to_numpy())
    return out[RATING_COLUMNS]


def movie_table(movies: pd.DataFrame, vocab: Vocabulary, train: pd.DataFrame) -> pd.DataFrame:
    """One row per vocabulary movie, in index order, with its train rating count."""
    table = movies.set_index("movie_id").reindex(vocab.ids)
    table.index.name = "movie_id"
    table = table.reset_index()
    table["movie_idx"] = np.arange(len(vocab), dtype=np.int64)
    table["title"] = table["title"].fillna("(unknown title)")
    table["genres"] = [g if isinstance(g, (list, np.ndarray)) else [] for g in table["genres"]]
    table["genres"] = [list(g) for g in table["genres"]]
    table["n_ratings"] = np.bincount(train["movie_idx"].to_numpy(), minlength=len(vocab)).astype(np.int64)
    return table[["movie_id", "movie_idx", "title", "genres", "year", "n_ratings"]]


def build_processed(ratings: pd.DataFrame, movies: pd.DataFrame, strategy, test_fraction: float,
                    seed: int, n_folds: int = 5, fold: int = 0) -> ProcessedData:
    """Split, then vocabularies over the train ratings, indexed train/test and the movie table."""
    train, test = split_ratings(ratings, strategy, test_fraction, seed, n_folds, fold)
    return index_split(train, test, movies)


def index_split(train: pd.DataFrame, test: pd.DataFrame, movies: pd.DataFrame) -> ProcessedData:
    """Vocabularies over `train`, then indexed train/test and the movie table.

    Every test user and movie must appear in train (see :mod:`movierec.data.split`).
    """
    vocab = Vocabularies(Vocabulary.from_ids(train["user_id"]), Vocabulary.from_ids(train["movie_id"]))
    train, test = add_indices(train, vocab), add_indices(test, vocab)
    return ProcessedData(train, test, movie_table(movies, vocab.movies, train), vocab)


def load_processed(folder: str | Path) -> ProcessedData:
    folder = Path(folder)
    missing = [f for f in ("train.parquet", "test.parquet", "movies.parquet", "vocabulary.json")
               if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {missing}; run `dvc repro reindex` first")
    movies = pd.read_parquet(folder / "movies.parquet")
    movies["genres"] = [list(g) for g in movies["genres"]]
    return ProcessedData(pd.read_parquet(folder / "train.parquet"), pd.read_parquet(folder / "test.parquet"),
                         movies, Vocabularies.load(folder / "vocabulary.json"))
