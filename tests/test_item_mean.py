"""`item_mean`: damped item means - known answers on hand-sized data (the contract: tests/test_conformance.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from movierec.config import TrainerConfig
from movierec.methods import FitContext, TrainingData
from movierec.methods.item_mean import ItemMeanConfig, ItemMeanMethod
from movierec.models.protocol import Profile, recommend

# movie 0: 5, 5, 4 (three ratings); movie 1: one 5; movie 2: 1, 2; movie 3: nobody
RATINGS = pd.DataFrame({"user_idx": [0, 1, 2, 0, 1, 2], "movie_idx": [0, 0, 0, 1, 2, 2],
                        "rating": [5.0, 5.0, 4.0, 5.0, 1.0, 2.0]})
CONTEXT = FitContext(seed=0, trainer=TrainerConfig())


def fit(**config) -> ItemMeanMethod:
    return ItemMeanMethod.fit(TrainingData(RATINGS, 3, 4), ItemMeanConfig(**config), CONTEXT)


def test_movie_offsets_are_damped_towards_the_overall_mean():
    model = fit(movie_damping=2.0, user_damping=0.0, rank_confidence=0.0)
    mu = 22.0 / 6
    assert model.mu == pytest.approx(mu)
    expected = [(14 - 3 * mu) / 5, (5 - mu) / 3, (3 - 2 * mu) / 4, 0.0]
    np.testing.assert_allclose(model.movie_offset, expected)
    # rank_confidence 0: ranked by the damped mean; the unrated movie sits at the overall mean
    np.testing.assert_allclose(model.rank_scores(Profile([], [])), mu + np.array(expected))


def test_one_five_star_rating_ranks_below_three_high_ones():
    model = fit(movie_damping=2.0, rank_confidence=1.0)
    ranked = recommend(model, Profile([], []), 4).movie_idx.tolist()
    assert ranked[0] == 0 and ranked[-1] == 2  # well-attested 4.7 first, the 1-2 movie last
    assert recommend(model, Profile([0], [5.0]), 4).movie_idx.tolist() == ranked[1:]  # never a rated movie


def test_user_offset_from_the_profile_known_or_new_alike():
    model = fit(movie_damping=2.0, user_damping=1.0)
    profile = Profile(np.array([0, 2]), np.array([5.0, 2.0], np.float32))
    residual = np.array([5.0, 2.0]) - model.mu - model.movie_offset[[0, 2]]
    b_user = residual.sum() / (2 + 1.0)
    np.testing.assert_allclose(model.predict(profile, np.array([1, 3])),
                               model.mu + model.movie_offset[[1, 3]] + b_user)
    known = Profile(profile.movie_idx, profile.rating, user_idx=0)
    np.testing.assert_array_equal(model.predict(known, np.arange(4)), model.predict(profile, np.arange(4)))
    np.testing.assert_allclose(model.predict(Profile([], []), np.arange(4)), model.mu + model.movie_offset)


def test_explains_with_the_movie_s_count_and_mean():
    reasons = fit().explain(Profile([], []), np.array([0, 3]), pd.DataFrame())
    assert reasons[0] == {"code": "well_rated", "text": "3 people rated it, 4.7 on average", "n_users": 3,
                          "mean_rating": 4.67}
    assert reasons[1] == {"code": "well_rated", "text": "nobody has rated it yet", "n_users": 0, "mean_rating": None}


@pytest.mark.parametrize("key", ["movie_damping", "user_damping", "rank_confidence"])
def test_config_refuses_negative_values_naming_the_key(key):
    with pytest.raises(ValueError, match=rf"item_mean\.{key} must be a finite number >= 0, got -1"):
        ItemMeanConfig(**{key: -1})
