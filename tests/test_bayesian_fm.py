"""benchmarks/bayesian_fm.py: the vectorised posterior mean equals myFM's own prediction, the
features come from the fitted ratings only, and the tuned row is chosen on validation RMSE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks import bayesian_fm

pytest.importorskip("myfm", reason="myfm is not installed (pip install -e '.[bench]')")


def random_ratings(n_users: int, n_movies: int, density: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, movies = np.nonzero(rng.random((n_users, n_movies)) < density)
    # a low-rank signal, so that the factors have something to find
    p, q = rng.normal(size=(n_users, 2)), rng.normal(size=(n_movies, 2))
    ratings = np.clip(np.round(2 * (3.0 + (p[users] * q[movies]).sum(1) + rng.normal(0, 0.3, users.size))) / 2,
                      0.5, 5.0)
    return pd.DataFrame({"user_idx": users, "movie_idx": movies, "rating": ratings})


def test_feature_blocks_are_one_hot_and_normalised_sets():
    users, movies = bayesian_fm.feature_blocks(np.array([0, 0, 1, 0]), np.array([1, 2, 2, 1]), 3, 4)
    assert users.shape == (3, 3 + 4) and movies.shape == (4, 4 + 3)
    np.testing.assert_allclose(users.toarray()[0], [1, 0, 0, 0, 2 ** -0.5, 2 ** -0.5, 0])  # the duplicate counts once
    np.testing.assert_allclose(users.toarray()[2], [0, 0, 1, 0, 0, 0, 0])  # rated nothing: one-hot only
    np.testing.assert_allclose(movies.toarray()[2], [0, 0, 1, 0, 2 ** -0.5, 2 ** -0.5, 0])


def test_posterior_mean_equals_myfm_predictions():
    ratings = random_ratings(30, 20, 0.4, seed=1)
    fm, users, movies = bayesian_fm.fit_myfm(ratings, 30, 20, rank=3, n_iter=12, seed=0)
    model = bayesian_fm.summarise(fm.predictor_.samples, users, movies, rank=3, n_iter=12)
    assert model.n_samples == 12 - 3  # a quarter of the sweeps burnt in
    myfm = bayesian_fm.import_myfm()
    u, m = np.repeat(np.arange(30), 20), np.tile(np.arange(20), 30)
    expected = fm.predict(None, [myfm.RelationBlock(u, users), myfm.RelationBlock(m, movies)])
    np.testing.assert_allclose(model.predict_pairs(u, m), expected, rtol=0, atol=1e-5)
    recommender = bayesian_fm.BayesianFMRecommender(model)
    profile = type("Profile", (), {"user_idx": 7, "movie_idx": np.empty(0), "rating": np.empty(0)})()
    np.testing.assert_allclose(recommender.rank_scores(profile), expected[7 * 20:8 * 20], rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="seen in its training"):
        recommender.rank_scores(type("Profile", (), {"user_idx": None})())


def test_implicit_features_come_from_the_fitted_ratings_only():
    ratings = random_ratings(30, 20, 0.4, seed=2)
    fit_part, held_out = ratings.iloc[:-40], ratings.iloc[-40:]
    fm, users, _ = bayesian_fm.fit_myfm(fit_part, 30, 20, rank=2, n_iter=4, seed=0)
    rated = set(zip(fit_part["user_idx"], fit_part["movie_idx"]))
    for u, m in zip(held_out["user_idx"], held_out["movie_idx"]):
        assert (users[u, 30 + m] != 0) == ((u, m) in rated)


def test_tuning_picks_the_lowest_validation_rmse_and_refits():
    ratings = random_ratings(40, 25, 0.4, seed=3)
    fit_part, val_part = ratings.iloc[::2], ratings.iloc[1::2]
    name, refit, account = bayesian_fm.tuned_bayesian_fm(fit_part, val_part, 40, 25, grid=((1, 8), (3, 24)))
    scores = {}
    for rank, n_iter in ((1, 8), (3, 24)):
        model = bayesian_fm.fit_bayesian_fm(fit_part, 40, 25, rank, n_iter)
        error = model.predict_pairs(val_part["user_idx"], val_part["movie_idx"]) - val_part["rating"].to_numpy()
        scores[(rank, n_iter)] = np.sqrt(np.mean(error ** 2))
    best = min(scores, key=scores.get)
    assert account.endswith(f"-> ({best[0]}, {best[1]})") and f"{scores[best]:.4f}" in account
    model = refit(ratings).model
    assert (model.rank, model.n_iter) == best and model.user_factors.shape == (40, best[0] * (best[1] - best[1] // 4))
    assert name.startswith("Bayesian FM")
