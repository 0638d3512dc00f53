"""Reasons for recommendations: hand-set embeddings whose nearest liked movie is known, and user-user counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from movierec.config import UserUserConfig
from movierec.data.vocabulary import Vocabularies, Vocabulary
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender
from movierec.models.protocol import Profile
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.explanations import EmbeddingExplainer, liked_movies
from movierec.serving.model_bundle import ModelBundle

MOVIE_IDS = [101, 102, 103, 104, 105, 106, 107, 108]
TITLES = ["Toy Story", "Up", "Cats", "R-near-Toy-Story", "R-near-Up", "R-opposite", "R-one-side", "R-between"]


def _at(degrees: float, length: float = 1.0) -> list[float]:
    return [length * np.cos(np.radians(degrees)), length * np.sin(np.radians(degrees))]


# Movie vectors in the plane. Lengths differ so that a dot product would pick other neighbours than
# the cosine does: R-near-Toy-Story is 10° from Toy Story but Up is 10 times longer.
VECTORS = np.array([
    _at(0), _at(90, 10.0), _at(20),          # Toy Story, Up, Cats (the user dislikes Cats)
    _at(10, 3.0), _at(70), _at(200), _at(-60),
    [1.0, 1.0],                              # exactly between Toy Story and Up
])
# (user, movie, rating): user 1 is the profile above; 2 agrees with them; 3 disagrees; 4 shares nothing
TRAIN = [(1, 0, 5.0), (1, 1, 4.0), (1, 2, 1.5),
         (2, 0, 5.0), (2, 1, 4.0), (2, 2, 1.0), (2, 3, 4.0), (2, 7, 3.0),
         (3, 0, 4.5), (3, 1, 4.0), (3, 2, 1.5), (3, 3, 5.0),
         (4, 0, 1.0), (4, 1, 2.0), (4, 2, 5.0), (4, 4, 5.0),
         (5, 5, 3.0), (5, 6, 4.0), (5, 7, 5.0)]


def hand_set_bundle() -> ModelBundle:
    n_users, n_movies = 5, len(MOVIE_IDS)
    net = EmbeddingNet(EmbeddingHParams(n_users=n_users, n_movies=n_movies, embedding_dim=2, dropout=0.0,
                                        global_mean=3.0))
    with torch.no_grad():
        net.movie.weight.copy_(torch.tensor(VECTORS, dtype=torch.float32))
    users, movies, ratings = (np.array(c) for c in zip(*TRAIN))
    user_user = UserUserRecommender.fit(users - 1, movies, ratings, n_users, n_movies,
                                        UserUserConfig(rank_min_co_rated=2))
    frame = pd.DataFrame({
        "movie_id": np.array(MOVIE_IDS, np.int64), "movie_idx": np.arange(n_movies, dtype=np.int64),
        "title": TITLES, "genres": [["Drama"]] * n_movies,
        "year": pd.array([2000] * n_movies, dtype="Int64"), "n_ratings": np.bincount(movies, minlength=n_movies),
    })
    vocab = Vocabularies(Vocabulary.from_ids([1, 2, 3, 4, 5]), Vocabulary.from_ids(MOVIE_IDS))
    return ModelBundle.from_models(vocab, frame, HybridRecommender.single(EmbeddingRecommender(net)), user_user)


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return hand_set_bundle()


def profile(ratings: dict[int, float]) -> Profile:
    return Profile(np.array(list(ratings), np.int64), np.array(list(ratings.values()), np.float32))


LIKES_TOY_STORY_AND_UP = {0: 5.0, 1: 4.0, 2: 1.5}


def test_names_the_liked_movies_nearest_by_cosine_nearest_first(bundle):
    reasons = bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP), [3, 4])
    assert reasons == [
        {"code": "similar_to_liked", "text": "because you liked Toy Story and Up", "movie_ids": [101, 102]},
        {"code": "similar_to_liked", "text": "because you liked Up and Toy Story", "movie_ids": [102, 101]},
    ]


def test_a_disliked_movie_is_never_named_even_when_nearest(bundle):
    # Cats (rated 1.5) is 10° from R-near-Toy-Story, nearer than Up
    reasons = bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP), [3])
    assert 103 not in reasons[0]["movie_ids"]


def test_only_liked_movies_on_the_same_side_are_named(bundle):
    one_side, opposite = bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP), [6, 5])
    assert one_side == {"code": "similar_to_liked", "text": "because you liked Toy Story", "movie_ids": [101]}
    assert opposite == {"code": "taste_profile", "text": "fits the taste of your ratings as a whole"}


def test_an_exact_tie_goes_to_the_higher_rated_movie(bundle):
    up_first = profile({0: 4.0, 1: 5.0, 2: 1.5})
    assert bundle.explain("embedding", up_first, [7])[0]["movie_ids"] == [102, 101]
    assert bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP), [7])[0]["movie_ids"] == [101, 102]


def test_without_a_rating_of_4_the_top_rated_movies_count_as_liked(bundle):
    lukewarm = profile({0: 3.0, 1: 3.5, 2: 2.0})
    assert liked_movies(lukewarm).tolist() == [1]
    assert bundle.explain("embedding", lukewarm, [3])[0]["movie_ids"] == [102]


@pytest.mark.parametrize("ratings", [{}, {0: 5.0}, {0: 5.0, 1: 4.0}])
def test_too_few_ratings_get_the_labelled_popular_fallback(bundle, ratings):
    reasons = bundle.explain("embedding", profile(ratings), [3, 4, 5])
    assert [r["code"] for r in reasons] == ["popular_fallback"] * 3
    assert reasons[0]["text"] == "popular with everyone; rate a few more movies for personal picks"


def test_a_known_user_is_explained_from_their_train_ratings(bundle):
    known = bundle.profile_for_user(1)
    assert bundle.explain("embedding", known, [3]) == bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP),
                                                                     [3])


def test_no_movies_no_reasons(bundle):
    assert bundle.explain("embedding", profile(LIKES_TOY_STORY_AND_UP), []) == []
    assert bundle.explain("user_user", profile(LIKES_TOY_STORY_AND_UP), []) == []


def test_zero_vectors_do_not_divide_by_zero():
    explainer = EmbeddingExplainer.build(np.zeros((4, 2)), [1, 2, 3, 4], list("abcd"))
    reasons = explainer.explain(profile({0: 5.0, 1: 5.0, 2: 4.0}), [3])
    assert reasons == [{"code": "taste_profile", "text": "fits the taste of your ratings as a whole"}]


def test_user_user_counts_the_similar_users_who_rated_it_and_their_mean(bundle):
    # users 2 and 3 agree with the profile (neighbours), user 4 disagrees; both neighbours rated movie 3
    new = profile({0: 5.0, 1: 4.0, 2: 1.0})
    neighbours, _ = bundle.method("user_user").model.rank_neighbours(new)
    assert sorted(neighbours.tolist()) == [0, 1, 2]       # users 1, 2, 3 (indices 0-2); not 4, not 5
    rated_by_both, rated_by_the_one_who_disagrees = bundle.explain("user_user", new, [3, 4])
    assert rated_by_both == {"code": "similar_users", "text": "2 similar users rated it, 4.5 on average",
                             "n_users": 2, "mean_rating": 4.5}
    assert rated_by_the_one_who_disagrees["code"] == "no_similar_user_rated"
    assert rated_by_the_one_who_disagrees["n_users"] == 0


def test_user_user_with_one_neighbour_says_user_not_users(bundle):
    # of the neighbours, only user 2 rated R-between (user 5, who also did, shares no movie with the profile)
    reasons = bundle.explain("user_user", profile({0: 5.0, 1: 4.0, 2: 1.0}), [7])
    assert reasons == [{"code": "similar_users", "text": "1 similar user rated it, 3.0 on average",
                        "n_users": 1, "mean_rating": 3.0}]


def test_user_user_without_any_similar_user_says_popular(bundle):
    loner = profile({5: 3.0})                              # one co-rated movie: below rank_min_co_rated
    assert bundle.explain("user_user", loner, [0])[0] == {
        "code": "popular", "text": "no similar users yet, so among the most rated movies",
        "n_users": 0, "mean_rating": None}


def test_unknown_method_is_refused(bundle):
    with pytest.raises(ValueError, match=r"method: this model holds \['embedding', 'user_user'\], not 'svd'"):
        bundle.explain("svd", profile({}), [0])
