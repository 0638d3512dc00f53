"""One conformance suite every recommender passes: popularity, one embedding model, and every method of the
registry (movierec.methods: embedding, user_user, item_mean and any added later - automatically).

Each recommender is one :class:`Conformer` in :data:`RECOMMENDERS`: how to fit it on the shared
two-group synthetic ratings, how to round-trip it through its own persistence, and how to make a
copy in which two movies are indistinguishable (to construct exact score ties). Every property
below then runs for every entry:

* never recommends a movie in the profile (known users, new users, a profile of every movie);
* exactly ``min(k, candidates)`` movies, the best-scored candidates, under an ``allowed`` mask;
* ties broken towards the lower movie index (what :func:`movierec.models.protocol.top_k` promises),
  also when the top-k cut falls inside a tie; repeated calls give identical results;
* finite scores (``rank_scores`` and ``predict``) for every movie and every kind of profile;
* an empty profile (a new user with no ratings) gets ``k`` finite recommendations;
* save and load give bit-identical scores, predictions and rankings.

A registered method is fitted through its contract (``fit`` with its config - the small one in
:data:`SMALL_CONFIGS`, else its config class's defaults - and ``save``/``load`` to one folder); the
exact-tie property runs where :data:`TWINS` knows how to build the tied copy. ``embedding_model`` is
one embedding model on its own. The contract's own promises (explanations, names, config sections,
the bundle formats) are tested here too.

The bundle-level checks (unknown user -> ``UnknownUser``, unknown movie ids reported back, movie
filters before the cut, ``ModelBundle.save``/``load``) run for every served method.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from movierec.config import ModelConfig, TrainerConfig, UserUserConfig
from movierec.data.vocabulary import Vocabularies, Vocabulary
from movierec.methods import FitContext, Method, TrainingData, available_methods, method_class
from movierec.methods.embedding import EmbeddingMethod
from movierec.methods.user_user import UserUserMethod
from movierec.models.embedding.fit import train_embedding
from movierec.models.embedding.hybrid import HybridRecommender
from movierec.models.embedding.net import EmbeddingRecommender
from movierec.models.embedding.train_hybrid import train_hybrid
from movierec.models.item_item import ItemItemModel
from movierec.models.popularity import PopularityRecommender
from movierec.models.protocol import Profile, Recommender, recommend
from movierec.models.user_user.model import UserUserRecommender
from movierec.serving.model_bundle import BundleFormatError, ModelBundle, UnknownMethodRequest, UnknownUser
from movierec.serving.movie_filter import MovieFilter
from tests.synthetic import movie_frame, two_group_ratings

N_USERS, N_MOVIES = 60, 40


@functools.cache
def ratings() -> pd.DataFrame:
    return two_group_ratings(n_users=N_USERS, n_movies=N_MOVIES)


def _columns(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return frame["user_idx"].to_numpy(), frame["movie_idx"].to_numpy(), frame["rating"].to_numpy()


# -- popularity -------------------------------------------------------------------------------------


def fit_popularity(frame: pd.DataFrame) -> PopularityRecommender:
    _, movie, rating = _columns(frame)
    return PopularityRecommender.fit(movie, rating, N_MOVIES)


def save_load_popularity(model: PopularityRecommender, folder: Path) -> PopularityRecommender:
    # no file format of its own: it is its two arrays (the bundle keeps the counts in movies.parquet)
    np.savez(folder / "popularity.npz", counts=model.counts, movie_mean=model.movie_mean)
    with np.load(folder / "popularity.npz", allow_pickle=False) as saved:
        return PopularityRecommender(saved["counts"], saved["movie_mean"])


def twin_popularity(model: PopularityRecommender, a: int, b: int) -> PopularityRecommender:
    counts, mean = model.counts.copy(), model.movie_mean.copy()
    counts[b], mean[b] = counts[a], mean[a]
    return PopularityRecommender(counts, mean)


# -- user-user --------------------------------------------------------------------------------------

USER_USER = UserUserConfig(rank_min_co_rated=2, rank_neighbours=10)


def fit_user_user(frame: pd.DataFrame) -> UserUserRecommender:
    return UserUserRecommender.fit(*_columns(frame), N_USERS, N_MOVIES, USER_USER)


def save_load_user_user(model: UserUserRecommender, folder: Path) -> UserUserRecommender:
    np.savez(folder / "user_user.npz", **model.to_arrays())
    with np.load(folder / "user_user.npz", allow_pickle=False) as saved:
        return UserUserRecommender.from_arrays({k: saved[k] for k in saved.files}, model.config)


def twin_user_user(model: UserUserRecommender, a: int, b: int) -> UserUserRecommender:
    dense = model.ratings.toarray()
    dense[:, b] = dense[:, a]  # every user rated b exactly as a
    arrays = dict(model.to_arrays())
    csr = sp.csr_matrix(dense)
    arrays.update(indptr=csr.indptr, indices=csr.indices, data=csr.data, movie_bias=model.movie_bias.copy())
    arrays["movie_bias"][b] = arrays["movie_bias"][a]
    return UserUserRecommender.from_arrays(arrays, model.config)


# -- embedding --------------------------------------------------------------------------------------

EMBEDDING = ModelConfig(embedding_dim=4, learning_rate=0.05, l2=0.01, batch_size=256, implicit_users=16,
                        dropout=0.0)


def fit_embedding(frame: pd.DataFrame) -> EmbeddingRecommender:
    return train_embedding(frame, None, N_USERS, N_MOVIES, EMBEDDING,
                           TrainerConfig(max_epochs=3, patience=3, refit=False), seed=0).model


def save_load_embedding(model: EmbeddingRecommender, folder: Path) -> EmbeddingRecommender:
    model.save(folder / "embedding.pt")
    return EmbeddingRecommender.load(folder / "embedding.pt")


def twin_embedding(model: EmbeddingRecommender, a: int, b: int) -> EmbeddingRecommender:
    net = copy.deepcopy(model.net)
    with torch.no_grad():
        for table in (net.movie, net.movie_bias, net.choice_movie_bias):
            table.weight[b] = table.weight[a]
    return EmbeddingRecommender(net)


# -- the served embedding method: heads + item-item -------------------------------------------------

HYBRID = replace(EMBEDDING, n_heads=2, item_item_lambda=5.0)


def fit_hybrid(frame: pd.DataFrame) -> HybridRecommender:
    return train_hybrid(frame, None, N_USERS, N_MOVIES, HYBRID,
                        TrainerConfig(max_epochs=3, patience=3, refit=False), seed=0).model


def save_load_hybrid(model: HybridRecommender, folder: Path) -> HybridRecommender:
    model.save(folder / "embedding")
    return HybridRecommender.load(folder / "embedding")


def twin_hybrid(model: HybridRecommender, a: int, b: int) -> HybridRecommender:
    ii = model.item_item
    assert ii is not None and ii.every_movie
    weights = np.array(ii.weights)
    weights[b, :] = weights[a, :]
    weights[:, b] = weights[:, a]
    return HybridRecommender([twin_embedding(h, a, b) for h in model.heads],
                             ItemItemModel(weights, ii.movies, ii.n_movies, ii.lam, ii.tilt), model.blend)


# -- the registry: every registered method, plus popularity and one embedding model -----------------

METHODS = available_methods()  # every method of movierec.methods, with no list here
SMALL_CONFIGS = {"embedding": HYBRID, "user_user": USER_USER}  # small or tiny-data settings
TRAINER = TrainerConfig(max_epochs=3, patience=3, refit=False)


def twin_embedding_method(model: EmbeddingMethod, a: int, b: int) -> EmbeddingMethod:
    return EmbeddingMethod(twin_hybrid(model.model, a, b))


def twin_user_user_method(model: UserUserMethod, a: int, b: int) -> UserUserMethod:
    return UserUserMethod(twin_user_user(model.model, a, b))


TWINS: dict[str, Callable] = {"embedding": twin_embedding_method, "user_user": twin_user_user_method}


def fit_registered(name: str) -> Callable[[pd.DataFrame], Method]:
    cls = method_class(name)

    def fit(frame: pd.DataFrame) -> Method:
        config = SMALL_CONFIGS.get(name) or cls.config_class()
        return cls.fit(TrainingData(frame, N_USERS, N_MOVIES), config, FitContext(seed=0, trainer=TRAINER))
    return fit


def save_load_registered(model: Method, folder: Path) -> Method:
    model.save(folder / model.name)
    return type(model).load(folder / model.name)


@dataclass(frozen=True)
class Conformer:
    name: str
    fit: Callable[[pd.DataFrame], Recommender]          # trained on the shared synthetic ratings
    save_load: Callable[[Recommender, Path], Recommender]  # round trip through its own persistence
    twin: Callable[[Recommender, int, int], Recommender] | None  # a copy where movie b is indistinguishable from a


RECOMMENDERS = [
    Conformer("popularity", fit_popularity, save_load_popularity, twin_popularity),
    Conformer("embedding_model", fit_embedding, save_load_embedding, twin_embedding),
    *(Conformer(name, fit_registered(name), save_load_registered, TWINS.get(name)) for name in METHODS),
]
BY_NAME = {c.name: c for c in RECOMMENDERS}


@functools.cache
def fitted(name: str) -> Recommender:
    return BY_NAME[name].fit(ratings())


@pytest.fixture(scope="module", params=RECOMMENDERS, ids=lambda c: c.name)
def conformer(request) -> tuple[Conformer, Recommender]:
    return request.param, fitted(request.param.name)


# -- profiles -------------------------------------------------------------------------------------

def known_profile(user: int, frame: pd.DataFrame | None = None) -> Profile:
    frame = ratings() if frame is None else frame
    rows = frame[frame["user_idx"] == user].sort_values("movie_idx")
    return Profile(rows["movie_idx"].to_numpy(), rows["rating"].to_numpy(), user_idx=user)


def new_profiles() -> dict[str, Profile]:
    every = np.arange(N_MOVIES)
    return {
        "group_a": Profile(np.array([0, 1, 2, 25, 26]), np.array([5, 5, 5, 1, 1], np.float32)),
        "group_b": Profile(np.array([30, 31, 4]), np.array([4.5, 5, 0.5], np.float32)),
        "one_rating": Profile(np.array([17]), np.array([3.5], np.float32)),
        "all_equal": Profile(np.array([3, 9, 21, 33]), np.array([4, 4, 4, 4], np.float32)),  # zero variance
        "known_user_as_new": Profile(known_profile(7).movie_idx, known_profile(7).rating),
        "all_but_two": Profile(every[2:], np.where(every[2:] < 20, 5.0, 1.0).astype(np.float32)),
    }


def all_profiles() -> list[tuple[str, Profile]]:
    known = [(f"user{u}", known_profile(u)) for u in range(N_USERS)]
    return known + list(new_profiles().items()) + [("empty", Profile(np.empty(0, np.int64), np.empty(0, np.float32)))]


def brute_force_top(scores: np.ndarray, candidates: np.ndarray, k: int) -> list[int]:
    """The reference ranking: candidates by score descending, then by index ascending."""
    return sorted(candidates.tolist(), key=lambda m: (-scores[m], m))[:k]


# -- the properties every recommender has -----------------------------------------------------------


def test_registry_covers_every_method():
    assert {"embedding", "user_user"} <= set(METHODS)
    assert set(METHODS) | {"popularity"} <= set(BY_NAME)


def test_never_recommends_a_rated_movie(conformer):
    _, model = conformer
    for name, profile in all_profiles():
        rated = set(profile.movie_idx.tolist())
        unrated = set(range(N_MOVIES)) - rated
        for k in (1, 5, N_MOVIES):
            ranked = recommend(model, profile, k)
            assert not rated & set(ranked.movie_idx.tolist()), (name, k)
            assert len(ranked.movie_idx) == min(k, len(unrated)), (name, k)
            assert ranked.n_candidates == len(unrated), name
        assert set(recommend(model, profile, N_MOVIES).movie_idx.tolist()) == unrated, name
    every = Profile(np.arange(N_MOVIES), np.full(N_MOVIES, 3.0, np.float32))
    assert recommend(model, every, 10).movie_idx.size == 0  # nothing left to recommend


def test_exactly_k_best_candidates_under_an_allowed_mask(conformer):
    _, model = conformer
    rng = np.random.default_rng(1)
    seen_fewer = seen_enough = 0
    for name, profile in all_profiles()[::3]:
        scores = model.rank_scores(profile)
        for density in (0.1, 0.3, 0.7):
            allowed = rng.random(N_MOVIES) < density
            candidates = np.setdiff1d(np.flatnonzero(allowed), profile.movie_idx)
            for k in (1, 3, 10):
                ranked = recommend(model, profile, k, allowed=allowed)
                assert ranked.movie_idx.tolist() == brute_force_top(scores, candidates, k), (name, density, k)
                assert len(ranked.movie_idx) == min(k, candidates.size)
                assert ranked.n_candidates == candidates.size
                np.testing.assert_array_equal(ranked.score, scores[ranked.movie_idx])
                if candidates.size >= k:
                    seen_enough += 1
                else:
                    assert set(ranked.movie_idx.tolist()) == set(candidates.tolist())  # all of them
                    seen_fewer += 1
    assert seen_enough and seen_fewer  # both branches were exercised
    # a mask that lets through only rated movies and three unrated ones returns exactly those three
    profile = known_profile(0)
    unrated = np.setdiff1d(np.arange(N_MOVIES), profile.movie_idx)[[0, 5, 9]]
    allowed = np.zeros(N_MOVIES, bool)
    allowed[profile.movie_idx] = True
    allowed[unrated] = True
    assert sorted(recommend(model, profile, 10, allowed=allowed).movie_idx.tolist()) == unrated.tolist()


def test_ranked_by_score_then_lower_index_and_repeatable(conformer):
    _, model = conformer
    for name, profile in all_profiles():
        ranked = recommend(model, profile, N_MOVIES)
        s, m = ranked.score, ranked.movie_idx
        assert ((s[:-1] > s[1:]) | ((s[:-1] == s[1:]) & (m[:-1] < m[1:]))).all(), name
        again = recommend(model, profile, N_MOVIES)
        np.testing.assert_array_equal(again.movie_idx, m)
        np.testing.assert_array_equal(again.score, s)


@pytest.mark.parametrize("a, b", [(29, 3), (3, 29)])  # the copy is the higher and the lower index
def test_exact_ties_go_to_the_lower_index_also_at_the_cut(conformer, a, b):
    entry, model = conformer
    if entry.twin is None:
        pytest.skip(f"{entry.name}: no tied copy known (TWINS)")
    twin = entry.twin(model, a, b)
    first, second = min(a, b), max(a, b)
    frame = ratings()
    untouched = [u for u in range(N_USERS)
                 if not {a, b} & set(frame.loc[frame["user_idx"] == u, "movie_idx"].tolist())]
    profiles = [known_profile(u) for u in untouched[:6]] + [p for n, p in new_profiles().items()
                                                            if not {a, b} & set(p.movie_idx.tolist())]
    assert len(profiles) >= 6
    for profile in profiles:
        scores = twin.rank_scores(profile)
        assert scores[a] == scores[b]  # the tie exists
        predicted = twin.predict(profile, np.array([a, b]))
        assert predicted[0] == predicted[1]
        order = recommend(twin, profile, N_MOVIES).movie_idx.tolist()
        i, j = order.index(first), order.index(second)
        assert i < j and (scores[order[i:j + 1]] == scores[a]).all()
        cut = recommend(twin, profile, i + 1).movie_idx.tolist()  # k ends inside the tie
        assert cut[-1] == first and second not in cut


def test_popularity_equal_counts_rank_by_index():
    model = PopularityRecommender(np.array([2, 5, 5, 1, 5, 2, 0]), np.zeros(7))
    profile = Profile(np.array([2]), np.array([4.0], np.float32))
    assert recommend(model, profile, 4).movie_idx.tolist() == [1, 4, 0, 5]
    assert recommend(model, profile, 10).movie_idx.tolist() == [1, 4, 0, 5, 3, 6]


def test_scores_and_predictions_are_finite(conformer):
    _, model = conformer
    assert model.n_movies == N_MOVIES
    for name, profile in all_profiles():
        scores = model.rank_scores(profile)
        assert scores.shape == (N_MOVIES,) and np.isfinite(scores).all(), name
        predicted = model.predict(profile, np.arange(N_MOVIES))
        assert predicted.shape == (N_MOVIES,) and np.isfinite(predicted).all(), name
        np.testing.assert_array_equal(model.predict(profile, np.array([5, 1])), predicted[[5, 1]])


def test_an_empty_profile_gets_k_finite_recommendations(conformer):
    _, model = conformer
    empty = Profile(np.empty(0, np.int64), np.empty(0, np.float32))
    for k in (1, 10, N_MOVIES):
        ranked = recommend(model, empty, k)
        assert len(ranked.movie_idx) == k and len(set(ranked.movie_idx.tolist())) == k
        assert np.isfinite(ranked.score).all()


def test_save_and_load_give_identical_scores_and_rankings(conformer, tmp_path):
    entry, model = conformer
    loaded = entry.save_load(model, tmp_path)
    assert loaded is not model and loaded.n_movies == model.n_movies
    for name, profile in all_profiles():
        np.testing.assert_array_equal(loaded.rank_scores(profile), model.rank_scores(profile), err_msg=name)
        np.testing.assert_array_equal(loaded.predict(profile, np.arange(N_MOVIES)),
                                      model.predict(profile, np.arange(N_MOVIES)), err_msg=name)
        for k in (5, N_MOVIES):
            before, after = recommend(model, profile, k), recommend(loaded, profile, k)
            np.testing.assert_array_equal(after.movie_idx, before.movie_idx, err_msg=name)
            np.testing.assert_array_equal(after.score, before.score, err_msg=name)


# -- through the bundle: ids, filters, the bundle's own save/load ------------------------------------


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    movies = movie_frame(N_MOVIES)
    movies["n_ratings"] = np.bincount(ratings()["movie_idx"], minlength=N_MOVIES)
    vocab = Vocabularies(Vocabulary.from_ids(np.arange(N_USERS) + 1), Vocabulary.from_ids(np.arange(N_MOVIES) * 10 + 7))
    ratings_csr = sp.csr_matrix((ratings()["rating"].to_numpy(np.float32),
                                 (ratings()["user_idx"].to_numpy(), ratings()["movie_idx"].to_numpy())),
                                shape=(N_USERS, N_MOVIES))
    return ModelBundle.build(vocab, movies, ratings_csr, {name: fitted(name) for name in METHODS})


def test_bundle_serves_the_conformance_models(bundle):
    for method in METHODS:
        assert bundle.method(method) is fitted(method)
    np.testing.assert_array_equal(bundle.popularity.counts, fitted("popularity").counts)


def test_unknown_user_raises_unknown_user(bundle):
    with pytest.raises(UnknownUser) as raised:
        bundle.profile_for_user(N_USERS + 1)  # ids are 1..N_USERS
    assert raised.value.args == (N_USERS + 1,)
    with pytest.raises(UnknownUser):
        bundle.profile_for_user(0)
    profile = bundle.profile_for_user(8)  # user_idx 7
    assert profile.user_idx == 7
    np.testing.assert_array_equal(profile.movie_idx, known_profile(7).movie_idx)
    np.testing.assert_array_equal(profile.rating, known_profile(7).rating)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_movie_ids_in_a_new_profile_are_reported_not_fatal(bundle, method):
    profile, ignored = bundle.profile_from_ratings([7, 424242, 17, 13, 7, -1], [5, 4, 3, 2, 1, 4])
    assert ignored == [-1, 13, 424242]
    assert profile.user_idx is None
    assert profile.movie_idx.tolist() == [0, 1] and profile.rating.tolist() == [1.0, 3.0]  # last rating of 7 kept
    ranked = bundle.recommend(method, profile, 10)
    assert len(ranked.movie_idx) == 10 and not {0, 1} & set(ranked.movie_idx.tolist())
    assert np.isfinite(ranked.score).all()
    predicted, unknown = bundle.predict(method, profile, [27, 99999, 7])
    assert unknown == [99999] and predicted.shape == (2,) and np.isfinite(predicted).all()
    # only unknown ids: an empty profile, which still gets k recommendations
    empty, ignored = bundle.profile_from_ratings([1, 2], [4.0, 5.0])
    assert ignored == [1, 2] and empty.movie_idx.size == 0
    ranked = bundle.recommend(method, empty, 10)
    assert len(ranked.movie_idx) == 10 and np.isfinite(ranked.score).all()


@pytest.mark.parametrize("method", METHODS)
def test_movie_filters_apply_before_the_cut(bundle, method):
    model = bundle.method(method)
    for user_id in (1, 2, 30):
        profile = bundle.profile_for_user(user_id)
        scores = model.rank_scores(profile)
        unrated = np.setdiff1d(np.arange(N_MOVIES), profile.movie_idx)
        # Comedy is every even movie: ~10 unrated pass, more than k=5
        comedy = unrated[unrated % 2 == 0]
        ranked = bundle.recommend(method, profile, 5, movie_filter=MovieFilter(genres=("Comedy",)))
        assert ranked.movie_idx.tolist() == brute_force_top(scores, comedy, 5)
        # years 2025.. are movies 35..39: fewer than k pass, all of them come back
        late = unrated[unrated >= 35]
        ranked = bundle.recommend(method, profile, 10, movie_filter=MovieFilter(year_min=2025))
        assert ranked.movie_idx.tolist() == brute_force_top(scores, late, 10) and len(late) < 10
        # the filter and an allowed mask together: their intersection
        allowed = np.arange(N_MOVIES) < 20
        ranked = bundle.recommend(method, profile, 3, allowed=allowed, movie_filter=MovieFilter(genres=("Comedy",)))
        assert ranked.movie_idx.tolist() == brute_force_top(scores, comedy[comedy < 20], 3)


def test_bundle_save_and_load_give_identical_rankings(bundle, tmp_path):
    bundle.save(tmp_path / "bundle")
    loaded = ModelBundle.load(tmp_path / "bundle")
    profiles = [bundle.profile_for_user(u) for u in (1, 2, 17, 60)] + list(new_profiles().values())
    for method in METHODS:
        for profile in profiles:
            before, after = bundle.recommend(method, profile, 10), loaded.recommend(method, profile, 10)
            np.testing.assert_array_equal(after.movie_idx, before.movie_idx)
            np.testing.assert_array_equal(after.score, before.score)
            ids = bundle.vocab.movies.ids
            np.testing.assert_array_equal(loaded.predict(method, profile, ids)[0],
                                          bundle.predict(method, profile, ids)[0])
    for user_id in (1, 60):
        a, b = bundle.profile_for_user(user_id), loaded.profile_for_user(user_id)
        assert a.user_idx == b.user_idx
        np.testing.assert_array_equal(a.movie_idx, b.movie_idx)
        np.testing.assert_array_equal(a.rating, b.rating)
    profile = bundle.profile_for_user(3)
    np.testing.assert_array_equal(recommend(loaded.popularity, profile, N_MOVIES).movie_idx,
                                  recommend(bundle.popularity, profile, N_MOVIES).movie_idx)


def test_bundle_and_user_user_hold_one_copy_of_the_train_ratings(bundle, tmp_path):
    """Known users' profiles and user-user's neighbours read the same CSR arrays, also after a load."""
    bundle.save(tmp_path / "bundle")
    for held in (bundle, ModelBundle.load(tmp_path / "bundle")):
        own = held.method("user_user").model.ratings
        assert held.ratings is own
        for name in ("indptr", "indices", "data"):
            assert np.shares_memory(getattr(held.ratings, name), getattr(own, name)), name
        profile = held.profile_for_user(5)
        assert np.shares_memory(profile.rating, own.data)


def test_a_bundle_keeps_its_own_ratings_when_no_method_holds_the_same(bundle):
    other = bundle.ratings.copy()
    other.data = other.data * 0.5  # not the matrix user-user was fit on
    built = ModelBundle.build(bundle.vocab, bundle.movies, other, bundle.methods)
    assert not np.shares_memory(built.ratings.data, bundle.method("user_user").model.ratings.data)
    np.testing.assert_array_equal(built.ratings.data, other.data)


def test_bundle_lists_its_methods_in_order_and_refuses_others(bundle, tmp_path):
    bundle.save(tmp_path / "bundle")
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert manifest["format_version"] == 4 and manifest["methods"] == METHODS
    assert all((tmp_path / "bundle" / name).is_dir() for name in METHODS)
    with pytest.raises(UnknownMethodRequest, match="not 'nope'"):
        bundle.recommend("nope", bundle.profile_for_user(1), 5)


# -- the contract's own promises ------------------------------------------------------------------


@pytest.mark.parametrize("name", METHODS)
def test_method_names_itself_and_has_a_config_section(name):
    from movierec.config import compose, validate
    from movierec.methods import method_config

    cls = method_class(name)
    assert cls.name == name and cls.label and cls.description and cls.reasons
    assert dataclasses.is_dataclass(cls.config_class)
    cfg = validate(compose(Path(__file__).resolve().parents[1] / "conf"))
    assert name in cfg.methods  # configured: trained, evaluated, bundled and served
    assert isinstance(method_config(cfg, name), cls.config_class)


@pytest.mark.parametrize("name", METHODS)
def test_explain_gives_one_known_reason_per_movie(name):
    model = fitted(name)
    movies = movie_frame(N_MOVIES)
    movies["movie_id"] = np.arange(N_MOVIES) * 10 + 7
    for label, profile in all_profiles()[::7]:
        ranked = recommend(model, profile, 10)
        reasons = model.explain(profile, ranked.movie_idx, movies)
        assert len(reasons) == len(ranked.movie_idx), label
        for reason in reasons:
            assert reason["code"] in type(model).reasons and reason["text"], (label, reason)
    assert model.explain(known_profile(0), np.empty(0, np.int64), movies) == []


def test_format_3_bundle_still_loads_as_its_two_methods(bundle, tmp_path):
    """A version registered before format 4: embedding/ + user_user.npz, the user-user config in the manifest."""
    folder = tmp_path / "v3"
    embedding, user_user = bundle.method("embedding"), bundle.method("user_user")
    embedding.save(folder / "embedding")
    arrays = user_user.model.to_arrays()
    ratings_keys = ("indptr", "indices", "data", "shape")
    np.savez(folder / "ratings.npz", **{k: arrays[k] for k in ratings_keys})
    np.savez(folder / "user_user.npz", **{k: v for k, v in arrays.items() if k not in ratings_keys})
    bundle.vocab.save(folder / "vocabulary.json")
    bundle.movies.to_parquet(folder / "movies.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({
        "format_version": 3, "n_users": N_USERS, "n_movies": N_MOVIES,
        "user_user_config": dataclasses.asdict(user_user.model.config)}))
    loaded = ModelBundle.load(folder)
    assert loaded.method_names == ["embedding", "user_user"]
    for method in loaded.method_names:
        for user_id in (1, 30):
            before = bundle.recommend(method, bundle.profile_for_user(user_id), 10)
            after = loaded.recommend(method, loaded.profile_for_user(user_id), 10)
            np.testing.assert_array_equal(after.movie_idx, before.movie_idx)
            np.testing.assert_array_equal(after.score, before.score)


@pytest.mark.parametrize("version", [2, 5, None])
def test_other_bundle_formats_are_refused_naming_the_version_and_the_fix(bundle, tmp_path, version):
    bundle.save(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["format_version"] = version
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleFormatError, match=rf"format version {version}; this code reads versions 3 and 4: "
                                                r"rebuild it .*dvc repro.* register it again"):
        ModelBundle.load(tmp_path / "b")
