"""User-user Pearson CF: similarities against pandas, both paths against slow references."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from movierec.config import UserUserConfig
from movierec.models.protocol import Profile, recommend
from movierec.models.user_user.baseline import fold_in_user_bias
from movierec.models.user_user.model import UserUserRecommender


def random_ratings(rng: np.random.Generator, n_users: int = 40, n_movies: int = 50,
                   density: float = 0.45, halves: bool = False) -> pd.DataFrame:
    """Low-rank-ish ratings in [0.5, 5]; continuous unless ``halves`` (then MovieLens steps)."""
    taste = rng.normal(size=(n_users, 2)) @ rng.normal(size=(2, n_movies))
    rating = np.clip(3.0 + taste + rng.normal(scale=0.5, size=taste.shape), 0.5, 5.0)
    if halves:
        rating = np.round(rating * 2) / 2
    rating = rating.astype(np.float32).astype(np.float64)  # what a Profile (float32) can carry
    user, movie = np.nonzero(rng.random((n_users, n_movies)) < density)
    return pd.DataFrame({"user": user, "movie": movie, "rating": rating[user, movie]})


def fit(df: pd.DataFrame, config: UserUserConfig | None = None, n_users: int | None = None,
        n_movies: int | None = None) -> UserUserRecommender:
    return UserUserRecommender.fit(df["user"].to_numpy(), df["movie"].to_numpy(), df["rating"].to_numpy(),
                                   n_users or int(df["user"].max()) + 1,
                                   n_movies or int(df["movie"].max()) + 1, config)


def profile_of(df: pd.DataFrame, user: int, known: bool = True) -> Profile:
    rows = df[df["user"] == user]
    return Profile(rows["movie"].to_numpy(), rows["rating"].to_numpy(), user if known else None)


def pair_pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Textbook Pearson of two equally long vectors; None for zero variance."""
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt((da * da).sum() * (db * db).sum())
    return None if denom == 0 else float((da * db).sum() / denom)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize("halves", [True, False])
@pytest.mark.parametrize("min_periods", [2, 5])
def test_similarities_equal_pandas_corr(rng, halves, min_periods):
    df = random_ratings(rng, n_users=30, n_movies=25, density=0.4, halves=halves)
    model = fit(df)
    expected = df.pivot(index="movie", columns="user", values="rating").corr(min_periods=min_periods)
    assert expected.notna().to_numpy().sum() > 200  # the comparison covers many defined pairs
    for user in expected.columns:
        corr, n_co = model.similarities(profile_of(df, user, known=False), min_periods)
        want = expected[user].reindex(range(model.n_users)).to_numpy()
        np.testing.assert_array_equal(np.isnan(corr), np.isnan(want))
        np.testing.assert_allclose(corr[~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=1e-9)
    # a known user is never their own neighbour
    corr, _ = model.similarities(profile_of(df, 3), min_periods)
    assert np.isnan(corr[3])


def reference_rank(df: pd.DataFrame, user: int, cfg: UserUserConfig, n_movies: int, k: int = 10):
    """Neighbour-support top-k by loops: positive Pearson x significance x (n / n_v)^a, the best
    neighbours vote, totals divided by max(popularity, 1)^b; light profiles: light S, a = b = 0."""
    by_user = {u: dict(zip(g["movie"], g["rating"])) for u, g in df.groupby("user")}
    popularity = df.groupby("movie").size().to_dict()
    mine = by_user[user]
    if len(mine) < cfg.rank_light_profile:
        significance, activity, damping = cfg.rank_light_significance, 0.0, 0.0
    else:
        significance, activity, damping = cfg.rank_significance, cfg.rank_activity_power, cfg.rank_popularity_power
    weighted = []
    for v, theirs in by_user.items():
        common = sorted(set(mine) & set(theirs))
        if v == user or len(common) < cfg.rank_min_co_rated:
            continue
        r = pair_pearson(np.array([mine[m] for m in common]), np.array([theirs[m] for m in common]))
        w = None if r is None else r * min(len(common), significance) / significance
        if w is not None and w > cfg.rank_min_similarity:
            weighted.append((-w * (len(common) / len(theirs)) ** activity, v))
    score: defaultdict[int, float] = defaultdict(float)
    for neg_w, v in sorted(weighted)[:cfg.rank_neighbours]:
        for m, r in by_user[v].items():
            score[m] += -neg_w * (r if cfg.rank_value == "rating" else 1.0)
    for m in score:
        score[m] /= max(popularity.get(m, 0), 1) ** damping
    candidates = [m for m in range(n_movies) if m not in mine]
    return sorted(candidates, key=lambda m: (-score[m], m))[:k], score


EARLIER_RANKING = dict(rank_significance=25, rank_activity_power=0.0, rank_popularity_power=0.0)


@pytest.mark.parametrize("overrides", [
    dict(rank_neighbours=8, rank_min_co_rated=5, **EARLIER_RANKING),
    dict(rank_neighbours=8),  # today's defaults (profiles of ~22 ratings: not light)
    dict(rank_neighbours=15, rank_min_co_rated=8, rank_significance=10, rank_value="one",
         rank_activity_power=1.0, rank_popularity_power=0.5),
    dict(rank_neighbours=100, rank_min_co_rated=3, rank_significance=1, rank_min_similarity=0.2),
    dict(rank_neighbours=10, rank_light_profile=23, rank_light_significance=5),  # about half light
])
def test_top10_equals_slow_reference(rng, overrides):
    df = random_ratings(rng)
    cfg = UserUserConfig(**overrides)
    model = fit(df, cfg)
    for user in range(0, model.n_users, 3):
        profile = profile_of(df, user)
        want, score = reference_rank(df, user, cfg, model.n_movies)
        got = recommend(model, profile, 10)
        assert got.movie_idx.tolist() == want
        np.testing.assert_allclose(got.score, [score[m] for m in want], rtol=1e-12)


def covering_neighbours() -> tuple[pd.DataFrame, Profile]:
    """A new profile rates movies 0-4 as 1..5. Users 0 and 1 rate them alike (Pearson 1, n = 5);
    user 0 has also rated movies 7-16 (15 ratings in all), user 1 only movies 5 and 6 (7 ratings),
    both 5 stars. Users 2 and 3 (one co-rated movie: never neighbours) also rated movie 5."""
    rows = [(v, m, float(m + 1)) for v in (0, 1) for m in range(5)]
    rows += [(0, m, 5.0) for m in range(7, 17)] + [(1, 5, 5.0), (1, 6, 5.0)]
    rows += [(v, m, 3.0) for v in (2, 3) for m in (0, 5)]
    return pd.DataFrame(rows, columns=["user", "movie", "rating"]), Profile(np.arange(5), np.arange(1.0, 6.0))


def test_activity_factor_prefers_the_neighbour_with_fewer_ratings():
    df, new = covering_neighbours()
    cfg = UserUserConfig(rank_neighbours=1, rank_light_profile=0)
    users, w = fit(df, cfg).rank_neighbours(new)
    assert users.tolist() == [1]                         # 5 of its 7 ratings co-rated, vs 5 of 15
    np.testing.assert_allclose(w, [5 / 50 * (5 / 7) ** 0.5], rtol=1e-12)
    earlier = UserUserConfig(rank_neighbours=1, rank_light_profile=0, **EARLIER_RANKING)
    users, w = fit(df, earlier).rank_neighbours(new)
    assert users.tolist() == [0] and w.tolist() == [5 / 25]  # a tie, to the lower index


def test_popularity_damping_reorders_equal_support():
    df, new = covering_neighbours()
    # movies 5 and 6 get the same support (user 1's weight x 5 stars); 5 is rated 3 times, 6 once
    cfg = UserUserConfig(rank_neighbours=1, rank_light_profile=0)
    scores = fit(df, cfg).rank_scores(new)
    support = 5 / 50 * (5 / 7) ** 0.5 * 5.0
    np.testing.assert_allclose(scores[[5, 6]], [support / 3 ** 0.15, support], rtol=1e-12)
    assert recommend(fit(df, cfg), new, 2).movie_idx.tolist() == [6, 5]
    undamped = UserUserConfig(rank_neighbours=1, rank_light_profile=0, rank_popularity_power=0.0)
    assert recommend(fit(df, undamped), new, 2).movie_idx.tolist() == [5, 6]  # tie: lower index


def test_light_profiles_keep_the_earlier_ranking(rng):
    df, new = covering_neighbours()                          # 5 ratings: light under the default 15
    light = fit(df, UserUserConfig(rank_neighbours=1))
    users, w = light.rank_neighbours(new)
    assert users.tolist() == [0] and w.tolist() == [5 / 25]
    assert recommend(light, new, 2).movie_idx.tolist() == [7, 8]
    # on random data: profiles under 15 ratings score exactly as the earlier settings, others not
    df = random_ratings(rng)
    today, earlier = fit(df), fit(df, UserUserConfig(**EARLIER_RANKING))
    for user in range(0, today.n_users, 4):
        full = profile_of(df, user, known=False)
        short = Profile(full.movie_idx[:12], full.rating[:12])
        np.testing.assert_array_equal(today.rank_scores(short), earlier.rank_scores(short))
        assert not np.allclose(today.rank_scores(full), earlier.rank_scores(full))


def reference_predict(model: UserUserRecommender, df: pd.DataFrame, user: int, movies, cfg: UserUserConfig):
    """Rating prediction by loops: baseline + damped weighted deviations of the k largest |w| raters."""
    by_user = {u: dict(zip(g["movie"], g["rating"])) for u, g in df.groupby("user")}
    mine = by_user[user]
    mu, bu, bi = model.global_mean, model.user_bias, model.movie_bias
    out = []
    for m in movies:
        cands = []
        for v, theirs in by_user.items():
            common = sorted(set(mine) & set(theirs))
            if v == user or m not in theirs or len(common) < cfg.min_co_rated:
                continue
            r = pair_pearson(np.array([mine[j] for j in common]), np.array([theirs[j] for j in common]))
            if r is None:
                continue
            w = r * len(common) / (len(common) + cfg.shrinkage)
            if abs(w) > cfg.min_similarity:
                cands.append((-abs(w), v, w, theirs[m] - mu - bu[v] - bi[m]))
        chosen = sorted(cands)[:cfg.n_neighbours]
        num = sum(w * d for _, _, w, d in chosen)
        den = sum(abs(w) for _, _, w, _ in chosen) + cfg.damping
        out.append(mu + bu[user] + bi[m] + (num / den if den > 0 else 0.0))
    return np.array(out)


@pytest.mark.parametrize("overrides", [
    dict(), dict(n_neighbours=5, min_co_rated=4, shrinkage=0.0, damping=0.0, min_similarity=0.1),
])
def test_predict_equals_slow_reference(rng, overrides):
    df = random_ratings(rng)
    cfg = UserUserConfig(**overrides)
    model = fit(df, cfg)
    movies = np.arange(model.n_movies)
    for user in (0, 11, 25):
        got = model.predict(profile_of(df, user), movies)
        np.testing.assert_allclose(got, reference_predict(model, df, user, movies, cfg), rtol=1e-12)


def two_tastes() -> pd.DataFrame:
    """Group A (users 0-9) and group B (10-19) rate movies 0-9 oppositely; A loves 10, B loves 11."""
    pattern = np.array([5.0, 4.5, 4.0, 5.0, 3.5, 1.0, 2.0, 1.5, 2.5, 1.0])
    rows = []
    for user in range(20):
        group_a = user < 10
        taste = pattern if group_a else 6.0 - pattern
        shift = 0.5 * (user % 3) - 0.5  # users differ in level, not in taste
        rows += [(user, m, float(np.clip(r + shift, 0.5, 5.0))) for m, r in enumerate(taste)]
        rows += [(user, 10, 5.0 if group_a else 1.0), (user, 11, 1.0 if group_a else 5.0), (user, 12, 3.0)]
    return pd.DataFrame(rows, columns=["user", "movie", "rating"])


@pytest.mark.parametrize("group_a", [True, False])
def test_new_user_gets_their_groups_favourite_first(group_a):
    model = fit(two_tastes())
    pattern = np.array([5.0, 4.5, 4.0, 5.0, 3.5, 1.0, 2.0, 1.5])
    new = Profile(np.arange(8), pattern if group_a else 6.0 - pattern)  # user_idx None: fold-in
    favourite, other = (10, 11) if group_a else (11, 10)
    assert recommend(model, new, 3).movie_idx[0] == favourite
    pred = model.predict(new, np.array([favourite, other]))
    assert pred[0] > 4.0 > 2.0 > pred[1]
    why = model.explain(new, favourite)
    assert why["n_neighbours"] == 10 and why["n_neighbours_rated"] == 10  # only its own group
    assert why["mean_neighbour_rating"] == 5.0


def test_never_recommends_a_rated_movie(rng):
    df = random_ratings(rng, density=0.7)
    model = fit(df)
    for user in range(model.n_users):
        profile = profile_of(df, user, known=user % 2 == 0)
        got = recommend(model, profile, 20)
        assert len(got.movie_idx) == min(20, model.n_movies - profile.movie_idx.size)
        assert not np.isin(got.movie_idx, profile.movie_idx).any()


def test_new_user_path_without_user_idx(rng):
    df = random_ratings(rng)
    cfg = UserUserConfig()
    model = fit(df, cfg)
    # folding in a training user's own ratings reproduces their learned bias (same last update)
    for user in (0, 5, 17):
        p = profile_of(df, user)
        folded = fold_in_user_bias(p.movie_idx, p.rating.astype(np.float64), model.global_mean,
                                   model.movie_bias, cfg.bias_reg_user)
        assert folded == pytest.approx(model.user_bias[user], abs=1e-12)
    # a user held out of training, served as a new user: finite scores and predictions
    held = df[df["user"] == 0]
    rest = fit(df[df["user"] != 0], cfg, n_users=model.n_users, n_movies=model.n_movies)
    new = Profile(held["movie"].to_numpy(), held["rating"].to_numpy())
    assert np.isfinite(rest.rank_scores(new)).all()
    assert np.isfinite(rest.predict(new, np.arange(model.n_movies))).all()
    # no ratings at all: baseline predictions and popularity ranking
    empty = Profile(np.array([], np.int64), np.array([], np.float32))
    np.testing.assert_allclose(model.predict(empty, np.arange(model.n_movies)),
                               model.global_mean + model.movie_bias)
    popularity = df.groupby("movie").size().reindex(range(model.n_movies), fill_value=0).to_numpy()
    np.testing.assert_array_equal(model.rank_scores(empty), popularity)


def test_explain_counts_neighbours_who_rated(rng):
    df = random_ratings(rng)
    model = fit(df, UserUserConfig(rank_neighbours=10, rank_min_co_rated=3))
    profile = profile_of(df, 4)
    users, _ = model.rank_neighbours(profile)
    movie = int(recommend(model, profile, 1).movie_idx[0])
    rated = df[(df["movie"] == movie) & df["user"].isin(users)]["rating"]
    why = model.explain(profile, movie)
    assert why["n_neighbours"] == users.size == 10
    assert why["n_neighbours_rated"] == len(rated) > 0
    assert why["mean_neighbour_rating"] == pytest.approx(rated.mean())


@pytest.mark.parametrize("field, value", [
    ("n_neighbours", 0), ("min_co_rated", 1.5), ("rank_neighbours", True), ("shrinkage", -1.0),
    ("damping", float("nan")), ("bias_reg_user", -0.1), ("min_similarity", 1.0),
    ("rank_min_similarity", -0.2), ("rank_significance", 0), ("rank_value", "mean"),
    ("rank_activity_power", -0.5), ("rank_popularity_power", float("inf")), ("rank_light_profile", -1),
    ("rank_light_profile", 2.0), ("rank_light_significance", 0),
])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"UserUserConfig.{field} "):
        UserUserConfig(**{field: value})


def test_a_config_saved_before_the_ranking_factors_ranks_as_before():
    saved = dataclasses.asdict(UserUserConfig(rank_significance=25))
    for key in ("rank_activity_power", "rank_popularity_power", "rank_light_profile", "rank_light_significance"):
        del saved[key]
    loaded = UserUserConfig.from_saved(saved)
    assert (loaded.rank_significance, loaded.rank_activity_power, loaded.rank_popularity_power,
            loaded.rank_light_profile) == (25, 0.0, 0.0, 0)
    today = dataclasses.asdict(UserUserConfig())
    assert UserUserConfig.from_saved(today) == UserUserConfig()


def test_fit_rejects_duplicate_pairs():
    with pytest.raises(ValueError, match="duplicate"):
        UserUserRecommender.fit(np.array([0, 0]), np.array([1, 1]), np.array([3.0, 4.0]), 1, 2)


def test_arrays_round_trip_gives_identical_scores(rng, tmp_path):
    df = random_ratings(rng)
    cfg = UserUserConfig(bias_reg_user=3.0)
    model = fit(df, cfg)
    np.savez(tmp_path / "uu.npz", **model.to_arrays())
    with np.load(tmp_path / "uu.npz", allow_pickle=False) as npz:
        arrays = dict(npz)
    loaded = UserUserRecommender.from_arrays(arrays, cfg)
    movies = np.arange(model.n_movies)
    for profile in (profile_of(df, 2), profile_of(df, 9, known=False)):
        np.testing.assert_array_equal(loaded.rank_scores(profile), model.rank_scores(profile))
        np.testing.assert_array_equal(loaded.predict(profile, movies), model.predict(profile, movies))
    with pytest.raises(ValueError, match="bias_reg"):
        UserUserRecommender.from_arrays(arrays, UserUserConfig())
