"""Readers for the MovieLens release formats, all returning the same two tables.

ratings: ``user_id`` (int64), ``movie_id`` (int64), ``rating`` (float32), ``timestamp`` (int64)
movies:  ``movie_id`` (int64), ``title`` (str, year removed), ``genres`` (list of str), ``year`` (Int64, nullable)

Cleaning rules (applied by :func:`clean_ratings`, logged): a duplicated (user, movie) pair keeps
its latest rating; ratings of movies missing from the movie table are dropped. Missing columns,
non-numeric values and ratings outside [0.5, 5] are errors that name the file.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from movierec.config import PREDEFINED_FOLDS, RATING_MAX, RATING_MIN, RatingsFormat
from movierec.data.release import DatasetError

log = logging.getLogger(__name__)

RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
U_ITEM_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
]
_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$")
NO_GENRES = "(no genres listed)"


def split_title_year(raw_title: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); titles without a year keep their text."""
    text = str(raw_title).strip()
    match = _YEAR.match(text)
    if match is None:
        return text, None
    return match.group("title"), int(match.group("year"))


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetError(f"expected file {path} is missing; re-run the download stage")
    return path


def _row_text(frame: pd.DataFrame, row: int) -> list[str]:
    return [str(v) for v in frame.iloc[row].tolist()]


def _numeric_ratings(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in RATING_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    out = pd.DataFrame({c: pd.to_numeric(frame[c], errors="coerce") for c in RATING_COLUMNS})
    bad = out.isna().any(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(
            f"{path}: {int(bad.sum())} row(s) with missing or non-numeric values "
            f"(first at data row {first + 1}: {_row_text(frame, first)})"
        )
    fractional = (out[["user_id", "movie_id", "timestamp"]] % 1 != 0).any(axis=1)
    if fractional.any():
        first = int(np.flatnonzero(fractional.to_numpy())[0])
        raise DatasetError(f"{path}: {int(fractional.sum())} row(s) with a fractional user id, movie id or "
                           f"timestamp (first at data row {first + 1}: {_row_text(frame, first)})")
    out_of_range = ~out["rating"].between(RATING_MIN, RATING_MAX)
    if out_of_range.any():
        raise DatasetError(
            f"{path}: {int(out_of_range.sum())} rating(s) outside [{RATING_MIN}, {RATING_MAX}] "
            f"(e.g. {out.loc[out_of_range, 'rating'].iloc[0]})"
        )
    return out.astype({"user_id": "int64", "movie_id": "int64", "rating": "float32", "timestamp": "int64"})


def _movies_table(movie_id, raw_title, genres: list[list[str]]) -> pd.DataFrame:
    titles, years = zip(*(split_title_year(t) for t in raw_title)) if len(raw_title) else ((), ())
    return pd.DataFrame({
        "movie_id": np.asarray(movie_id, dtype=np.int64),
        "title": list(titles),
        "genres": genres,
        "year": pd.array(list(years), dtype="Int64"),
    })


def _read_csv(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings_path, movies_path = _require(folder / "ratings.csv"), _require(folder / "movies.csv")
    try:  # typed, multi-threaded parse (25M rows: seconds, not minutes); bad cells are checked below
        raw = pd.read_csv(ratings_path, engine="pyarrow")
    except (ValueError, pa.ArrowException):  # ragged rows etc.: the string parse names the problem
        try:
            raw = pd.read_csv(ratings_path, dtype=str)
        except pd.errors.ParserError as exc:
            raise DatasetError(f"{ratings_path}: not a well-formed CSV ({exc})".strip()) from exc
    raw = raw.rename(columns={"userId": "user_id", "movieId": "movie_id"})
    movies = pd.read_csv(movies_path, dtype=str, keep_default_na=False)
    if not {"movieId", "title", "genres"} <= set(movies.columns):
        raise DatasetError(f"{movies_path}: expected columns movieId,title,genres; found {list(movies.columns)}")
    genres = [[] if g in ("", NO_GENRES) else g.split("|") for g in movies["genres"]]
    return _numeric_ratings(raw, ratings_path), _movies_table(
        pd.to_numeric(movies["movieId"]), movies["title"].tolist(), genres)


def _read_dat(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    ratings_path, movies_path = _require(folder / "ratings.dat"), _require(folder / "movies.dat")
    raw = pd.read_csv(ratings_path, sep="::", engine="python", header=None, dtype=str,
                      names=RATING_COLUMNS, encoding="latin-1")
    movies = pd.read_csv(movies_path, sep="::", engine="python", header=None, dtype=str,
                         names=["movie_id", "title", "genres"], encoding="latin-1", keep_default_na=False)
    genres = [[] if g in ("", NO_GENRES) else g.split("|") for g in movies["genres"]]
    return _numeric_ratings(raw, ratings_path), _movies_table(
        pd.to_numeric(movies["movie_id"]), movies["title"].tolist(), genres)


def _read_u_ratings(path: Path) -> pd.DataFrame:
    """u.data and the u1..u5/ua/ub .base/.test files: user, movie, rating, timestamp; tab-separated."""
    raw = pd.read_csv(_require(path), sep="\t", header=None, dtype=str, names=RATING_COLUMNS)
    return _numeric_ratings(raw, path)


def _read_u_item(folder: Path) -> pd.DataFrame:
    movies_path = _require(folder / "u.item")
    columns = ["movie_id", "title", "release_date", "video_release_date", "imdb_url", *U_ITEM_GENRES]
    movies = pd.read_csv(movies_path, sep="|", header=None, dtype=str, names=columns,
                         encoding="latin-1", keep_default_na=False)
    flags = movies[U_ITEM_GENRES].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy(bool)
    genres = [[g for g, on in zip(U_ITEM_GENRES, row) if on and g != "unknown"] for row in flags]
    return _movies_table(pd.to_numeric(movies["movie_id"]), movies["title"].tolist(), genres)


def _read_u_data(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _read_u_ratings(folder / "u.data"), _read_u_item(folder)


def read_predefined_split(folder: Path, fold: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """ml-100k's published split `fold` (u1..u5, ua, ub): ``(base, test, movies)``, each cleaned
    by the rules of :func:`clean_ratings` and otherwise as published (no filter)."""
    if fold not in PREDEFINED_FOLDS:
        raise DatasetError(f"unknown predefined fold {fold!r}; choose one of {list(PREDEFINED_FOLDS)}")
    folder = Path(folder)
    movies = _read_u_item(folder)
    base = clean_ratings(_read_u_ratings(folder / f"{fold}.base"), movies)
    test = clean_ratings(_read_u_ratings(folder / f"{fold}.test"), movies)
    return base, test, movies


READERS = {RatingsFormat.csv: _read_csv, RatingsFormat.dat: _read_dat, RatingsFormat.u_data: _read_u_data}


def clean_ratings(ratings: pd.DataFrame, movies: pd.DataFrame) -> pd.DataFrame:
    """Apply the documented cleaning rules (see module docstring)."""
    before = len(ratings)
    ratings = (ratings.sort_values(["user_id", "movie_id", "timestamp"], kind="stable")
               .drop_duplicates(["user_id", "movie_id"], keep="last"))
    if len(ratings) < before:
        log.warning("dropped %d duplicated (user, movie) rating(s), keeping the latest", before - len(ratings))
    known = ratings["movie_id"].isin(movies["movie_id"])
    if not known.all():
        log.warning("dropped %d rating(s) of movies missing from the movie table", int((~known).sum()))
        ratings = ratings[known]
    return ratings.reset_index(drop=True)


def read_dataset(folder: Path, fmt: RatingsFormat | str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and clean one extracted MovieLens release: ``(ratings, movies)``."""
    reader = READERS[RatingsFormat(fmt)]
    ratings, movies = reader(Path(folder))
    if movies["movie_id"].duplicated().any():
        raise DatasetError(f"{folder}: duplicated movie ids in the movie table")
    return clean_ratings(ratings, movies), movies
