"""The embedding model on two-group synthetic data whose right answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movierec.config import ModelConfig, TrainerConfig
from movierec.embedding import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender, fold_in
from movierec.ranking import Profile, recommend
from movierec.training import train_embedding
from tests.synthetic import liked_movies, two_group_ratings

N_USERS, N_MOVIES = 60, 40
MODEL = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0)
TRAINER = TrainerConfig(max_epochs=30, patience=5, refit=False)


def _train(seed=0, model=MODEL, trainer=TRAINER):
    ratings = two_group_ratings()
    return ratings, train_embedding(ratings, None, N_USERS, N_MOVIES, model, trainer, seed=seed)


@pytest.fixture(scope="module")
def trained():
    return _train()


def _profile(ratings, user, known=True):
    seen = ratings[ratings["user_idx"] == user]
    return Profile(seen["movie_idx"].to_numpy(), seen["rating"].to_numpy(), user_idx=user if known else None)


def test_learns_each_groups_taste_for_unseen_movies(trained):
    ratings, result = trained
    for user in range(N_USERS):
        profile = _profile(ratings, user)
        unseen = np.setdiff1d(np.arange(N_MOVIES), profile.movie_idx)
        predicted = result.model.predict(profile, unseen)
        liked = np.isin(unseen, list(liked_movies(user)))
        assert predicted[liked].min() > 3.5 and predicted[~liked].max() < 2.5, user


def test_top_k_is_own_groups_unseen_movies_never_rated_ones(trained):
    ratings, result = trained
    for user in range(N_USERS):
        profile = _profile(ratings, user)
        top = recommend(result.model, profile, 5).movie_idx
        assert set(top) <= liked_movies(user) - set(profile.movie_idx.tolist())


def test_new_user_fold_in_finds_their_group(trained):
    _, result = trained
    group_a_movies = [0, 1, 2, 25, 26]  # loves 0-2, hates 25-26: group A's taste
    profile = Profile(np.array(group_a_movies), np.array([5, 5, 5, 1, 1], np.float32))
    top = recommend(result.model, profile, 5).movie_idx
    assert set(top) <= set(range(3, 20))
    assert result.model.predict(profile, np.array([10]))[0] > result.model.predict(profile, np.array([30]))[0] + 2


def test_training_is_deterministic_under_a_seed():
    _, first = _train(seed=3)
    _, second = _train(seed=3)
    assert [h["val_loss"] for h in first.history] == [h["val_loss"] for h in second.history]
    for a, b in zip(first.model.net.state_dict().values(), second.model.net.state_dict().values()):
        assert torch.equal(a, b)


def test_history_has_the_logged_losses_and_best_epoch(trained):
    _, result = trained
    assert {"train_loss", "val_loss", "epoch_seconds"} <= set(result.history[0])
    best = min(result.history, key=lambda row: row["val_loss"])
    assert best["epoch"] == result.best_epoch


def test_refit_trains_best_epoch_count_on_all_rows():
    ratings, result = _train(trainer=TrainerConfig(max_epochs=8, patience=2, refit=True))
    assert len(result.refit_history) == result.best_epoch + 1


def test_fold_in_is_the_ridge_solution():
    hp = EmbeddingHParams(n_users=3, n_movies=6, embedding_dim=3, dropout=0.0, global_mean=3.5)
    net = EmbeddingNet(hp, seed=1)
    with torch.no_grad():
        net.movie_bias.weight.copy_(torch.randn(6, 1))
    movies, ratings, lam = np.array([0, 2, 5]), np.array([4.0, 2.5, 5.0]), 0.7
    p, b = fold_in(net, movies, ratings, lam)
    q = net.movie.weight.detach().numpy()[movies].astype(float)
    x = np.hstack([q, np.ones((3, 1))])
    y = ratings - 3.5 - net.movie_bias.weight.detach().numpy()[movies, 0]
    expected = np.linalg.solve(x.T @ x + lam * np.eye(4), x.T @ y)
    np.testing.assert_allclose(np.r_[p.numpy(), b.item()], expected, rtol=1e-5, atol=1e-6)


def test_fold_in_with_no_ratings_is_the_zero_user():
    net = EmbeddingNet(EmbeddingHParams(n_users=2, n_movies=4, embedding_dim=3, dropout=0.1, global_mean=3.0))
    p, b = fold_in(net, np.array([], np.int64), np.array([], np.float32), 1.0)
    assert torch.count_nonzero(p) == 0 and float(b) == 0.0


def test_save_and_load_give_identical_scores(tmp_path, trained):
    ratings, result = trained
    path = tmp_path / "model.pt"
    result.model.save(path)
    loaded = EmbeddingRecommender.load(path)
    profile = _profile(ratings, 7)
    np.testing.assert_array_equal(loaded.rank_scores(profile), result.model.rank_scores(profile))
    np.testing.assert_array_equal(loaded.predict_all(profile), result.model.predict_all(profile))
