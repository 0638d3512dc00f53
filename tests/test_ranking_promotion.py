"""The one ranking path (exclusions before the cut, ties, exact k) and the promotion rule."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.models.protocol import top_k
from movierec.registry.promotion import decide_promotion


def test_top_k_excludes_before_the_cut_and_returns_exactly_k():
    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0])
    ranked = top_k(scores, 3, exclude=np.array([0, 2]))
    assert ranked.movie_idx.tolist() == [1, 3, 4]
    assert ranked.score.tolist() == [8.0, 6.0, 5.0]
    assert ranked.n_candidates == 4


def test_top_k_with_fewer_candidates_than_k_and_a_filter():
    allowed = np.array([True, False, True, False, False, False])
    ranked = top_k(np.arange(6.0), 5, exclude=np.array([2]), allowed=allowed)
    assert ranked.movie_idx.tolist() == [0] and ranked.n_candidates == 1


def test_ties_break_towards_the_lower_index_and_nan_is_never_ranked():
    scores = np.array([1.0, 3.0, np.nan, 3.0, 3.0, 0.0])
    assert top_k(scores, 2).movie_idx.tolist() == [1, 3]
    assert 2 not in top_k(scores, 6).movie_idx.tolist()


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be"):
        top_k(np.ones(3), 0)


CHAMPION = {"rmse": 0.83, "ndcg@10": 0.25}


@pytest.mark.parametrize("new,promote", [
    ({"rmse": 0.834, "ndcg@10": 0.245}, True),    # worse, within tolerance
    ({"rmse": 0.80, "ndcg@10": 0.30}, True),       # better
    ({"rmse": 0.836, "ndcg@10": 0.30}, False),     # rmse beyond tolerance
    ({"rmse": 0.80, "ndcg@10": 0.239}, False),     # ndcg beyond tolerance
])
def test_promotion_rule(new, promote):
    decision = decide_promotion(new, CHAMPION, rmse_tolerance=0.005, ndcg_tolerance=0.01)
    assert decision.promote is promote
    if not promote:
        assert "worse than the champion" in decision.reason


def test_first_version_is_always_promoted():
    assert decide_promotion({"rmse": 2.0, "ndcg@10": 0.0}, None, 0.0, 0.0).promote
