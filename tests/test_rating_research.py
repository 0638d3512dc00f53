"""benchmarks/rating_research.py: its research net, baked into a plain EmbeddingNet, predicts the
same for known users, and the class swap it trains under is undone afterwards."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from movierec.models.embedding import fit as fit_module
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender
from movierec.models.protocol import Profile
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def research():
    spec = importlib.util.spec_from_file_location("bench_rating_research",
                                                  REPO_ROOT / "benchmarks" / "rating_research.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_baked_net_predicts_like_the_research_net(research):
    hp = EmbeddingHParams(n_users=6, n_movies=5, embedding_dim=3, dropout=0.0, global_mean=3.5)
    net = research.ResearchNet(hp, seed=1, research=research.Research(implicit=True))
    rng = np.random.default_rng(0)
    ratings = sp.csr_matrix((rng.random((6, 5)) < 0.5).astype(np.float32) * 4.0)
    net.attach(ratings)
    with torch.no_grad():
        net.implicit_movie.normal_()
        net.implicit_user.normal_()
    net.eval()
    users, movies = torch.arange(6).repeat_interleave(5), torch.arange(5).repeat(6)
    expected = net.predict_pairs(users, movies).detach().numpy()
    baked = net.baked()
    assert type(baked) is EmbeddingNet
    np.testing.assert_allclose(baked.predict_pairs(users, movies).detach().numpy(), expected, rtol=1e-5, atol=1e-5)
    # the user vector sums the rated movies' y / sqrt(count): check one by hand
    rated = ratings[2].indices
    by_hand = net.user.weight[2] + net.implicit_movie[rated].sum(0) / np.sqrt(len(rated))
    np.testing.assert_allclose(baked.user.weight[2].detach().numpy(), by_hand.detach().numpy(), rtol=1e-5, atol=1e-6)
    # and the served recommender (rating head on the baked tables) agrees with the research net
    served = EmbeddingRecommender(baked).predict(Profile(np.empty(0), np.empty(0), user_idx=4), np.arange(5))
    np.testing.assert_allclose(served, expected[20:25], rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the choice head uses the same vectors
        np.testing.assert_allclose(baked.choice_logits(users[:6]).numpy(), net.choice_logits(users[:6]).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_research_classes_are_swapped_only_while_a_variant_trains(research):
    before = fit_module.EmbeddingNet, fit_module.EmbeddingTask
    with pytest.raises(RuntimeError), research.research_classes(research.Research(freq_alpha=0.5)):
        assert fit_module.EmbeddingNet is not before[0]
        raise RuntimeError("training failed")
    assert (fit_module.EmbeddingNet, fit_module.EmbeddingTask) == before
