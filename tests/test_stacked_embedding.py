"""Stacked heads with implicit terms (models/embedding/stacked*.py): known answers on small data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from movierec.config import ModelConfig, TrainerConfig
from movierec.models.embedding.batches import Ratings
from movierec.models.embedding.hybrid import HybridRecommender, RatingHead
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender, fold_in
from movierec.models.embedding.stacked import StackedNet, count_weights
from movierec.models.embedding.stacked_fit import fit_stacked
from movierec.models.embedding.train_hybrid import ratings_csr, train_hybrid
from movierec.models.protocol import Profile, recommend
from tests.synthetic import liked_movies, two_group_ratings

N_USERS, N_MOVIES = 60, 40
MODEL = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                    implicit_l2=0.1, epochs=6, n_heads=2)
TRAINER = TrainerConfig()
RATINGS = two_group_ratings()


def _fit(model=MODEL, seeds=(0, 100), epochs=None, average_from=0):
    heads, record, _ = fit_stacked(Ratings.from_frame(RATINGS), None, None, N_USERS, N_MOVIES, model, TRAINER,
                                   list(seeds), epochs or model.epochs, average_from=average_from)
    return heads, record


def _hp(**kw) -> EmbeddingHParams:
    return EmbeddingHParams(n_users=N_USERS, n_movies=N_MOVIES, embedding_dim=4, dropout=0.0, global_mean=3.0, **kw)


def test_a_stacked_head_starts_as_the_lone_model_of_its_seed():
    stacked = StackedNet(_hp(), [3, 103])
    lone = EmbeddingNet(_hp(), seed=103)
    assert torch.equal(stacked.user[1], lone.user.weight) and torch.equal(stacked.movie[1], lone.movie.weight)
    assert torch.equal(stacked.choice_proj[1], lone.choice_proj.weight)


def test_heads_train_independently_of_each_other():
    # without the shared choice users, head 1 of two is exactly the lone model of its seed
    model = replace(MODEL, implicit_weight=0.0)
    pair, _ = _fit(model, seeds=(0, 100))
    alone, _ = _fit(model, seeds=(100,))
    for a, b in zip(pair[1].net.state_dict().values(), alone[0].net.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_stacked_heads_learn_each_groups_taste():
    heads, record = _fit()
    model = HybridRecommender(heads, None)
    assert record.history[-1]["train_loss"] < record.history[0]["train_loss"]
    for user in range(0, N_USERS, 7):
        seen = RATINGS[RATINGS["user_idx"] == user]
        profile = Profile(seen["movie_idx"].to_numpy(), seen["rating"].to_numpy(), user_idx=user)
        unseen = np.setdiff1d(np.arange(N_MOVIES), profile.movie_idx)
        liked = np.isin(unseen, list(liked_movies(user)))
        predicted = model.predict(profile, unseen)
        assert predicted[liked].min() > predicted[~liked].max(), user
        assert set(recommend(model, profile, 5).movie_idx) <= liked_movies(user)


def test_baked_head_predicts_what_the_stacked_net_predicts_and_keeps_y():
    pattern = ratings_csr(RATINGS, N_USERS, N_MOVIES)
    net = StackedNet(_hp(), [0, 100], pattern, implicit_l2=0.1)
    with torch.no_grad():  # non-zero implicit tables, as after training
        net.implicit_movie.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        net.implicit_user.normal_(0, 0.3, generator=torch.Generator().manual_seed(2))
    users, movies = torch.arange(N_USERS).repeat(2), torch.arange(2 * N_USERS) % N_MOVIES
    both = [EmbeddingRecommender(net.head(h)) for h in range(2)]
    mean = np.mean([[m.net.predict_pairs(users, movies).detach().numpy()] for m in both], axis=0)[0]
    np.testing.assert_allclose(mean, net.predict_mean(users, movies).numpy(), rtol=1e-5, atol=1e-5)
    assert torch.equal(both[1].net.implicit_movie, net.implicit_movie[:, 1])


def test_a_new_users_implicit_sum_is_the_one_training_gave_the_same_movies():
    """The fold-in's s for a request's movies = the sum training added to a known user who rated them."""
    pattern = ratings_csr(RATINGS, N_USERS, N_MOVIES)
    net = StackedNet(_hp(), [0], pattern, implicit_l2=0.1)
    with torch.no_grad():
        net.implicit_movie.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    head = RatingHead(EmbeddingRecommender(net.head(0)))
    for user in (0, 13, 59):
        movies = RATINGS.loc[RATINGS["user_idx"] == user, "movie_idx"].to_numpy()
        trained_sum = (head.P[user] - net.user[0, user].detach().numpy())  # the baked table minus raw p_u
        np.testing.assert_allclose(head.implicit_sum(movies), trained_sum, rtol=1e-5, atol=1e-6)


def test_fold_in_adds_the_implicit_sum_and_solves_the_ridge_for_the_rest():
    rng = np.random.default_rng(0)
    net = EmbeddingNet(_hp(l2=0.2))
    with torch.no_grad():
        net.movie.weight.copy_(torch.from_numpy(rng.normal(size=(N_MOVIES, 4)).astype(np.float32)))
        net.movie_bias.weight.copy_(torch.from_numpy(rng.normal(size=(N_MOVIES, 1)).astype(np.float32)))
        net.implicit_movie.copy_(torch.from_numpy(rng.normal(size=(N_MOVIES, 4)).astype(np.float32)))
    head = RatingHead(EmbeddingRecommender(net))
    movies = np.array([1, 4, 9, 16, 25, 36])
    ratings = np.array([5, 4, 1, 3.5, 2, 4.5], np.float32)
    s = net.implicit_movie.numpy()[movies].sum(0) / np.sqrt(len(movies))
    # independent known answer: min over (p, b) of |A [p; b] - (r - mu - b_m - Q s)|^2 + n l2 |[p; b]|^2
    A = np.hstack([net.movie.weight.detach().numpy()[movies], np.ones((6, 1))]).astype(np.float64)
    y = ratings - 3.0 - net.movie_bias.weight.detach().numpy()[movies, 0] - A[:, :4] @ s
    stacked_A = np.vstack([A, np.sqrt(6 * 0.2) * np.eye(5)])
    theta = np.linalg.lstsq(stacked_A, np.r_[y, np.zeros(5)], rcond=None)[0]
    p, b = head.fold_in(movies, ratings)
    np.testing.assert_allclose(p, theta[:4] + s, rtol=1e-4, atol=1e-5)
    assert b == pytest.approx(theta[4], abs=1e-5)
    # the lone model's iterative fold-in (choice loss off) solves the same objective
    lone_p, lone_b = fold_in(net, movies, ratings)
    np.testing.assert_allclose(lone_p.numpy(), p, rtol=1e-3, atol=1e-3)


def test_weight_averaging_keeps_the_mean_of_the_epochs_weights():
    model = replace(MODEL, dropout=0.0)
    two, _ = _fit(model, epochs=2)
    three, _ = _fit(model, epochs=3)
    averaged, _ = _fit(model, epochs=3, average_from=2)
    for h in range(2):
        for name in ("user.weight", "movie.weight", "implicit_movie"):
            expected = (two[h].net.state_dict()[name] + three[h].net.state_dict()[name]) / 2
            torch.testing.assert_close(averaged[h].net.state_dict()[name], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="average_from"):
        _fit(model, epochs=3, average_from=4)


def test_train_hybrid_with_a_fixed_epoch_count_trains_the_stack_and_logs_each_epoch():
    logged: list[int] = []
    test = RATINGS.sample(100, random_state=0)
    training = train_hybrid(RATINGS, test, N_USERS, N_MOVIES, replace(MODEL, blend_item_item=0.0), TRAINER, seed=4,
                            hooks=lambda i: (lambda epoch, row: logged.append(epoch), None))
    assert len(training.model.heads) == 2 and training.head_seeds == [4, 104]
    assert logged == list(range(MODEL.epochs)) and "test_loss" in training.heads[0].history[0]
    assert [h.best_epoch for h in training.heads] == [MODEL.epochs - 1] * 2
    with pytest.raises(ValueError, match="stacked heads train 6 epochs"):
        train_hybrid(RATINGS, None, N_USERS, N_MOVIES, MODEL, TRAINER, seed=4, epochs=[2, 2])


def test_a_model_saved_before_the_implicit_terms_loads_as_it_was_and_an_unknown_format_is_refused(tmp_path):
    """Format 1 (registered versions from before the implicit terms: no `format`, no implicit_movie)
    loads with y = 0, which is the model as it was trained; any other format is refused clearly."""
    net = EmbeddingNet(_hp(), seed=3)
    model = EmbeddingRecommender(net)
    state = model.state()
    del state["format"]
    del state["state_dict"]["implicit_movie"]
    torch.save(state, tmp_path / "old.pt")
    old = EmbeddingRecommender.load(tmp_path / "old.pt")
    assert not old.net.implicit_movie.any()
    profile = Profile(np.array([0, 3, 21]), np.array([5.0, 4.5, 1.0], np.float32))
    np.testing.assert_array_equal(old.rank_scores(profile), model.rank_scores(profile))
    state["format"] = 7
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="save format 7.*retrain"):
        EmbeddingRecommender.load(tmp_path / "future.pt")
    model.save(tmp_path / "new.pt")
    assert torch.equal(EmbeddingRecommender.load(tmp_path / "new.pt").net.implicit_movie, model.net.implicit_movie)


def test_the_served_new_user_path_folds_in_each_heads_implicit_sum():
    """HybridRecommender's new-user path = each head's RatingHead.fold_in, implicit sum included."""
    pattern = ratings_csr(RATINGS, N_USERS, N_MOVIES)
    net = StackedNet(_hp(l2=0.05), [0, 100, 200], pattern, implicit_l2=0.1)
    with torch.no_grad():
        net.implicit_movie.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
    heads = [EmbeddingRecommender(net.head(h)) for h in range(3)]
    model = HybridRecommender(heads, None)
    profile = Profile(np.array([0, 3, 21, 30]), np.array([5.0, 4.5, 1.0, 2.0], np.float32))
    per_head = [RatingHead(h) for h in heads]
    expected = np.mean([t.rating(*t.fold_in(profile.movie_idx, profile.rating)) for t in per_head], axis=0)
    np.testing.assert_allclose(model.predict_all(profile), expected, rtol=1e-5, atol=1e-5)
    for t in per_head:  # the same heads without the implicit sum (the served model keeps its own copy)
        t.Y = np.zeros_like(t.Y)
    without_y = np.mean([t.rating(*t.fold_in(profile.movie_idx, profile.rating)) for t in per_head], axis=0)
    assert np.abs(model.predict_all(profile) - without_y).max() > 1e-3


def test_logging_test_loss_does_not_change_the_stacked_weights():
    data, carve = Ratings.from_frame(RATINGS), Ratings.from_frame(RATINGS.sample(200, random_state=1))
    model = replace(MODEL, dropout=0.3, epochs=2)
    runs = [fit_stacked(data, carve, test, N_USERS, N_MOVIES, model, TRAINER, [0, 100], 2)[0]
            for test in (None, Ratings.from_frame(RATINGS.sample(100, random_state=2)))]
    for a, b in zip(runs[0][1].net.state_dict().values(), runs[1][1].net.state_dict().values()):
        assert torch.equal(a, b)


def test_count_weights_are_count_to_the_minus_power_with_mean_one_over_the_ratings():
    rows = np.array([0, 0, 0, 1])  # index 0 rated 3 times, 1 once, 2 never
    np.testing.assert_allclose(count_weights(rows, 3, 1.0).numpy(), [2 / 3, 2, 2], rtol=1e-6)
    np.testing.assert_allclose(count_weights(rows, 3, 0.0).numpy(), [1, 1, 1])


def test_frequency_aware_l2_weighs_each_ratings_penalty_by_its_user_and_movie():
    lighter = RATINGS[~((RATINGS["user_idx"] == 5) & (RATINGS["movie_idx"] > 10))]  # user 5 rated fewer
    pattern = ratings_csr(lighter, N_USERS, N_MOVIES)
    plain, weighted = (StackedNet(_hp(), [0], pattern, l2_count_power=p) for p in (0.0, 0.5))
    users, movies = torch.tensor([[0, 5, 5]]), torch.tensor([[1, 1, 7]])
    ratings = torch.tensor([[4.0, 3.0, 2.0]])
    tables = plain.tables()
    mse, plain_loss = plain.rating_loss(tables, users, movies, ratings, 0.1)
    _, weighted_loss = weighted.rating_loss(tables, users, movies, ratings, 0.1)
    user_reg = plain.user[0, users[0]].pow(2).sum(-1) + plain.user_bias[0, users[0]] ** 2
    movie_reg = plain.movie[0, movies[0]].pow(2).sum(-1) + plain.movie_bias[0, movies[0]] ** 2
    expected = mse + 0.1 * (weighted.user_l2[users[0]] * user_reg + weighted.movie_l2[movies[0]] * movie_reg).mean()
    assert torch.allclose(plain_loss, mse + 0.1 * (user_reg + movie_reg).mean())
    assert torch.allclose(weighted_loss, expected)
    assert weighted.user_l2[0] < 1 < weighted.user_l2[5]  # a heavier user's ratings each carry less L2


def test_averaging_every_epochs_last_step_is_the_epoch_end_average_and_every_step_is_not():
    model = replace(MODEL, dropout=0.0)
    steps = -(-len(RATINGS) // model.batch_size)  # steps per epoch
    at_ends, _ = _fit(model, epochs=3, average_from=2)
    every_last, _ = _fit(replace(model, average_every=steps), epochs=3, average_from=2)
    every_step, _ = _fit(replace(model, average_every=1), epochs=3, average_from=2)
    for h in range(2):
        for name in ("user.weight", "movie.weight", "implicit_movie"):
            ends = at_ends[h].net.state_dict()[name]
            torch.testing.assert_close(every_last[h].net.state_dict()[name], ends, rtol=1e-5, atol=1e-6)
            assert not torch.allclose(every_step[h].net.state_dict()[name], ends, rtol=1e-3, atol=1e-4)


def test_the_bias_l2_scale_multiplies_only_the_biases_penalty():
    plain, scaled = (StackedNet(_hp(), [0], bias_l2_scale=s) for s in (1.0, 0.25))
    scaled.load_state_dict(plain.state_dict())
    with torch.no_grad():  # non-zero biases, so that the scale shows
        for net in (plain, scaled):
            net.user_bias.fill_(0.5)
            net.movie_bias.fill_(-0.3)
    users, movies, ratings = torch.tensor([[0, 5, 5]]), torch.tensor([[1, 1, 7]]), torch.tensor([[4.0, 3.0, 2.0]])
    mse, plain_loss = plain.rating_loss(plain.tables(), users, movies, ratings, 0.1)
    _, scaled_loss = scaled.rating_loss(scaled.tables(), users, movies, ratings, 0.1)
    vectors = (plain.user[0, users[0]].pow(2).sum(-1) + plain.movie[0, movies[0]].pow(2).sum(-1)).mean()
    biases = 0.5 ** 2 + 0.3 ** 2
    torch.testing.assert_close(plain_loss, mse + 0.1 * (vectors + biases))
    torch.testing.assert_close(scaled_loss, mse + 0.1 * (vectors + 0.25 * biases))
