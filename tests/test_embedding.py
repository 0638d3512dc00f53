"""The embedding model on two-group synthetic data whose right answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movierec.config import ModelConfig, TrainerConfig
from movierec.models.embedding.fit import train_embedding
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender, fold_in
from movierec.models.protocol import Profile, recommend
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


def _net(implicit_weight: float, l2: float = 0.3) -> EmbeddingNet:
    hp = EmbeddingHParams(n_users=3, n_movies=6, embedding_dim=3, dropout=0.0, global_mean=3.5,
                          l2=l2, implicit_weight=implicit_weight)
    net = EmbeddingNet(hp, seed=1)
    with torch.no_grad():
        net.movie_bias.weight.copy_(torch.randn(6, 1, generator=torch.Generator().manual_seed(2)))
        net.movie.weight.mul_(20)
    return net


MOVIES, RATINGS = np.array([0, 2, 5]), np.array([4.0, 2.5, 5.0], np.float32)


def test_fold_in_without_choice_loss_is_the_ridge_solution():
    net = _net(implicit_weight=0.0)
    p, b = fold_in(net, MOVIES, RATINGS)
    q = net.movie.weight.detach().double().numpy()[MOVIES]
    x = np.hstack([q, np.ones((3, 1))])
    y = RATINGS - 3.5 - net.movie_bias.weight.detach().double().numpy()[MOVIES, 0]
    n = len(MOVIES)  # objective: mean squared error + l2 |theta|^2
    expected = np.linalg.solve(x.T @ x / n + 0.3 * np.eye(4), x.T @ y / n)
    np.testing.assert_allclose(np.r_[p.numpy(), b.item()], expected, rtol=1e-3, atol=1e-4)


def test_fold_in_with_choice_loss_is_a_stationary_point_of_the_objective():
    net = _net(implicit_weight=0.5)
    p, b = fold_in(net, MOVIES, RATINGS)
    theta = torch.cat([p, b.reshape(1)]).requires_grad_(True)
    idx, r = torch.as_tensor(MOVIES), torch.as_tensor(RATINGS)
    pred = net.global_mean + theta[3] + net.movie_bias.weight[idx, 0] + net.movie.weight[idx] @ theta[:3]
    logits = net.movie.weight @ (net.choice_proj.weight @ theta[:3]) + net.choice_movie_bias.weight[:, 0]
    loss = (torch.mean((pred - r) ** 2) + 0.3 * theta.pow(2).sum()
            - 0.5 * ((r / r.sum()) * torch.log_softmax(logits, -1)[idx]).sum())
    (grad,) = torch.autograd.grad(loss, theta)
    assert grad.abs().max() < 1e-3
    ridge_p, _ = fold_in(_net(implicit_weight=0.0), MOVIES, RATINGS)
    assert not torch.allclose(p, ridge_p, atol=1e-3)  # the choice loss does move the user


def test_fold_in_with_no_ratings_is_the_zero_user():
    net = EmbeddingNet(EmbeddingHParams(n_users=2, n_movies=4, embedding_dim=3, dropout=0.1, global_mean=3.0))
    p, b = fold_in(net, np.array([], np.int64), np.array([], np.float32))
    assert torch.count_nonzero(p) == 0 and float(b) == 0.0


def test_save_and_load_give_identical_scores(tmp_path, trained):
    ratings, result = trained
    path = tmp_path / "model.pt"
    result.model.save(path)
    loaded = EmbeddingRecommender.load(path)
    profile = _profile(ratings, 7)
    np.testing.assert_array_equal(loaded.rank_scores(profile), result.model.rank_scores(profile))
    np.testing.assert_array_equal(loaded.predict_all(profile), result.model.predict_all(profile))


def test_logging_test_loss_does_not_change_the_trained_weights():
    ratings = two_group_ratings()
    held_out = two_group_ratings(seed=9).iloc[:100]
    trainer = TrainerConfig(max_epochs=3, patience=5, refit=False)
    without = train_embedding(ratings, None, N_USERS, N_MOVIES, MODEL, trainer, seed=1)
    with_test = train_embedding(ratings, held_out, N_USERS, N_MOVIES, MODEL, trainer, seed=1)
    assert "test_loss" in with_test.history[0] and "test_loss" not in without.history[0]
    for a, b in zip(without.model.net.state_dict().values(), with_test.model.net.state_dict().values()):
        assert torch.equal(a, b)
