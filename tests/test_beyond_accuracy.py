"""Beyond-accuracy metrics and the evaluate() protocol pinned by hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from movierec.evaluation.metrics import (
    activity_bucket,
    beyond_accuracy_metrics,
    intra_list_diversity,
    jaccard_distance,
    mean_popularity,
    ndcg_by_activity,
    novelty,
)
from movierec.evaluation.protocol import MovieStats, UserCase, evaluate
from movierec.models.protocol import Profile

# 6 movies: train rating counts and genre sets
N_RATINGS = np.array([8, 4, 2, 1, 0, 8])
GENRES = [frozenset({"Action"}), frozenset({"Action", "Comedy"}), frozenset({"Comedy"}),
          frozenset(), frozenset(), frozenset({"Drama"})]
N_USERS = 8


def test_mean_popularity_and_novelty_by_hand():
    assert mean_popularity(np.array([0, 1, 2]), N_RATINGS) == pytest.approx((8 + 4 + 2) / 3)
    # -log2(8/8) = 0, -log2(4/8) = 1, -log2(2/8) = 2
    assert novelty(np.array([0, 1, 2]), N_RATINGS, N_USERS) == pytest.approx(1.0)
    # a movie without train ratings counts as rated once: -log2(1/8) = 3, like movie 3
    assert novelty(np.array([4]), N_RATINGS, N_USERS) == pytest.approx(3.0)
    assert novelty(np.array([3, 4]), N_RATINGS, N_USERS) == pytest.approx(3.0)
    assert math.isnan(mean_popularity(np.array([], np.int64), N_RATINGS))
    assert math.isnan(novelty(np.array([], np.int64), N_RATINGS, N_USERS))


def test_jaccard_distance_by_hand():
    assert jaccard_distance(frozenset({"Action"}), frozenset({"Action", "Comedy"})) == pytest.approx(0.5)
    assert jaccard_distance(frozenset({"Action"}), frozenset({"Drama"})) == 1.0
    assert jaccard_distance(frozenset({"A", "B"}), frozenset({"B", "A"})) == 0.0
    assert jaccard_distance(frozenset(), frozenset()) == 0.0  # two genre-less movies are alike
    assert jaccard_distance(frozenset(), frozenset({"Drama"})) == 1.0


def test_intra_list_diversity_by_hand():
    # pairs (0,1) 1/2, (0,2) 1, (1,2) 1/2 -> mean 2/3
    assert intra_list_diversity(np.array([0, 1, 2]), GENRES) == pytest.approx(2 / 3)
    # order does not matter
    assert intra_list_diversity(np.array([2, 0, 1]), GENRES) == pytest.approx(2 / 3)
    # pairs (3,4) 0, (3,5) 1, (4,5) 1 -> 2/3
    assert intra_list_diversity(np.array([3, 4, 5]), GENRES) == pytest.approx(2 / 3)
    assert math.isnan(intra_list_diversity(np.array([0]), GENRES))  # no pair
    assert math.isnan(intra_list_diversity(np.array([], np.int64), GENRES))


def test_beyond_accuracy_averages_per_user_and_skips_undefined_lists():
    lists = [np.array([0, 1, 2]), np.array([5]), np.array([], np.int64)]
    result = beyond_accuracy_metrics(lists, 3, N_RATINGS, GENRES, N_USERS)
    # popularity: user means 14/3 and 8, the empty list skipped
    assert result["mean_popularity@3"] == pytest.approx((14 / 3 + 8) / 2)
    assert result["novelty@3"] == pytest.approx((1.0 + 0.0) / 2)
    assert result["diversity@3"] == pytest.approx(2 / 3)  # only the first list has a pair


def test_beyond_accuracy_cuts_at_k():
    result = beyond_accuracy_metrics([np.array([0, 5, 3])], 2, N_RATINGS, GENRES, N_USERS)
    assert result["mean_popularity@2"] == 8.0 and result["diversity@2"] == 1.0


def test_activity_buckets_at_the_edges():
    assert [activity_bucket(n) for n in (0, 29, 30, 99, 100, 5000)] == \
        ["light", "light", "medium", "medium", "heavy", "heavy"]
    assert activity_bucket(5, edges=(5, 10)) == "medium"


def test_ndcg_by_activity_by_hand():
    ranked = [np.array([1, 2]), np.array([2, 1]), np.array([1, 2]), np.array([1, 2])]
    relevant = [{1}, {1}, set(), {2}]
    activity = [10, 20, 50, 150]
    result = ndcg_by_activity(ranked, relevant, activity, k=2)
    # light: users 0 (ndcg 1) and 1 (1/log2 3); medium: user 2 has no relevant item; heavy: 1/log2 3
    assert result["ndcg@2_light"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert "ndcg@2_medium" not in result
    assert result["ndcg@2_heavy"] == pytest.approx(1 / math.log2(3))
    assert (result["n_users_light"], result["n_users_medium"], result["n_users_heavy"]) == (2, 0, 1)


class FixedScores:
    """A stub recommender: the same ranking scores for everyone, predictions = scores / 2."""

    def __init__(self, scores) -> None:
        self.scores = np.asarray(scores, dtype=np.float64)
        self.n_movies = self.scores.size

    def rank_scores(self, profile: Profile) -> np.ndarray:
        return self.scores.copy()

    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        return self.scores[np.asarray(movie_idx)] / 2


def test_evaluate_end_to_end_by_hand_with_ties_short_lists_and_no_relevant_items():
    # scores: movies 1, 2, 3 tie at 6 -> lower index first; movie 4 at 8 ranks first
    model = FixedScores([2.0, 6.0, 6.0, 6.0, 8.0, 1.0])
    catalogue = MovieStats(N_RATINGS, GENRES, N_USERS)
    cases = [
        # A: rated 0 in train; top-2 = [4, 1]; relevant {1}
        UserCase(Profile([0], [4.0]), np.array([1, 2]), np.array([5.0, 3.0])),
        # B: rated 4 and 1; top-2 = [2, 3] (tie at 6 broken towards the lower index); relevant {3, 5}
        UserCase(Profile([4, 1], [3.0, 2.0]), np.array([3, 5]), np.array([4.0, 4.5])),
        # C: nothing relevant (all held-out ratings < 4): no ranking metrics, still in coverage etc.
        UserCase(Profile([4], [3.0]), np.array([0]), np.array([2.0])),
    ]
    result = evaluate(model, cases, k=2, relevance_threshold=4.0, catalogue=catalogue)
    # predictions: A 6/2=3, 6/2=3 vs 5, 3; B 3, 0.5 vs 4, 4.5; C 1 vs 2
    errors = np.array([3 - 5, 3 - 3, 3 - 4, 0.5 - 4.5, 1 - 2])
    assert result["rmse"] == pytest.approx(math.sqrt(np.mean(errors ** 2)))
    assert result["mae"] == pytest.approx(np.mean(np.abs(errors)))
    # A: [4, 1] vs {1}: hit at rank 2 -> P 1/2, R 1, NDCG (1/log2 3) / 1, HR 1
    # B: [2, 3] vs {3, 5}: hit at rank 2 -> P 1/2, R 1/2, NDCG (1/log2 3) / (1 + 1/log2 3), HR 1
    d = 1 / math.log2(3)
    assert result["n_users"] == 2
    assert result["precision@2"] == pytest.approx(0.5)
    assert result["recall@2"] == pytest.approx(0.75)
    assert result["ndcg@2"] == pytest.approx((d + d / (1 + d)) / 2)
    assert result["hit_rate@2"] == 1.0
    # lists A [4, 1], B [2, 3], C [1, 2]: movies {1, 2, 3, 4} of 6
    assert result["coverage@2"] == pytest.approx(4 / 6)
    # popularity: A (0 + 4)/2 = 2, B (2 + 1)/2 = 1.5, C (4 + 2)/2 = 3
    assert result["mean_popularity@2"] == pytest.approx((2 + 1.5 + 3) / 3)
    # novelty: A (3 + 1)/2 = 2, B (2 + 3)/2 = 2.5, C (1 + 2)/2 = 1.5
    assert result["novelty@2"] == pytest.approx((2 + 2.5 + 1.5) / 3)
    # diversity: A {}, {Action, Comedy} -> 1; B {Comedy}, {} -> 1; C {Action, Comedy}, {Comedy} -> 1/2
    assert result["diversity@2"] == pytest.approx((1 + 1 + 0.5) / 3)
    # every profile holds < 30 ratings: all light
    assert result["ndcg@2_light"] == pytest.approx(result["ndcg@2"])
    assert (result["n_users_light"], result["n_users_medium"], result["n_users_heavy"]) == (2, 0, 0)
    assert "ndcg@2_medium" not in result


def test_evaluate_without_a_catalogue_leaves_the_catalogue_metrics_out():
    model = FixedScores([1.0, 2.0, 3.0])
    result = evaluate(model, [UserCase(Profile([0], [4.0]), np.array([2]), np.array([5.0]))], k=1)
    assert result["ndcg@1"] == 1.0 and result["coverage@1"] == pytest.approx(1 / 3)
    assert not {"mean_popularity@1", "novelty@1", "diversity@1"} & set(result)


def test_catalogue_from_the_movie_table():
    movies = pd.DataFrame({"movie_idx": [0, 1], "n_ratings": [3, 0], "genres": [["Drama", "War"], []]})
    catalogue = MovieStats.from_movie_table(movies, n_users=4)
    assert catalogue.n_ratings.tolist() == [3, 0] and catalogue.genres == [frozenset({"Drama", "War"}), frozenset()]
    with pytest.raises(ValueError, match="movie_idx order"):
        MovieStats.from_movie_table(movies.iloc[::-1], n_users=4)
