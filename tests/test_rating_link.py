"""The clipped-normal rating link and the implicit bias terms (models/embedding/link.py, stacked.py,
rating_head.py): known answers, and the served paths agreeing with what training optimised."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from movierec.config import RATING_MAX, RATING_MIN, ModelConfig, TrainerConfig
from movierec.models.embedding.batches import Ratings
from movierec.models.embedding.day_bias import DAY_SECONDS, DayBias, pair_keys
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.embedding.link import expected_clipped, expected_clipped_slope, expected_clipped_torch
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender, fold_in
from movierec.models.embedding.rating_head import RatingHead
from movierec.models.embedding.stacked import StackedNet
from movierec.models.embedding.stacked_fit import fit_stacked
from movierec.models.embedding.train_hybrid import ratings_csr
from movierec.models.protocol import Profile
from tests.synthetic import two_group_ratings

N_USERS, N_MOVIES = 60, 40
RATINGS = two_group_ratings()


def _hp(**kw) -> EmbeddingHParams:
    return EmbeddingHParams(n_users=N_USERS, n_movies=N_MOVIES, embedding_dim=4, dropout=0.0, global_mean=3.0, **kw)


def _random_stacked(seeds=(0, 100), sigma_start=(0.6, 0.9)) -> StackedNet:
    """A stacked net with link and implicit biases whose tables are non-zero, as after training."""
    net = StackedNet(_hp(l2=0.05), list(seeds), ratings_csr(RATINGS, N_USERS, N_MOVIES), implicit_l2=0.1,
                     implicit_bias_l2=0.3, rating_link=True)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for table in (net.implicit_movie, net.implicit_user, net.implicit_bias_movie, net.implicit_bias_user,
                      net.user_bias, net.movie_bias):
            table.normal_(0, 0.4, generator=gen)
        net.user.mul_(20)  # scores well beyond the scale, where the link bends
        net.log_link_sigma.copy_(torch.log(torch.tensor(sigma_start)))
    return net


def test_the_link_is_the_mean_of_a_clipped_normal():
    eta = np.array([-1.0, 0.5, 2.0, 3.5, 4.8, 5.0, 6.5])
    noise = np.random.default_rng(0).normal(size=(400_000, 1))
    for sigma in (0.3, 0.75):
        sampled = np.clip(eta + sigma * noise, RATING_MIN, RATING_MAX).mean(0)
        np.testing.assert_allclose(expected_clipped(eta, sigma, RATING_MIN, RATING_MAX), sampled, atol=3e-3)
    # inside the scale and far from its bounds it is the identity; it is increasing everywhere
    assert expected_clipped(np.array([2.75]), 0.1, RATING_MIN, RATING_MAX)[0] == pytest.approx(2.75, abs=1e-9)
    grid = np.linspace(-2, 8, 101)
    assert np.all(np.diff(expected_clipped(grid, 0.75, RATING_MIN, RATING_MAX)) > 0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        expected_clipped(grid, 0.0, RATING_MIN, RATING_MAX)


def test_the_links_slope_is_its_derivative():
    eta = np.linspace(-1, 7, 33)
    step = 1e-5
    numeric = (expected_clipped(eta + step, 0.7, RATING_MIN, RATING_MAX)
               - expected_clipped(eta - step, 0.7, RATING_MIN, RATING_MAX)) / (2 * step)
    np.testing.assert_allclose(expected_clipped_slope(eta, 0.7, RATING_MIN, RATING_MAX), numeric, atol=1e-6)


def test_baked_heads_serve_what_the_stacked_net_predicts():
    """Biases baked with their implicit sums, each head's σ in its hparams: the served rating of known
    users = the stacked net's (link of the heads' mean score at their mean σ)."""
    net = _random_stacked()
    heads = [EmbeddingRecommender(net.head(h)) for h in range(2)]
    assert [h.net.hp.link_sigma for h in heads] == pytest.approx([0.6, 0.9])
    model = HybridRecommender(heads, None)
    for user in (0, 7, 59):
        profile = Profile(np.array([0]), np.array([3.0], np.float32), user_idx=user)
        expected = net.predict_mean(torch.full((N_MOVIES,), user), torch.arange(N_MOVIES)).numpy()
        np.testing.assert_allclose(model.predict_all(profile), expected, rtol=1e-5, atol=1e-5)
    served = model.predict_all(Profile(np.array([0]), np.array([3.0], np.float32), user_idx=3))
    assert served.min() >= RATING_MIN and served.max() <= RATING_MAX
    assert torch.equal(heads[1].net.implicit_movie_bias, net.implicit_bias_movie[:, 1, 0])


def test_a_new_users_implicit_bias_is_the_one_training_gave_the_same_movies():
    net = _random_stacked()
    head = RatingHead(EmbeddingRecommender(net.head(0)))
    for user in (0, 13, 59):
        movies = RATINGS.loc[RATINGS["user_idx"] == user, "movie_idx"].to_numpy()
        trained = head.bu[user] - float(net.user_bias[0, user])  # the baked bias minus the raw b_u
        assert head.implicit_bias_sum(movies) == pytest.approx(trained, abs=1e-5)


def test_a_linked_fold_in_minimises_the_linked_objective():
    net = _random_stacked(seeds=(0,), sigma_start=(0.6,))
    lone = net.head(0)
    head = RatingHead(EmbeddingRecommender(lone))
    movies = np.array([1, 4, 9, 16, 25, 36])
    ratings = np.array([5, 5, 4.5, 5, 1, 0.5], np.float32)  # at the scale's ends, where the link bends
    p, b = head.fold_in(movies, ratings)
    s, t = head.implicit_sum(movies), head.implicit_bias_sum(movies)
    theta = torch.tensor(np.r_[p - s, b - t], dtype=torch.float64, requires_grad=True)
    q = torch.tensor(head.Q[movies], dtype=torch.float64)
    fixed = torch.tensor(head.mu + head.bm[movies] + head.Q[movies] @ s + t, dtype=torch.float64)
    score = fixed + q @ theta[:4] + theta[4]
    ridge = 6 * head.l2 * torch.tensor([head.ridge.vector] * 4 + [head.ridge.bias], dtype=torch.float64)
    sigma = torch.tensor(head.link_sigma, dtype=torch.float64)
    loss = ((expected_clipped_torch(score, sigma, RATING_MIN, RATING_MAX) - torch.tensor(ratings)) ** 2).sum() \
        + (ridge * theta ** 2).sum()
    loss.backward()
    assert theta.grad.abs().max() < 1e-6  # a stationary point of a convex-enough objective
    unlinked = RatingHead(EmbeddingRecommender(net.head(0)))
    unlinked.link_sigma = 0.0
    assert np.abs(unlinked.fold_in(movies, ratings)[0] - p).max() > 1e-2  # the link changes the answer
    # the lone model's iterative fold-in (no choice loss, the training l2) solves the same linked objective
    lone.hp = replace(lone.hp, implicit_weight=0.0)
    lone_p, lone_b = fold_in(lone, movies, ratings)
    np.testing.assert_allclose(lone_p.numpy(), p, atol=2e-3)
    assert float(lone_b) == pytest.approx(b, abs=2e-3)


def test_training_with_the_link_learns_each_heads_sigma_and_serves_inside_the_scale():
    model = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                        implicit_l2=0.1, implicit_bias_l2=0.3, rating_link=True, epochs=6, n_heads=2)
    heads, record, _ = fit_stacked(Ratings.from_frame(RATINGS), None, None, N_USERS, N_MOVIES, model, TrainerConfig(),
                                   [0, 100], model.epochs)
    sigmas = [h.net.hp.link_sigma for h in heads]
    assert all(s > 0 for s in sigmas) and sigmas[0] != sigmas[1] and 0.75 not in sigmas
    assert record.history[-1]["train_loss"] < record.history[0]["train_loss"]
    served = HybridRecommender(heads, None)
    for user in range(0, N_USERS, 11):
        seen = RATINGS[RATINGS["user_idx"] == user]
        predicted = served.predict_all(Profile(seen["movie_idx"].to_numpy(), seen["rating"].to_numpy()))
        assert predicted.min() >= RATING_MIN and predicted.max() <= RATING_MAX


def test_heads_with_and_without_a_link_are_not_served_together():
    linked = EmbeddingRecommender(EmbeddingNet(_hp(link_sigma=0.7)))
    plain = EmbeddingRecommender(EmbeddingNet(_hp()))
    with pytest.raises(ValueError, match="some rating heads have a rating link and some have none"):
        HybridRecommender([linked, plain], None)


def test_a_model_saved_before_the_implicit_biases_loads_with_none_and_the_link_is_saved(tmp_path):
    net = EmbeddingNet(_hp(link_sigma=0.8), seed=3)
    with torch.no_grad():
        net.implicit_movie_bias.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    model = EmbeddingRecommender(net)
    model.save(tmp_path / "new.pt")
    loaded = EmbeddingRecommender.load(tmp_path / "new.pt")
    assert loaded.net.hp.link_sigma == 0.8 and torch.equal(loaded.net.implicit_movie_bias, net.implicit_movie_bias)
    state = model.state()
    state["format"] = 2
    del state["state_dict"]["implicit_movie_bias"]
    del state["hparams"]["link_sigma"]
    torch.save(state, tmp_path / "format2.pt")
    old = EmbeddingRecommender.load(tmp_path / "format2.pt")
    assert old.net.hp.link_sigma == 0.0 and not old.net.implicit_movie_bias.any()


def test_a_days_bias_is_added_to_the_score_inside_the_link():
    """predict_at = g(stretched score + stretch × the day's offset): the bias moves the latent score, so a
    rating near the top of the scale moves less than the offset (g flattens there)."""
    net = _random_stacked()
    heads = [EmbeddingRecommender(net.head(h)) for h in range(2)]
    day0 = 1_500_000_000 // DAY_SECONDS * DAY_SECONDS
    day_bias = DayBias(pair_keys([5], [day0]), np.array([0.8], np.float32))
    model = HybridRecommender(heads, None, day_bias=day_bias, rating_stretch=1.2)
    plain = HybridRecommender(heads, None, rating_stretch=1.2)
    profile = Profile(np.array([0]), np.array([3.0], np.float32), user_idx=5)
    movies, stamps = np.arange(N_MOVIES), np.full(N_MOVIES, day0 + 3600)
    score = model._scores(profile)
    sigma = np.mean([h.net.hp.link_sigma for h in heads])
    expected = expected_clipped(score + 1.2 * 0.8, sigma, RATING_MIN, RATING_MAX)
    np.testing.assert_allclose(model.predict_at(profile, movies, stamps), expected, rtol=1e-6, atol=1e-6)
    moved = model.predict_at(profile, movies, stamps) - plain.predict(profile, movies)
    assert np.all(moved > 0) and np.all(moved < 1.2 * 0.8)
    other_day = model.predict_at(profile, movies, np.full(N_MOVIES, day0 + 3 * DAY_SECONDS))
    np.testing.assert_allclose(other_day, plain.predict(profile, movies), rtol=1e-6)


def test_a_saved_linked_model_serves_the_same_ratings_after_loading(tmp_path):
    net = _random_stacked()
    model = HybridRecommender([EmbeddingRecommender(net.head(h)) for h in range(2)], None, rating_stretch=1.03)
    model.save(tmp_path)
    loaded = HybridRecommender.load(tmp_path)
    assert loaded.link_sigma == pytest.approx(0.75) and loaded.rating_stretch == 1.03
    for profile in (Profile(np.array([0]), np.array([3.0], np.float32), user_idx=8),
                    Profile(np.array([2, 9, 30]), np.array([5.0, 4.5, 1.0], np.float32))):
        np.testing.assert_array_equal(loaded.predict_all(profile), model.predict_all(profile))
        np.testing.assert_array_equal(loaded.rank_scores(profile), model.rank_scores(profile))
