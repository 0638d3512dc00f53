"""Drop rarely rated movies, then users left with too few ratings."""

from __future__ import annotations

import pandas as pd


def counts(ratings: pd.DataFrame) -> dict[str, int]:
    return {
        "ratings": int(len(ratings)),
        "users": int(ratings["user_id"].nunique()),
        "movies": int(ratings["movie_id"].nunique()),
    }


def filter_ratings(ratings: pd.DataFrame, min_movie_ratings: int, min_user_ratings: int = 1) -> pd.DataFrame:
    """Keep movies with at least `min_movie_ratings` ratings, then users with at least
    `min_user_ratings` of the remaining ratings (one pass each, in that order)."""
    if min_movie_ratings < 1 or min_user_ratings < 1:
        raise ValueError("min_movie_ratings and min_user_ratings must be >= 1")
    per_movie = ratings.groupby("movie_id")["movie_id"].transform("size")
    kept = ratings[per_movie >= min_movie_ratings]
    per_user = kept.groupby("user_id")["user_id"].transform("size")
    return kept[per_user >= min_user_ratings].reset_index(drop=True)


def filter_report(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Counts before/after, for `dvc metrics show`."""
    return {"before": counts(before), "after": counts(after)}
