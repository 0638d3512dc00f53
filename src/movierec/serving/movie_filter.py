"""Movie filters (genres, years, popularity floor) as a boolean mask for the ranking's ``allowed``.

Filters are applied *before* the top-k cut (:func:`movierec.models.protocol.top_k`), so a filtered list
still holds ``k`` movies whenever ``k`` movies pass. :class:`MovieAttributes` indexes a movie
table once (a boolean genre matrix, years, rating counts); :meth:`MovieAttributes.allowed` then
answers any :class:`MovieFilter` with a few vectorised operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class UnknownGenre(ValueError):
    """A filter names a genre the catalogue does not have; the message names the field."""


@dataclass(frozen=True)
class MovieFilter:
    """Which movies may be recommended; the default lets every movie through.

    ``genres``: keep a movie with *any* of these; ``exclude_genres``: drop a movie with any of
    these; ``year_min``/``year_max``: inclusive release-year bounds (a movie of unknown year
    fails either); ``min_ratings``: keep a movie with at least this many train ratings.
    Genre names are checked against a catalogue by :meth:`MovieAttributes.allowed`.
    """

    genres: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    min_ratings: int = 0

    def __post_init__(self) -> None:
        for name in ("genres", "exclude_genres"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(g, str) for g in value):
                raise ValueError(f"{name}: must be a list of genre names, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        for name in ("year_min", "year_max", "min_ratings"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ValueError(f"{name}: must be an integer, got {value!r}")
        if self.min_ratings is None or self.min_ratings < 0:
            raise ValueError(f"min_ratings: must be >= 0, got {self.min_ratings!r}")
        if self.year_min is not None and self.year_max is not None and self.year_min > self.year_max:
            raise ValueError(f"year_min: must be <= year_max, got {self.year_min} > {self.year_max}")

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every movie through."""
        return self == MovieFilter()


class MovieAttributes:
    """A movie table indexed for filtering: built once per model, queried per request."""

    def __init__(self, movies: pd.DataFrame) -> None:
        genre_lists = [list(g) for g in movies["genres"]]
        self.genres: tuple[str, ...] = tuple(sorted({str(g) for gs in genre_lists for g in gs}))
        column = {g: j for j, g in enumerate(self.genres)}
        rows = np.repeat(np.arange(len(genre_lists)), [len(gs) for gs in genre_lists])
        cols = np.fromiter((column[str(g)] for gs in genre_lists for g in gs), np.int64, count=rows.size)
        self.genre_matrix = np.zeros((len(genre_lists), len(self.genres)), dtype=bool)
        self.genre_matrix[rows, cols] = True
        self.year = pd.array(movies["year"], dtype="Int64").to_numpy(dtype=np.float64, na_value=np.nan)
        self.n_ratings = movies["n_ratings"].to_numpy(np.int64)
        self._by_folded = {g.casefold(): j for j, g in enumerate(self.genres)}

    def __len__(self) -> int:
        return self.genre_matrix.shape[0]

    def genre_columns(self, names, field: str) -> np.ndarray:
        """Columns of the named genres (case-insensitive); an unknown one raises :class:`UnknownGenre`."""
        columns = []
        for name in names:
            j = self._by_folded.get(str(name).casefold())
            if j is None:
                raise UnknownGenre(f"{field}: unknown genre {name!r}; known genres: {', '.join(self.genres)}")
            columns.append(j)
        return np.asarray(columns, dtype=np.int64)

    def allowed(self, movie_filter: MovieFilter | None) -> np.ndarray | None:
        """Boolean mask of the movies that pass, or None when the filter lets everything through."""
        if movie_filter is None or movie_filter.is_empty:
            return None
        include = self.genre_columns(movie_filter.genres, "genres")
        exclude = self.genre_columns(movie_filter.exclude_genres, "exclude_genres")
        mask = np.ones(len(self), dtype=bool)
        if include.size:
            mask &= self.genre_matrix[:, include].any(axis=1)
        if exclude.size:
            mask &= ~self.genre_matrix[:, exclude].any(axis=1)
        with np.errstate(invalid="ignore"):  # NaN (unknown year) compares False: it fails a year bound
            if movie_filter.year_min is not None:
                mask &= self.year >= movie_filter.year_min
            if movie_filter.year_max is not None:
                mask &= self.year <= movie_filter.year_max
        if movie_filter.min_ratings:
            mask &= self.n_ratings >= movie_filter.min_ratings
        return mask

    def genre_counts(self) -> dict[str, int]:
        """How many movies carry each genre, in genre-name order."""
        return dict(zip(self.genres, self.genre_matrix.sum(axis=0).tolist()))


def allowed_mask(movies: pd.DataFrame, movie_filter: MovieFilter | None) -> np.ndarray:
    """The movies of `movies` that pass `movie_filter`, as a boolean array (all True if none given).

    Indexes the table on every call; a model keeps one :class:`MovieAttributes` instead.
    """
    mask = MovieAttributes(movies).allowed(movie_filter)
    return np.ones(len(movies), dtype=bool) if mask is None else mask
