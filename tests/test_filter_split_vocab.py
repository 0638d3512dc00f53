"""Filtering thresholds, the id vocabulary and the train/test split, on frames with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.data.count_filter import filter_ratings
from movierec.data.dataset import build_processed
from movierec.data.split import split_ratings
from movierec.data.vocabulary import Vocabularies, Vocabulary


def test_filter_drops_rare_movies_then_empty_users(tiny_ratings):
    kept = filter_ratings(tiny_ratings, min_movie_ratings=2)
    assert sorted(kept["movie_id"].unique()) == [10, 20, 30]  # movie 40 had one rating
    assert sorted(kept["user_id"].unique()) == [1, 2, 3, 4]   # user 5 rated only movie 40
    assert len(kept) == 9


def test_filter_thresholds_are_inclusive(tiny_ratings):
    assert set(filter_ratings(tiny_ratings, 3)["movie_id"]) == {10, 20, 30}
    assert set(filter_ratings(tiny_ratings, 4)["movie_id"]) == set()
    kept = filter_ratings(tiny_ratings, 1, min_user_ratings=3)
    assert set(kept["user_id"]) == {1}


def test_vocabulary_round_trip_and_unknown_ids(tmp_path):
    vocab = Vocabulary.from_ids([30, 10, 20, 10])
    assert vocab.ids.tolist() == [10, 20, 30]
    assert vocab.index([30, 10]).tolist() == [2, 0]
    assert vocab.id_of(vocab.index([20, 30])).tolist() == [20, 30]
    assert vocab.lookup([15, 99, 5]).tolist() == [-1, -1, -1]
    assert 20 in vocab and 21 not in vocab and "x" not in vocab
    with pytest.raises(KeyError, match="99"):
        vocab.index([10, 99])
    both = Vocabularies(vocab, Vocabulary.from_ids([7]))
    both.save(tmp_path / "v.json")
    loaded = Vocabularies.load(tmp_path / "v.json")
    assert loaded.users.ids.tolist() == [10, 20, 30] and loaded.movies.ids.tolist() == [7]


def _synthetic(n_users=60, n_movies=40, n=1500, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(m)) for u, m in zip(rng.integers(1, n_users + 1, n), rng.integers(1, n_movies + 1, n))}
    users, movies = zip(*sorted(pairs))
    return pd.DataFrame({"user_id": users, "movie_id": movies,
                         "rating": rng.integers(1, 11, len(users)) / 2.0,
                         "timestamp": rng.integers(0, 10**6, len(users))})


@pytest.mark.parametrize("strategy", ["random", "temporal"])
def test_split_is_disjoint_complete_covered_and_deterministic(strategy):
    ratings = _synthetic()
    train, test = split_ratings(ratings, strategy, 0.2, seed=42)
    key = ["user_id", "movie_id"]
    assert len(train) + len(test) == len(ratings)
    assert train.merge(test, on=key).empty
    assert set(test["user_id"]) <= set(train["user_id"]) and set(test["movie_id"]) <= set(train["movie_id"])
    assert abs(len(test) / len(ratings) - 0.2) < 0.02
    again_train, again_test = split_ratings(ratings, strategy, 0.2, seed=42)
    pd.testing.assert_frame_equal(test, again_test)


def test_random_split_changes_with_the_seed():
    ratings = _synthetic()
    _, a = split_ratings(ratings, "random", 0.2, seed=1)
    _, b = split_ratings(ratings, "random", 0.2, seed=2)
    assert not a.equals(b)


def test_temporal_split_holds_out_each_users_latest():
    ratings = _synthetic()
    train, test = split_ratings(ratings, "temporal", 0.2, seed=0)
    last_train = train.groupby("user_id")["timestamp"].max()
    first_test = test.groupby("user_id")["timestamp"].min()
    assert (first_test >= last_train.reindex(first_test.index)).all()


def test_a_movie_rated_once_stays_in_train():
    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2], "movie_id": [1, 2, 1, 3],
                            "rating": [4.0] * 4, "timestamp": [1, 2, 3, 4]})
    for seed in range(10):
        train, test = split_ratings(ratings, "random", 0.5, seed)
        assert {2, 3} <= set(train["movie_id"])


def test_processed_indices_round_trip(tiny_ratings):
    movies = pd.DataFrame({"movie_id": [10, 20, 30, 40], "title": list("abcd"),
                           "genres": [["Drama"], [], ["Comedy"], []],
                           "year": pd.array([2000, None, 1999, 1998], dtype="Int64")})
    data = build_processed(tiny_ratings, movies, "random", 0.2, seed=3)
    for frame in (data.train, data.test):
        assert (data.vocab.users.id_of(frame["user_idx"]) == frame["user_id"]).all()
        assert (data.vocab.movies.id_of(frame["movie_idx"]) == frame["movie_id"]).all()
    assert data.train["user_idx"].max() == data.n_users - 1
    assert data.movies["movie_idx"].tolist() == list(range(data.n_movies))
    assert data.movies["n_ratings"].sum() == len(data.train)
