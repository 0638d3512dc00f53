"""The movie table as JSON-ready rows, a popularity-ordered title search, users' top-rated lists."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _year(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


class MovieCatalogue:
    """Read-only views of a bundle's movie table and train ratings, built once per loaded model."""

    def __init__(self, movies: pd.DataFrame, ratings) -> None:
        self.movie_id = movies["movie_id"].to_numpy(np.int64)
        self.n_ratings = movies["n_ratings"].to_numpy(np.int64)
        self._rows = [
            {"movie_id": int(mid), "title": str(title), "year": _year(year), "genres": [str(g) for g in genres]}
            for mid, title, year, genres in zip(movies["movie_id"], movies["title"], movies["year"],
                                                movies["genres"])
        ]
        self._lower = [str(row["title"]).casefold() for row in self._rows]
        # most rated first, ties to the lower movie id: the order search results come in
        self._by_popularity = np.lexsort((self.movie_id, -self.n_ratings))
        self._ratings = ratings

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, movie_idx: int) -> dict:
        """A fresh dict (callers add fields) with movie_id, title, year, genres."""
        return dict(self._rows[int(movie_idx)])

    def search(self, query: str, limit: int) -> list[dict]:
        """Titles containing `query` (case-insensitive), most rated first."""
        needle = query.casefold()
        found = []
        for idx in self._by_popularity:
            if needle in self._lower[idx]:
                found.append({**self._rows[idx], "n_ratings": int(self.n_ratings[idx])})
                if len(found) == limit:
                    break
        return found

    def top_rated(self, user_idx: int, limit: int) -> list[dict]:
        """A user's highest-rated train movies; ties to the more rated, then the lower movie id."""
        start, end = self._ratings.indptr[user_idx], self._ratings.indptr[user_idx + 1]
        movies = self._ratings.indices[start:end]
        ratings = self._ratings.data[start:end]
        order = np.lexsort((self.movie_id[movies], -self.n_ratings[movies], -ratings))[:limit]
        return [{**self._rows[movies[i]], "rating": float(ratings[i])} for i in order]
