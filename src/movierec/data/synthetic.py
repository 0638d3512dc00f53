"""Synthetic MovieLens-shaped ratings at any size, seeded, written like a real release.

Shape: a power-law (Zipf-like) movie popularity, a lognormal per-user activity (every user has
at least ``min_user_ratings``, as in MovieLens), unique (user, movie) pairs, half-star ratings.
Structure a model can learn: users belong to ``n_tastes`` taste groups, each a point in an
``n_factors``-dimensional latent space; a user's vector is their group's point plus noise. A
rating is ``mean + b_u + b_m + p_u·q_m + noise`` (clipped, rounded to half stars), and *which*
movies a user rates leans toward their taste: ``P(m | group g) ∝ popularity_m · exp(β q_m·c_g)``.

Everything is vectorised numpy, sampled in chunks of users (25M ratings in well under a minute,
a few hundred MB at a time). :func:`write_release` lays the frames out like ml-latest-small
(``ratings.csv``, ``movies.csv``) so :func:`movierec.data.readers.read_dataset` reads them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from movierec.config import RATING_MAX, RATING_MIN, SyntheticSpec

GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
log = logging.getLogger(__name__)
_CHUNK_RATINGS = 4_000_000  # ratings sampled per chunk of users (bounds the working memory)
_FIRST_TIMESTAMP, _LAST_TIMESTAMP = 789_652_009, 1_697_000_000  # 1995-01-09 .. 2023-10-11


@dataclass(frozen=True)
class SyntheticTruth:
    """The generating parameters, for tests that check a model can recover the structure."""

    user_factors: np.ndarray   # (n_users, n_factors)
    movie_factors: np.ndarray  # (n_movies, n_factors)
    user_group: np.ndarray     # (n_users,) taste group
    user_bias: np.ndarray
    movie_bias: np.ndarray
    popularity: np.ndarray     # (n_movies,) marginal sampling weight


def _user_counts(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: min + a lognormal share of the rest, capped, summing to n_ratings."""
    cap = max(1, int(spec.n_movies * spec.max_user_fraction))
    floor = min(spec.min_user_ratings, cap)
    weight = rng.lognormal(0.0, spec.activity_sigma, spec.n_users)
    counts = np.full(spec.n_users, floor, dtype=np.int64)
    remaining = spec.n_ratings - counts.sum()
    while remaining > 0:
        room = cap - counts
        share = np.where(room > 0, weight, 0.0)
        extra = np.minimum(np.floor(remaining * share / share.sum()).astype(np.int64), room)
        if extra.sum() == 0:  # the last few: one each to the heaviest users with room
            order = np.argsort(-share, kind="stable")[:remaining]
            extra = np.zeros_like(counts)
            extra[order[room[order] > 0]] = 1
        counts += extra
        remaining = spec.n_ratings - counts.sum()
    return counts


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its hashing path, which is slow here)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys


def _sample_movies(counts: np.ndarray, cdf: np.ndarray, n_movies: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Distinct movies per user (``counts[i]`` for user i), drawn from one popularity cdf.

    Draw with replacement (oversampled), drop repeats, top up the users still short; after
    three rounds the shortfall (heavy users deep in the popularity tail) is filled uniformly.
    Returns (local user index, movie index) pairs sorted by user.
    """
    n = counts.size
    keys = np.empty(0, dtype=np.int64)
    need = counts.copy()
    for round_ in range(10):
        users = np.flatnonzero(need > 0)
        if users.size == 0:
            break
        draws = np.ceil(need[users] * (1.25 if round_ < 3 else 2.0)).astype(np.int64) + 2
        owner = np.repeat(users.astype(np.int64), draws)
        if round_ < 3:
            movies = np.searchsorted(cdf, rng.random(owner.size) * cdf[-1], side="right")
            movies = np.minimum(movies, n_movies - 1)
        else:
            movies = rng.integers(0, n_movies, owner.size)
        keys = _distinct(np.concatenate([keys, owner * n_movies + movies]))
        need = counts - np.bincount(keys // n_movies, minlength=n)
    # keep a random `counts[u]` of each user's distinct movies (sort by user + a random fraction)
    user = keys // n_movies
    keys = keys[np.argsort(user + rng.random(keys.size), kind="stable")]
    user = keys // n_movies
    rank = np.arange(keys.size) - np.searchsorted(user, user, side="left")
    keys = np.sort(keys[rank < counts[user]])
    return keys // n_movies, keys % n_movies


def generate(n_users: int = 1_000, n_movies: int = 3_000, n_ratings: int = 100_000, seed: int = 0,
             n_factors: int = 8, return_truth: bool = False,
             **options) -> tuple[pd.DataFrame, pd.DataFrame] | tuple[pd.DataFrame, pd.DataFrame, SyntheticTruth]:
    """Seeded synthetic ratings and movies in MovieLens' raw columns.

    Returns ``(ratings, movies)``: ratings ``userId, movieId, rating, timestamp`` (ids from 1,
    ratings half stars in [0.5, 5]), movies ``movieId, title, genres`` (``"Synthetic Movie 12
    (1997)"``, ``"Comedy|Drama"``); with ``return_truth`` also the :class:`SyntheticTruth`.
    ``options`` are the other :class:`SyntheticSpec` fields.
    """
    spec = SyntheticSpec(n_users=n_users, n_movies=n_movies, n_ratings=n_ratings, seed=seed,
                         n_factors=n_factors, **options)
    return generate_spec(spec, return_truth)


def generate_spec(spec: SyntheticSpec, return_truth: bool = False):
    """:func:`generate` from a :class:`SyntheticSpec`."""
    rng = np.random.default_rng(spec.seed)
    k = spec.n_factors
    # movies: latent factors, Zipf popularity over a random order, a mild popular-is-better bias
    scale = np.sqrt(spec.latent_scale) / k ** 0.25  # so that std(p·q) ≈ latent_scale
    movie_f = rng.normal(0.0, scale, (spec.n_movies, k))
    rank = rng.permutation(spec.n_movies)
    popularity = (rank + 1.0) ** -spec.popularity_exponent
    movie_bias = rng.normal(0.0, 0.35, spec.n_movies) + 0.1 * (np.log(popularity) - np.log(popularity).mean()) \
        / max(np.log(popularity).std(), 1e-9)
    # users: taste groups (centres) plus individual noise; a lognormal activity
    centres = rng.normal(0.0, scale, (spec.n_tastes, k))
    group = rng.integers(0, spec.n_tastes, spec.n_users)
    user_f = centres[group] + rng.normal(0.0, scale * 0.5, (spec.n_users, k))
    user_bias = rng.normal(0.0, 0.35, spec.n_users)
    counts = _user_counts(spec, rng)
    # which movies: popularity tilted toward the group's taste, one cdf per group
    tilt = movie_f @ centres.T / (scale * scale * np.sqrt(k))  # (n_movies, n_tastes), ~N(0, 1)
    group_weight = popularity[:, None] * np.exp(spec.taste_strength * tilt)
    cdfs = np.cumsum(group_weight, axis=0).T  # (n_tastes, n_movies)

    users_parts, movies_parts = [], []
    for g in range(spec.n_tastes):
        members = np.flatnonzero(group == g)
        bounds = np.searchsorted(np.cumsum(counts[members]), np.arange(0, counts[members].sum(), _CHUNK_RATINGS)[1:])
        for chunk in np.split(members, bounds):
            if chunk.size:
                local, movies = _sample_movies(counts[chunk], cdfs[g], spec.n_movies, rng)
                users_parts.append(chunk[local].astype(np.int32))
                movies_parts.append(movies)
    log.info("synthetic: %d (user, movie) pairs drawn for %d users", sum(p.size for p in movies_parts), spec.n_users)
    pair = np.sort(np.concatenate(users_parts).astype(np.int64) * spec.n_movies + np.concatenate(movies_parts))
    user_idx, movie_idx = pair // spec.n_movies, pair % spec.n_movies
    del pair

    rating = np.empty(user_idx.size, dtype=np.float32)
    timestamp = np.empty(user_idx.size, dtype=np.int64)
    start = rng.integers(_FIRST_TIMESTAMP, _LAST_TIMESTAMP - 86_400, spec.n_users)
    span = np.minimum(rng.exponential(2.0e7, spec.n_users).astype(np.int64) + 3_600, _LAST_TIMESTAMP - start)
    for lo in range(0, user_idx.size, _CHUNK_RATINGS):
        u, m = user_idx[lo:lo + _CHUNK_RATINGS], movie_idx[lo:lo + _CHUNK_RATINGS]
        value = (spec.mean_rating + user_bias[u] + movie_bias[m] + np.einsum("ij,ij->i", user_f[u], movie_f[m])
                 + rng.normal(0.0, spec.noise, u.size))
        rating[lo:lo + u.size] = np.clip(np.round(value * 2.0) / 2.0, RATING_MIN, RATING_MAX)
        timestamp[lo:lo + u.size] = start[u] + (rng.random(u.size) * span[u]).astype(np.int64)
        log.info("synthetic: ratings %d/%d", lo + u.size, user_idx.size)

    ratings = pd.DataFrame({"userId": user_idx.astype(np.int64) + 1, "movieId": movie_idx.astype(np.int64) + 1,
                            "rating": rating, "timestamp": timestamp})
    movies = pd.DataFrame({"movieId": np.arange(1, spec.n_movies + 1, dtype=np.int64),
                           "title": _titles(spec.n_movies, rng), "genres": _genres(movie_f, rng)})
    if not return_truth:
        return ratings, movies
    truth = SyntheticTruth(user_f, movie_f, group, user_bias, movie_bias, popularity / popularity.sum())
    return ratings, movies, truth


def _titles(n_movies: int, rng: np.random.Generator) -> list[str]:
    years = np.clip(2024 - rng.exponential(18.0, n_movies).astype(int), 1915, 2023)
    return [f"Synthetic Movie {i} ({y})" for i, y in zip(range(1, n_movies + 1), years.tolist())]


def _genres(movie_f: np.ndarray, rng: np.random.Generator) -> list[str]:
    """1–3 genres per movie from its strongest latent factors (each factor owns some genres)."""
    k = movie_f.shape[1]
    owner = rng.permutation(len(GENRES)) % k  # genre -> the factor it follows
    by_factor = [[GENRES[g] for g in np.flatnonzero(owner == f)] or [GENRES[f % len(GENRES)]] for f in range(k)]
    n_genres = rng.integers(1, 4, movie_f.shape[0])
    strongest = np.argsort(-np.abs(movie_f), axis=1)
    pick = rng.integers(0, 1 << 30, movie_f.shape)
    out = []
    for row, n in enumerate(np.asarray(n_genres).tolist()):
        names = {by_factor[f][pick[row, j] % len(by_factor[f])] for j, f in enumerate(strongest[row, :n].tolist())}
        out.append("|".join(sorted(names)))
    return out


def write_release(ratings: pd.DataFrame, movies: pd.DataFrame, folder: str | Path) -> Path:
    """Write ``ratings.csv``/``movies.csv`` into ``folder`` (laid out like ml-latest-small)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("synthetic: writing %d ratings to %s", len(ratings), folder / "ratings.csv")
    table = pa.Table.from_pandas(ratings.astype({"rating": "float64"}), preserve_index=False)
    with open(folder / "ratings.csv", "wb") as fh:
        fh.write(b"userId,movieId,rating,timestamp\n")
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, batch_size=1 << 20))
    movies.to_csv(folder / "movies.csv", index=False)
    return folder


def spec_dict(spec: SyntheticSpec) -> dict:
    return asdict(spec)
