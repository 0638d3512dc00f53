"""Metric definitions pinned by hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movierec.evaluation.metrics import (
    coverage,
    hit_rate_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)


def test_rmse_and_mae_clip_predictions_to_the_scale():
    assert rmse(np.array([6.0, 0.0]), np.array([5.0, 0.5])) == 0.0
    assert rmse(np.array([3.0, 4.0]), np.array([4.0, 2.0])) == pytest.approx(math.sqrt((1 + 4) / 2))
    assert mae(np.array([3.0, 4.0]), np.array([4.0, 2.0])) == pytest.approx(1.5)


def test_hand_computed_ranking_metrics():
    ranked, relevant = np.array([5, 3, 9, 1]), {3, 1, 7}
    # hits at ranks 2 and 4: DCG = 1/log2(3) + 1/log2(5); IDCG (3 relevant, k=4) = 1 + 1/log2(3) + 1/2
    assert precision_at_k(ranked, relevant, 4) == 0.5
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    dcg, idcg = 1 / math.log2(3) + 1 / math.log2(5), 1 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / idcg)
    assert hit_rate_at_k(ranked, relevant, 4) == 1.0


def test_fewer_relevant_than_k_caps_the_ideal_dcg():
    assert ndcg_at_k(np.array([4, 2, 8]), {4}, 3) == 1.0
    assert ndcg_at_k(np.array([2, 4, 8]), {4}, 3) == pytest.approx(1 / math.log2(3))
    assert precision_at_k(np.array([4, 2, 8]), {4}, 3) == pytest.approx(1 / 3)


def test_short_and_empty_lists():
    assert precision_at_k(np.array([1]), {1}, 10) == 0.1  # divides by k, not the list length
    assert ndcg_at_k(np.array([], np.int64), {1}, 10) == 0.0
    assert hit_rate_at_k(np.array([], np.int64), {1}, 10) == 0.0
    assert math.isnan(ndcg_at_k(np.array([1]), set(), 10))


def test_only_k_first_items_count():
    assert precision_at_k(np.array([1, 2, 3]), {3}, 2) == 0.0


def test_ranking_metrics_skip_users_without_relevant_items_and_count_coverage():
    result = ranking_metrics([np.array([1, 2]), np.array([3, 4])], [{1}, set()], k=2, n_movies=8)
    assert result["n_users"] == 1
    assert result["precision@2"] == 0.5 and result["ndcg@2"] == 1.0
    assert result["coverage@2"] == 4 / 8
    assert coverage([np.array([1, 1, 2])], 4) == 0.5


def test_fewer_relevant_than_k_in_recall_hit_rate_and_precision():
    ranked, relevant = np.array([7, 3, 5, 1, 2]), {3, 1}
    # hits at ranks 2 and 4, both relevant found: recall 1 although precision stays 2/5
    assert recall_at_k(ranked, relevant, 5) == 1.0
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(0.4)
    # IDCG over 2 hits only: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3)
    dcg, idcg = 1 / math.log2(3) + 1 / math.log2(5), 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / idcg)


def test_empty_ranked_list_scores_zero_and_empty_relevant_is_undefined():
    empty = np.array([], np.int64)
    assert precision_at_k(empty, {1, 2}, 10) == 0.0
    assert recall_at_k(empty, {1, 2}, 10) == 0.0
    assert math.isnan(recall_at_k(np.array([1]), set(), 10))
    assert math.isnan(hit_rate_at_k(np.array([1]), set(), 10))
    assert coverage([empty, empty], 5) == 0.0


def test_no_user_with_a_relevant_item_gives_nan_means():
    result = ranking_metrics([np.array([1, 2])], [set()], k=2, n_movies=4)
    assert result["n_users"] == 0 and math.isnan(result["ndcg@2"]) and math.isnan(result["precision@2"])
    assert result["coverage@2"] == 0.5


def test_tied_scores_rank_the_lower_index_first_and_that_decides_the_metrics():
    from movierec.models.protocol import top_k

    # movies 2, 5 and 6 tie at 0.9 behind movie 4 (1.0); top-3 = [4, 2, 5], never 6
    scores = np.array([0.1, 0.5, 0.9, 0.2, 1.0, 0.9, 0.9])
    ranked = top_k(scores, 3).movie_idx
    assert ranked.tolist() == [4, 2, 5]
    assert ndcg_at_k(ranked, {5}, 3) == pytest.approx(1 / math.log2(4))  # rank 3
    assert ndcg_at_k(ranked, {6}, 3) == 0.0                               # tied but cut
    # excluding the user's rated movie 2 lets the next tied index (5, then 6) move up
    ranked = top_k(scores, 3, exclude=np.array([2])).movie_idx
    assert ranked.tolist() == [4, 5, 6]
    assert ndcg_at_k(ranked, {6}, 3) == pytest.approx(1 / math.log2(4))


def test_ranking_metrics_means_over_users_by_hand():
    # user 1: [1, 2] vs {2} -> P 1/2, R 1, NDCG 1/log2 3, HR 1; user 2: [3, 4] vs {5, 6, 7} -> all 0
    result = ranking_metrics([np.array([1, 2]), np.array([3, 4])], [{2}, {5, 6, 7}], k=2, n_movies=10)
    assert result["precision@2"] == pytest.approx(0.25)
    assert result["recall@2"] == pytest.approx(0.5)
    assert result["ndcg@2"] == pytest.approx(1 / math.log2(3) / 2)
    assert result["hit_rate@2"] == pytest.approx(0.5)
    assert result["coverage@2"] == pytest.approx(0.4)
