"""Per-user-day biases (models/embedding/day_bias.py and the stacked heads): known answers on small data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from movierec.config import ModelConfig, TrainerConfig
from movierec.evaluation.protocol import UserCase, evaluate, known_user_cases, run_cases
from movierec.models.embedding.day_bias import DAY_SECONDS, DayBias, UserDays, pair_keys
from movierec.models.embedding.hybrid import FoldIn, HybridRecommender
from movierec.models.embedding.train_hybrid import train_hybrid
from movierec.models.protocol import Profile

N_USERS, N_MOVIES = 40, 30
MODEL = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=64, implicit_users=16, dropout=0.0,
                    implicit_l2=0.1, epochs=8, average_from=0, n_heads=2, day_l2=0.01, day_prior=0.0,
                    blend_item_item=0.0)
DAY0 = 1_500_000_000 // DAY_SECONDS * DAY_SECONDS  # midnight UTC


def moody_ratings(seed: int = 0) -> pd.DataFrame:
    """Every user rates half the movies on a good day (+0.75) and half on a bad day (-0.75), around
    3 + a movie effect of ±0.5; which day is good differs by user."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(N_USERS):
        order = rng.permutation(N_MOVIES)
        good_first = user % 3 == 0
        for i, movie in enumerate(order):
            first_day = i % 2 == 0
            mood = 0.75 if first_day == good_first else -0.75
            day = DAY0 + (0 if first_day else 5 * DAY_SECONDS)
            rating = 3.0 + (0.5 if movie % 2 else -0.5) + mood
            rows.append((user, int(movie), rating, day + int(rng.integers(0, 3600))))
    return pd.DataFrame(rows, columns=["user_idx", "movie_idx", "rating", "timestamp"]).astype({"rating": "float32"})


def test_pairs_are_user_and_utc_day_and_unseen_pairs_get_the_zero_row():
    days = UserDays(pair_keys([0, 0, 1, 0], [DAY0, DAY0 + 100, DAY0, DAY0 + DAY_SECONDS]))
    assert len(days) == 3  # (0, day0) twice, (1, day0), (0, day0 + 1)
    rows = days.rows([0, 1, 1, 2], [DAY0 + 5, DAY0 + 7, DAY0 + DAY_SECONDS, DAY0])
    assert rows[0] != rows[1] and rows[0] < 3 and rows[1] < 3
    assert list(rows[2:]) == [3, 3]


def test_day_bias_offsets_unseen_days_add_nothing_and_save_round_trip(tmp_path):
    keys = pair_keys([3, 3], [DAY0, DAY0 + 2 * DAY_SECONDS])
    bias = DayBias(keys, np.array([0.5, -0.25], np.float32))
    got = bias.offsets(3, [DAY0 + 60, DAY0 + DAY_SECONDS, DAY0 + 2 * DAY_SECONDS + 1])
    np.testing.assert_array_equal(got, np.array([0.5, 0.0, -0.25], np.float32))
    np.testing.assert_array_equal(bias.offsets(4, [DAY0]), [0.0])
    bias.save(tmp_path)
    again = DayBias.load(tmp_path)
    np.testing.assert_array_equal(again.keys, bias.keys)
    np.testing.assert_array_equal(again.values, bias.values)


def test_bad_day_bias_input_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="sorted"):
        DayBias(np.array([5, 2]), np.array([0.0, 0.0]))
    with pytest.raises(ValueError, match=">= 0"):
        pair_keys([1], [-5])
    with pytest.raises(ValueError, match="timestamp column"):
        UserDays.from_frame(pd.DataFrame({"user_idx": [0], "movie_idx": [0], "rating": [3.0]}))


def test_the_day_prior_weighs_each_rating_by_its_days_count():
    days = UserDays(pair_keys([0, 0, 0, 0, 1], [DAY0, DAY0 + 1, DAY0 + 2, DAY0 + 3, DAY0]))
    assert list(days.counts) == [4, 1]
    # per rating: l2 + prior / n; summed over a day's n ratings: n * l2 + prior; the unseen row: 0
    np.testing.assert_allclose(days.penalty(0.1, 2.0), [0.1 + 2.0 / 4, 0.1 + 2.0, 0.0], rtol=1e-6)


def test_a_day_prior_shrinks_one_rating_days_and_keeps_session_days(moody_split):
    """Each user also has a day with one rating 1.5 above the usual: a one-off that a per-rating L2
    barely shrinks, which the per-day prior pulls toward 0 while the 15-rating session days stay."""
    train, _ = moody_split
    one_offs = train.groupby("user_idx").head(1).copy()
    one_offs["timestamp"] = DAY0 + 9 * DAY_SECONDS
    one_offs["rating"] = one_offs["rating"] + 1.5
    noisy = pd.concat([train, one_offs], ignore_index=True)
    model = replace(MODEL, epochs=12)
    plain, shrunk = _fit(noisy, model).day_bias, _fit(noisy, replace(model, day_prior=5.0)).day_bias
    assert plain is not None and shrunk is not None
    users = range(N_USERS)
    one_off = [np.abs(b.offsets(u, [DAY0 + 9 * DAY_SECONDS])[0]) for b in (plain, shrunk) for u in users]
    plain_one_off, shrunk_one_off = np.mean(one_off[:N_USERS]), np.mean(one_off[N_USERS:])
    assert shrunk_one_off < plain_one_off / 2, (plain_one_off, shrunk_one_off)
    for user in users:  # the sessions' good/bad day gap survives the prior
        good, bad = (DAY0, DAY0 + 5 * DAY_SECONDS) if user % 3 == 0 else (DAY0 + 5 * DAY_SECONDS, DAY0)
        offsets = shrunk.offsets(user, [good, bad])
        assert offsets[0] - offsets[1] > 0.6, (user, offsets)


@pytest.fixture(scope="module")
def moody_split():
    frame = moody_ratings()
    test = frame.groupby("user_idx", group_keys=False).sample(frac=0.2, random_state=0)
    return frame.drop(test.index).reset_index(drop=True), test.reset_index(drop=True)


def _fit(train: pd.DataFrame, model: ModelConfig) -> HybridRecommender:
    return train_hybrid(train, None, N_USERS, N_MOVIES, model, TrainerConfig(), seed=0).model


def test_day_biases_learn_each_users_good_and_bad_day(moody_split):
    train, test = moody_split
    with_days, without = _fit(train, MODEL), _fit(train, replace(MODEL, day_l2=0.0))
    assert with_days.day_bias is not None and without.day_bias is None
    cases = list(known_user_cases(train, test))
    assert all(c.heldout_timestamp is not None for c in cases)
    rmse_days, rmse_none = evaluate(with_days, cases)["rmse"], evaluate(without, cases)["rmse"]
    # the mood (±0.75) is invisible without the rating's day: about 0.75 RMSE left; the day bias explains it
    assert rmse_none > 0.6 and rmse_days < 0.35 and rmse_days < rmse_none / 2
    # known answer: the good day's offset is above the bad day's for every user
    for user in range(N_USERS):
        good, bad = (DAY0, DAY0 + 5 * DAY_SECONDS) if user % 3 == 0 else (DAY0 + 5 * DAY_SECONDS, DAY0)
        offsets = with_days.day_bias.offsets(user, [good, bad])
        assert offsets[0] - offsets[1] > 0.8, (user, offsets)
    # no time, a future day and a new user: the plain prediction (no day offset)
    profile = cases[0].profile
    movies = cases[0].heldout_movie_idx
    np.testing.assert_array_equal(with_days.predict_at(profile, movies, np.full(len(movies), DAY0 + 400 * DAY_SECONDS)),
                                  with_days.predict(profile, movies))
    new_user = Profile(profile.movie_idx, profile.rating)
    np.testing.assert_array_equal(with_days.predict_at(new_user, movies, np.full(len(movies), DAY0)),
                                  with_days.predict(new_user, movies))


def test_a_saved_model_keeps_its_day_biases_and_one_saved_before_them_loads(moody_split, tmp_path):
    train, _ = moody_split
    model = _fit(train, replace(MODEL, epochs=2, fold_in_scale=3.0, fold_in_bias_scale=5.0))
    model.save(tmp_path / "m")
    loaded = HybridRecommender.load(tmp_path / "m")
    assert model.fold_in == loaded.fold_in == FoldIn(3.0, 5.0)  # the config's scales reach the served model
    np.testing.assert_array_equal(loaded.day_bias.values, model.day_bias.values)
    profile = Profile(np.array([0, 1]), np.array([4.0, 2.0]), user_idx=0)
    stamps = np.array([DAY0, DAY0 + 5 * DAY_SECONDS])
    np.testing.assert_array_equal(loaded.predict_at(profile, np.array([2, 3]), stamps),
                                  model.predict_at(profile, np.array([2, 3]), stamps))
    # a folder written before day biases existed: no "day_bias" entry, no file
    import json
    meta_path = tmp_path / "m" / "hybrid.json"
    meta = json.loads(meta_path.read_text())
    del meta["day_bias"]
    meta_path.write_text(json.dumps(meta))
    (tmp_path / "m" / "day_bias.npz").unlink()
    assert HybridRecommender.load(tmp_path / "m").day_bias is None


class _Recorder:
    """A recommender that says which prediction call it got."""

    n_movies = 3

    def rank_scores(self, profile):
        return np.zeros(3)

    def predict(self, profile, movie_idx):
        return np.full(len(movie_idx), 1.0)

    def predict_at(self, profile, movie_idx, timestamp):
        return np.full(len(movie_idx), 2.0)


def test_evaluation_predicts_at_the_heldout_times_where_it_has_them():
    profile = Profile(np.array([0]), np.array([3.0]), user_idx=0)
    timed = UserCase(profile, np.array([1, 2]), np.array([3.0, 4.0]), np.array([DAY0, DAY0]))
    untimed = UserCase(profile, np.array([1, 2]), np.array([3.0, 4.0]))
    results = run_cases(_Recorder(), [timed, untimed], k=1)
    assert [list(p) for p in results.predicted] == [[2.0, 2.0], [1.0, 1.0]]


def test_the_rating_stretch_stretches_a_days_bias_with_the_rest_of_the_rating(moody_split):
    train, _ = moody_split
    plain = _fit(train, replace(MODEL, epochs=2)).with_rating_stretch(1.0)
    stretched = plain.with_rating_stretch(1.25)
    mu = plain.training_mean
    profile, movies = Profile(np.array([0, 1]), np.array([4.0, 2.0]), user_idx=0), np.array([2, 3])
    for stamp in (DAY0, DAY0 + 400 * DAY_SECONDS):  # a training day of user 0 (its bias) and an unseen one (0)
        stamps = np.full(2, stamp)
        np.testing.assert_allclose(stretched.predict_at(profile, movies, stamps),
                                   mu + 1.25 * (plain.predict_at(profile, movies, stamps) - mu), rtol=1e-6)
    offsets = plain.day_bias.offsets(0, np.full(2, DAY0))
    assert np.abs(offsets).max() > 0  # the first case did carry a day's bias
