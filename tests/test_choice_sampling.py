"""The sampled choice loss (model.choice_negatives > 0): exact in the limit, right draws, learns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from movierec.config import ModelConfig, TrainerConfig
from movierec.models.embedding.batches import ChoiceTargets, Ratings
from movierec.models.embedding.fit import fit_embedding
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet
from tests.synthetic import liked_movies, two_group_ratings


def _net(n_users=5, n_movies=7, seed=0) -> EmbeddingNet:
    net = EmbeddingNet(EmbeddingHParams(n_users=n_users, n_movies=n_movies, embedding_dim=3, dropout=0.0,
                                        global_mean=3.0), seed=seed)
    with torch.no_grad():  # away from the near-uniform start, so a wrong normaliser shows
        for table in (net.user, net.movie, net.choice_movie_bias):
            table.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(seed + 1))
    return net


def _targets(n_users=5, n_movies=7, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.random((n_users, n_movies)) * (rng.random((n_users, n_movies)) < 0.5)
    weights[:, 0] += 0.5  # every user chose something
    return weights / weights.sum(axis=1, keepdims=True)


def _as_sampled_args(weights: np.ndarray, q: np.ndarray):
    """Users, their chosen movies as (row, movie, weight, log q) for drawing probabilities ``q``."""
    rows, movies = np.nonzero(weights)
    return (torch.arange(weights.shape[0]), torch.as_tensor(rows), torch.as_tensor(movies),
            torch.as_tensor(weights[rows, movies], dtype=torch.float32),
            torch.as_tensor(np.log(q[movies]), dtype=torch.float32))


def test_drawing_every_movie_once_uniformly_gives_the_exact_loss_and_gradient():
    net, weights = _net(), _targets()
    users = torch.arange(5)
    exact = net.choice_loss(users, torch.as_tensor(weights, dtype=torch.float32))
    exact_grad = torch.autograd.grad(exact, [net.user.weight, net.movie.weight, net.choice_proj.weight])
    every = torch.arange(7)
    uniform = np.full(7, 1 / 7)
    sampled = net.sampled_choice_loss(*_as_sampled_args(weights, uniform), every, torch.full((7,), -math.log(7)))
    sampled_grad = torch.autograd.grad(sampled, [net.user.weight, net.movie.weight, net.choice_proj.weight])
    assert sampled.item() == pytest.approx(exact.item(), rel=1e-6)
    for a, b in zip(sampled_grad, exact_grad):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_many_importance_sampled_draws_approach_the_exact_loss():
    net, weights = _net(), _targets()
    exact = net.choice_loss(torch.arange(5), torch.as_tensor(weights, dtype=torch.float32)).item()
    q = np.array([0.3, 0.05, 0.05, 0.1, 0.2, 0.1, 0.2])  # any q > 0 is unbiased for Z
    draws = np.random.default_rng(0).choice(7, size=20_000, p=q)
    sampled = net.sampled_choice_loss(*_as_sampled_args(weights, q), torch.as_tensor(draws),
                                      torch.as_tensor(np.log(q[draws]), dtype=torch.float32)).item()
    assert sampled == pytest.approx(exact, abs=0.02)
    few = net.sampled_choice_loss(*_as_sampled_args(weights, q), torch.as_tensor(draws[:3]),
                                  torch.as_tensor(np.log(q[draws[:3]]), dtype=torch.float32)).item()
    assert abs(few - exact) > abs(sampled - exact)  # the estimate does depend on the draws


def test_a_chosen_movie_missing_from_the_draws_cannot_be_raised_without_bound():
    """Movie 6 is chosen but never drawn: its score still appears in its own normaliser, so raising
    it helps less and less (each term is >= 0), instead of lowering the loss forever."""
    net, weights = _net(), _targets()
    q = np.array([0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.0001])
    draws = torch.tensor([0, 0, 1, 2, 3, 4, 5, 0])  # no 6
    args = (*_as_sampled_args(weights, q), draws, torch.as_tensor(np.log(q[draws.numpy()]), dtype=torch.float32))
    assert weights[:, 6].sum() > 0

    def loss_with_bias_of_6(value: float) -> float:
        with torch.no_grad():
            net.choice_movie_bias.weight[6] = value
            return net.sampled_choice_loss(*args).item()

    high, higher = loss_with_bias_of_6(30.0), loss_with_bias_of_6(60.0)
    assert higher == pytest.approx(high, abs=1e-4)  # saturated: no gain left
    assert higher > 0


def test_sampled_batches_carry_each_users_normalised_ratings_and_seeded_draws():
    frame = two_group_ratings()
    targets = ChoiceTargets(Ratings.from_frame(frame), 60, 40, users_per_batch=8, seed=3, negatives=50)
    users, pos_row, pos_movie, pos_weight, pos_log_q, neg, neg_log_q = targets.next_sampled_batch()
    assert len(users) == 8 and len(neg) == 50 and neg.max() < 40
    for row, user in enumerate(users.tolist()):
        mine = frame[frame["user_idx"] == user]
        expected = dict(zip(mine["movie_idx"], mine["rating"] / mine["rating"].sum()))
        got = dict(zip(pos_movie[pos_row == row].tolist(), pos_weight[pos_row == row].tolist()))
        assert got.keys() == expected.keys()
        assert got == pytest.approx(expected)
    for movies, log_q in ((neg, neg_log_q), (pos_movie, pos_log_q)):
        torch.testing.assert_close(log_q, torch.log(torch.as_tensor(targets.sampling_p[movies.numpy()],
                                                                    dtype=torch.float32)))
    again = ChoiceTargets(Ratings.from_frame(frame), 60, 40, users_per_batch=8, seed=3,
                          negatives=50).next_sampled_batch()
    assert all(torch.equal(a, b) for a, b in zip(again, (users, pos_row, pos_movie, pos_weight, pos_log_q, neg,
                                                         neg_log_q)))


def test_draws_follow_count_to_the_three_quarters():
    frame = two_group_ratings()
    frame = frame[~((frame["movie_idx"] >= 30) & (frame["user_idx"] % 3 != 0))]  # movies 30-39: rarer
    targets = ChoiceTargets(Ratings.from_frame(frame), 60, 40, users_per_batch=60, seed=0, negatives=200_000)
    counts = np.bincount(frame["movie_idx"], minlength=40) + 1.0
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(targets.sampling_p, expected)
    draws = targets.next_sampled_batch()[5].numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=40) / len(draws), expected, atol=0.003)


def _chosen_by_group(n_users=60, n_movies=40, per_user=10, seed=0):
    """Group A rates only movies 0-19, group B only 20-39, all with the same rating: the rating
    head has nothing to learn, so only the choice head can tell what each user would pick."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    half = n_movies // 2
    rows = [(u, int(m) + (0 if u % 2 == 0 else half), 3.0)
            for u in range(n_users) for m in rng.permutation(half)[:per_user]]
    return pd.DataFrame(rows, columns=["user_idx", "movie_idx", "rating"]).astype({"rating": "float32"})


def _choice_separation(implicit_weight: float, negatives: int) -> float:
    """Mean over users of the AUC of the choice scores: their group's unseen movies against the
    other group's movies (1: always above, 0.5: chance)."""
    ratings = _chosen_by_group()
    model = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.001, batch_size=64, dropout=0.0,
                        implicit_weight=implicit_weight, implicit_users=16, choice_negatives=negatives)
    data = Ratings.from_frame(ratings)  # every rating is 3.0: keep the last epoch (validation MSE picks nothing)
    net = fit_embedding(data, data, None, 60, 40, model, TrainerConfig(max_epochs=20, patience=20), seed=0,
                        keep_last=True).model.net
    margins = []
    for user in range(60):
        with torch.no_grad():
            scores = net.choice_from_vector(net.user.weight[user]).numpy()
        own = np.isin(np.arange(40), list(liked_movies(user)))
        unseen_own = own & ~np.isin(np.arange(40), ratings.loc[ratings["user_idx"] == user, "movie_idx"])
        margins.append(np.mean(scores[unseen_own][:, None] > scores[~own][None, :]))
    return float(np.mean(margins))


@pytest.mark.parametrize("negatives", [0, 24])
def test_the_choice_head_learns_what_each_group_picks_exact_or_sampled(negatives):
    assert _choice_separation(implicit_weight=1.0, negatives=negatives) > 0.95


def test_without_the_choice_loss_the_groups_movies_are_at_chance():  # the control of the test above
    assert _choice_separation(implicit_weight=0.0, negatives=0) < 0.6
