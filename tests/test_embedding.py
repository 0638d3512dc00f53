"""The embedding model on two-group synthetic data whose right answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from movierec.config import ModelConfig, TrainerConfig
from movierec.models.embedding.fit import train_embedding
from movierec.models.embedding.hybrid import FoldIn, HybridRecommender, RatingHead
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender, fold_in
from movierec.models.embedding.train_hybrid import train_hybrid
from movierec.models.protocol import Profile, recommend
from tests.synthetic import liked_movies, two_group_ratings

N_USERS, N_MOVIES = 60, 40
# the lone-head trainer (epoch selection, refit); the stacked one: tests/test_stacked_embedding.py
MODEL = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                    epochs=0, average_from=0, implicit_l2=0.0)
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


def test_a_given_epoch_count_skips_the_selection_run_and_trains_that_long_on_all_rows():
    ratings = two_group_ratings()
    trainer = TrainerConfig(max_epochs=8, patience=2, refit=True)
    result = train_embedding(ratings, None, N_USERS, N_MOVIES, MODEL, trainer, seed=0, epochs=3)
    assert result.history == [] and result.best_epoch == 2 and len(result.refit_history) == 3
    # the same weights as the refit step of a selection that chose 3 epochs: same seed, same rows
    chosen = _train(trainer=trainer)[1]
    again = train_embedding(ratings, None, N_USERS, N_MOVIES, MODEL, trainer, seed=0, epochs=chosen.best_epoch + 1)
    assert torch.equal(again.model.net.movie.weight, chosen.model.net.movie.weight)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        train_embedding(ratings, None, N_USERS, N_MOVIES, MODEL, trainer, seed=0, epochs=0)


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


# -- the served method: heads averaged, closed-form fold-in, the ranking blend ----------------------


def test_ridge_fold_in_is_the_closed_form_and_the_iterative_fold_in_without_choice_loss():
    net = _net(implicit_weight=0.0)
    head = RatingHead(EmbeddingRecommender(net))
    p, b = head.fold_in(MOVIES, RATINGS)
    q = net.movie.weight.detach().double().numpy()[MOVIES]
    x = np.hstack([q, np.ones((3, 1))])
    y = RATINGS - 3.5 - net.movie_bias.weight.detach().double().numpy()[MOVIES, 0]
    expected = np.linalg.solve(x.T @ x + 3 * 0.3 * np.eye(4), x.T @ y)  # sum of squares + n l2 |theta|^2
    np.testing.assert_allclose(np.r_[p, b], expected, rtol=1e-5, atol=1e-6)
    lbfgs_p, lbfgs_b = fold_in(net, MOVIES, RATINGS)
    np.testing.assert_allclose(np.r_[p, b], np.r_[lbfgs_p.numpy(), lbfgs_b.item()], rtol=1e-3, atol=1e-4)
    p0, b0 = head.fold_in(np.empty(0, np.int64), np.empty(0, np.float32))
    assert not p0.any() and b0 == 0.0


def test_the_fold_in_scales_multiply_the_ridge_on_vector_and_bias_and_are_saved(tmp_path):
    net = _net(implicit_weight=0.0)
    p, b = RatingHead(EmbeddingRecommender(net), FoldIn(vector=2.5, bias=6.0)).fold_in(MOVIES, RATINGS)
    q = net.movie.weight.detach().double().numpy()[MOVIES]
    x = np.hstack([q, np.ones((3, 1))])
    y = RATINGS - 3.5 - net.movie_bias.weight.detach().double().numpy()[MOVIES, 0]
    expected = np.linalg.solve(x.T @ x + 3 * 0.3 * np.diag([2.5, 2.5, 2.5, 6.0]), x.T @ y)
    np.testing.assert_allclose(np.r_[p, b], expected, rtol=1e-5, atol=1e-6)
    model = HybridRecommender([EmbeddingRecommender(net)], None, fold_in=FoldIn(vector=2.5, bias=6.0))
    model.save(tmp_path / "m")
    new_user = Profile(MOVIES, RATINGS)
    np.testing.assert_array_equal(HybridRecommender.load(tmp_path / "m").predict_all(new_user),
                                  model.predict_all(new_user))
    with pytest.raises(ValueError, match="fold-in ridge scales must be > 0"):
        FoldIn(bias=0.0)


def test_a_new_users_cached_fold_in_follows_their_ratings_and_the_ridge():
    net = _net(implicit_weight=0.0)
    model = HybridRecommender([EmbeddingRecommender(net)], None)
    first, second = Profile(MOVIES, RATINGS), Profile(MOVIES, RATINGS[::-1].copy())
    fresh = [HybridRecommender([EmbeddingRecommender(net)], None).predict_all(p) for p in (first, second)]
    for _ in range(2):  # alternating requests: each answer is its own profile's
        np.testing.assert_array_equal(model.predict_all(first), fresh[0])
        np.testing.assert_array_equal(model.predict_all(second), fresh[1])
    assert not np.allclose(fresh[0], fresh[1])
    stronger = model.with_fold_in(FoldIn(vector=50.0, bias=50.0))
    assert np.abs(stronger.predict_all(first) - fresh[0]).max() > 1e-3  # not the first model's cached vectors


def test_ridge_fold_in_of_ten_ratings_predicts_them_better_than_the_zero_user(trained):
    ratings, result = trained
    head = RatingHead(result.model)
    for user in (0, 1, 30, 45):
        seen = ratings[ratings["user_idx"] == user].iloc[:10]
        movies, values = seen["movie_idx"].to_numpy(), seen["rating"].to_numpy(np.float32)
        assert len(movies) == 10
        p, b = head.fold_in(movies, values)
        folded = np.mean((head.rating(p, b)[movies] - values) ** 2)
        zero = np.mean((head.rating(np.zeros_like(p), 0.0)[movies] - values) ** 2)
        assert folded < 0.5 * zero, user


@pytest.fixture(scope="module")
def hybrid():
    ratings = two_group_ratings()
    cfg = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                      n_heads=2, head_seed_offset=7, item_item_lambda=5.0, epochs=0, average_from=0, implicit_l2=0.0)
    return ratings, train_hybrid(ratings, None, N_USERS, N_MOVIES, cfg, TrainerConfig(max_epochs=5, refit=False),
                                 seed=3)


def test_hybrid_heads_have_their_own_seeds_and_their_mean_is_the_prediction(hybrid):
    ratings, result = hybrid
    model = result.model
    assert result.head_seeds == [3, 10] and len(model.heads) == 2
    assert all(head.history for head in result.heads)  # without a refit every head selects its own epoch
    assert not torch.equal(model.heads[0].net.movie.weight, model.heads[1].net.movie.weight)
    for profile in (_profile(ratings, 5), _profile(ratings, 5, known=False)):
        predictions = []
        for head in model.heads:
            table = RatingHead(head, model.fold_in)  # the configured fold-in ridge
            p, b = table.vector(profile)
            if profile.user_idx is not None:  # a known user: the head's own prediction
                np.testing.assert_allclose(table.rating(p, b), head.predict_all(profile), rtol=1e-5)
            predictions.append(table.rating(p, b))
        mu, stretch = model.training_mean, model.rating_stretch  # the config's stretch about the training mean
        assert stretch == ModelConfig().rating_stretch
        np.testing.assert_allclose(model.predict(profile, np.arange(N_MOVIES)),
                                   mu + stretch * (np.mean(predictions, axis=0) - mu), rtol=1e-6)


def test_the_rating_stretch_scales_the_served_rating_about_the_mean_and_leaves_the_ranking(hybrid, tmp_path):
    ratings, result = hybrid
    plain = result.model.with_rating_stretch(1.0)
    stretched = plain.with_rating_stretch(1.25)
    mu = plain.training_mean
    for profile in (_profile(ratings, 5), _profile(ratings, 5, known=False)):
        np.testing.assert_allclose(stretched.predict_all(profile), mu + 1.25 * (plain.predict_all(profile) - mu),
                                   rtol=1e-6)
        assert np.ptp(stretched.predict_all(profile)) > np.ptp(plain.predict_all(profile))
        # z-scored per user, the rating term of the ranking does not see an affine stretch
        np.testing.assert_allclose(stretched.rank_scores(profile), plain.rank_scores(profile), rtol=1e-9, atol=1e-9)
    stretched.save(tmp_path / "m")
    assert HybridRecommender.load(tmp_path / "m").rating_stretch == 1.25
    with pytest.raises(ValueError, match="rating_stretch must be > 0"):
        plain.with_rating_stretch(0.0)


def test_hybrid_rank_scores_are_the_blend_of_z_scores(hybrid):
    ratings, result = hybrid
    model = result.model
    assert model.item_item is not None
    z = lambda s: (s - s.mean()) / s.std()  # noqa: E731
    for profile in (_profile(ratings, 8), _profile(ratings, 8, known=False)):
        tables = [RatingHead(h, model.fold_in) for h in model.heads]
        vectors = [t.vector(profile) for t in tables]
        expected = (z(model.item_item.scores(profile.movie_idx, profile.rating).astype(np.float64))
                    + 0.75 * np.mean([z(t.choice(p).astype(np.float64)) for t, (p, _) in zip(tables, vectors)], 0)
                    + 0.5 * np.mean([z(t.rating(p, b).astype(np.float64)) for t, (p, b) in zip(tables, vectors)], 0))
        np.testing.assert_allclose(model.rank_scores(profile), expected, rtol=1e-9, atol=1e-9)
        top = recommend(model, profile, 5).movie_idx
        assert set(top) <= liked_movies(8) - set(profile.movie_idx.tolist())


def test_one_head_without_item_item_ranks_like_the_model_alone(trained):
    ratings, result = trained
    single = HybridRecommender.single(result.model)
    for user in (0, 1, 2):
        profile = _profile(ratings, user)
        assert set(recommend(single, profile, 5).movie_idx) <= liked_movies(user) - set(profile.movie_idx.tolist())
        np.testing.assert_allclose(single.predict(profile, np.arange(N_MOVIES)), result.model.predict_all(profile),
                                   rtol=1e-5)


HEADS = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                    n_heads=2, head_seed_offset=7, blend_item_item=0.0, epochs=0, average_from=0, implicit_l2=0.0)


def test_with_refit_later_heads_train_for_the_count_head_zero_chose():
    ratings = two_group_ratings()
    result = train_hybrid(ratings, None, N_USERS, N_MOVIES, HEADS, TrainerConfig(max_epochs=8, patience=2), seed=3)
    first, second = result.heads
    assert first.history and second.history == []  # one selection run
    assert len(second.refit_history) == len(first.refit_history) == first.best_epoch + 1


def test_given_epoch_counts_train_each_head_that_long_and_must_match_the_heads():
    ratings = two_group_ratings()
    result = train_hybrid(ratings, None, N_USERS, N_MOVIES, HEADS, TrainerConfig(max_epochs=8), seed=3,
                          epochs=[2, 4])
    assert [len(h.refit_history) for h in result.heads] == [2, 4]
    assert all(h.history == [] for h in result.heads)
    with pytest.raises(ValueError, match="1 counts for 2 heads"):
        train_hybrid(ratings, None, N_USERS, N_MOVIES, HEADS, TrainerConfig(), seed=3, epochs=[2])
