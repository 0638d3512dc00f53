"""Movie filters: known masks on a hand-written 6-movie table, validation, and exactly k after filtering."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from movierec.config import UserUserConfig
from movierec.data.vocabulary import Vocabularies, Vocabulary
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender
from movierec.models.protocol import top_k
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.model_bundle import ModelBundle
from movierec.serving.movie_filter import MovieAttributes, MovieFilter, UnknownGenre, allowed_mask

MOVIE_IDS = [10, 20, 30, 40, 50, 60]


def movies_frame() -> pd.DataFrame:
    """Delta has no genres and no year; Zeta is the most rated."""
    return pd.DataFrame({
        "movie_id": np.array(MOVIE_IDS, np.int64),
        "movie_idx": np.arange(6, dtype=np.int64),
        "title": ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"],
        "genres": [["Comedy"], ["Drama", "Thriller"], ["Comedy", "Romance"], [], ["Thriller"], ["Drama"]],
        "year": pd.array([1990, 1995, 2001, None, 2010, 1985], dtype="Int64"),
        "n_ratings": np.array([50, 5, 120, 0, 30, 200], np.int64),
    })


@pytest.fixture(scope="module")
def attributes() -> MovieAttributes:
    return MovieAttributes(movies_frame())


def passing(attributes: MovieAttributes, **fields) -> list[str]:
    mask = attributes.allowed(MovieFilter(**fields))
    return movies_frame()["title"][np.ones(6, bool) if mask is None else mask].tolist()


def test_no_filter_lets_everything_through(attributes):
    assert MovieFilter().is_empty and attributes.allowed(MovieFilter()) is None
    assert attributes.allowed(None) is None
    assert allowed_mask(movies_frame(), MovieFilter()).tolist() == [True] * 6


@pytest.mark.parametrize("fields,expected", [
    ({"genres": ["Comedy", "Thriller"]}, ["Alpha", "Beta", "Gamma", "Epsilon"]),             # any of
    ({"genres": ["comedy"]}, ["Alpha", "Gamma"]),                                             # case-insensitive
    ({"exclude_genres": ["Thriller"]}, ["Alpha", "Gamma", "Delta", "Zeta"]),                  # no genre: kept
    ({"genres": ["Comedy"], "exclude_genres": ["Romance"]}, ["Alpha"]),
    ({"year_min": 1990}, ["Alpha", "Beta", "Gamma", "Epsilon"]),                              # unknown year fails
    ({"year_max": 1995}, ["Alpha", "Beta", "Zeta"]),
    ({"year_min": 1990, "year_max": 2001}, ["Alpha", "Beta", "Gamma"]),                       # inclusive bounds
    ({"year_min": 2001, "year_max": 2001}, ["Gamma"]),
    ({"min_ratings": 50}, ["Alpha", "Gamma", "Zeta"]),
    ({"min_ratings": 0}, ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"]),
    ({"genres": ["Drama"], "year_min": 1990, "min_ratings": 1}, ["Beta"]),
    ({"genres": ["Romance"], "year_max": 1999}, []),                                          # none pass
])
def test_masks_on_the_six_movie_table(attributes, fields, expected):
    assert passing(attributes, **fields) == expected
    assert movies_frame()["title"][allowed_mask(movies_frame(), MovieFilter(**fields))].tolist() == expected


def test_genre_matrix_and_counts(attributes):
    assert attributes.genres == ("Comedy", "Drama", "Romance", "Thriller")
    assert attributes.genre_counts() == {"Comedy": 2, "Drama": 2, "Romance": 1, "Thriller": 2}
    assert attributes.genre_matrix.sum(axis=1).tolist() == [1, 2, 2, 0, 1, 1]


@pytest.mark.parametrize("field", ["genres", "exclude_genres"])
def test_an_unknown_genre_names_the_field_and_the_known_ones(attributes, field):
    with pytest.raises(UnknownGenre, match=rf"^{field}: unknown genre 'Westerns'; known genres: Comedy, Drama"):
        attributes.allowed(MovieFilter(**{field: ["Comedy", "Westerns"]}))


@pytest.mark.parametrize("fields,message", [
    ({"year_min": 2000, "year_max": 1990}, r"^year_min: must be <= year_max, got 2000 > 1990"),
    ({"min_ratings": -1}, r"^min_ratings: must be >= 0"),
    ({"year_min": 1990.5}, r"^year_min: must be an integer"),
    ({"min_ratings": True}, r"^min_ratings: must be an integer"),
    ({"genres": "Comedy"}, r"^genres: must be a list of genre names"),
    ({"exclude_genres": [3]}, r"^exclude_genres: must be a list of genre names"),
])
def test_invalid_filters_are_refused_naming_the_field(fields, message):
    with pytest.raises(ValueError, match=message):
        MovieFilter(**fields)


def test_filter_is_frozen_and_hashable_with_lists_turned_into_tuples():
    f = MovieFilter(genres=["Comedy"], exclude_genres=["Drama"])
    assert f.genres == ("Comedy",) and f == MovieFilter(genres=("Comedy",), exclude_genres=("Drama",))
    assert hash(f) == hash(MovieFilter(genres=("Comedy",), exclude_genres=("Drama",)))
    with pytest.raises(AttributeError):
        f.year_min = 1990  # type: ignore[misc]


# -- exactly k, through the bundle's one ranking path ----------------------------------------------

CHOICE_BIAS = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]   # embedding ranking = movie order: Alpha best, Zeta worst


def tiny_bundle() -> ModelBundle:
    """Embedding with zero vectors, so its ranking score is the choice bias; user-user fit for real."""
    users = np.array([0, 0, 1, 1, 1, 2, 2, 2, 3, 3])
    movies = np.array([0, 1, 0, 1, 2, 1, 2, 3, 4, 5])
    ratings = np.array([5, 4, 5, 4, 3, 4, 3, 5, 2, 4], np.float64)
    hp = EmbeddingHParams(n_users=4, n_movies=6, embedding_dim=2, dropout=0.0, global_mean=3.0,
                          rank_rating_weight=0.0)
    net = EmbeddingNet(hp)
    with torch.no_grad():
        net.user.weight.zero_()
        net.movie.weight.zero_()
        net.choice_movie_bias.weight.copy_(torch.tensor(CHOICE_BIAS).unsqueeze(1))
    user_user = UserUserRecommender.fit(users, movies, ratings, 4, 6, UserUserConfig(rank_min_co_rated=1))
    vocab = Vocabularies(Vocabulary.from_ids([1, 2, 3, 4]), Vocabulary.from_ids(MOVIE_IDS))
    embedding = HybridRecommender.single(EmbeddingRecommender(net))
    return ModelBundle.from_models(vocab, movies_frame(), embedding, user_user)


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return tiny_bundle()


def test_a_filter_that_removes_the_top_candidates_still_gives_exactly_k(bundle):
    profile = bundle.profile_for_user(1)                      # rated Alpha and Beta
    assert bundle.recommend("embedding", profile, 3).movie_idx.tolist() == [2, 3, 4]
    ranked = bundle.recommend("embedding", profile, 3, movie_filter=MovieFilter(exclude_genres=["Comedy"]))
    assert ranked.movie_idx.tolist() == [3, 4, 5]             # Gamma (top unrated) filtered out, still 3
    assert ranked.n_candidates == 3


def test_fewer_candidates_than_k_returns_all_and_says_how_many(bundle):
    profile = bundle.profile_for_user(1)
    ranked = bundle.recommend("embedding", profile, 5, movie_filter=MovieFilter(genres=["Drama", "Romance"]))
    assert ranked.movie_idx.tolist() == [2, 5] and ranked.n_candidates == 2   # Beta is rated


@pytest.mark.parametrize("method", ["embedding", "user_user"])
@pytest.mark.parametrize("fields", [{}, {"min_ratings": 10}, {"year_min": 1990}, {"exclude_genres": ["Drama"]},
                                    {"genres": ["Thriller", "Comedy"], "year_max": 2005}])
def test_filtered_top_k_is_the_unfiltered_ranking_restricted_to_passing_unrated_movies(bundle, method, fields):
    movie_filter = MovieFilter(**fields)
    mask = allowed_mask(bundle.movies, movie_filter)
    for user_id in (1, 2, 3, 4):
        profile = bundle.profile_for_user(user_id)
        scores = bundle.method(method).rank_scores(profile)
        full = top_k(scores, 6, exclude=profile.movie_idx).movie_idx
        expected = [int(i) for i in full if mask[i]][:2]
        ranked = bundle.recommend(method, profile, 2, movie_filter=movie_filter)
        assert ranked.movie_idx.tolist() == expected
        assert ranked.n_candidates == int(np.sum(mask & ~np.isin(np.arange(6), profile.movie_idx)))
        assert len(expected) == min(2, ranked.n_candidates)


def test_allowed_and_a_filter_combine(bundle):
    profile = bundle.profile_for_user(4)                      # rated Epsilon and Zeta
    allowed = np.array([False, True, True, True, True, True])
    ranked = bundle.recommend("embedding", profile, 6, allowed=allowed, movie_filter=MovieFilter(min_ratings=1))
    assert ranked.movie_idx.tolist() == [1, 2]


def test_the_bundle_refuses_an_unknown_genre(bundle):
    with pytest.raises(UnknownGenre, match="^genres: unknown genre 'Noir'"):
        bundle.recommend("embedding", bundle.profile_for_user(1), 3, movie_filter=MovieFilter(genres=["Noir"]))
