"""Tilted EASE^R (models/item_item.py) against answers computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models.item_item import ItemItemModel, _regularised_cholesky, ease_weights, tilted_matrix, tilted_values


def _csr(rows: list[list[float]]) -> sp.csr_matrix:
    """Users x movies ratings; 0 = not rated."""
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


RATINGS = _csr([[5, 3, 0, 0],
                [4, 0, 2, 0],
                [0, 4, 4, 1],
                [5, 5, 0, 3],
                [0, 0, 3, 3]])


def test_tilt_is_one_plus_tilt_times_the_users_deviation_clipped_at_zero():
    X = tilted_matrix(_csr([[5, 3, 0], [1, 0, 5]]), tilt=0.25).toarray()
    # user 0: mean 4 -> 1.25, 0.75; user 1: mean 3 -> 0.5, 1.5
    np.testing.assert_allclose(X, [[1.25, 0.75, 0], [0.5, 0, 1.5]])
    np.testing.assert_array_equal(tilted_values(np.array([0.5, 5.0]), 2.75, tilt=1.0), [0.0, 3.25])
    binary = tilted_matrix(RATINGS, tilt=0.0)
    np.testing.assert_array_equal(binary.toarray(), (RATINGS.toarray() > 0).astype(np.float32))


def test_users_without_ratings_anywhere_in_the_matrix_are_fine():
    # the new-user protocol holds users out of training entirely: the last rows can be empty
    X = tilted_matrix(_csr([[0, 0, 0], [5, 3, 0], [0, 0, 0], [1, 0, 5], [0, 0, 0]]), tilt=0.25).toarray()
    np.testing.assert_allclose(X, [[0, 0, 0], [1.25, 0.75, 0], [0, 0, 0], [0.5, 0, 1.5], [0, 0, 0]])


def test_two_movies_weight_is_co_occurrence_over_own_count_plus_lambda():
    # for two movies, P = (G + lambda I)^-1 gives B_01 = -P_01 / P_11 = G_01 / (G_00 + lambda): the
    # ridge weight of movie 0 when predicting movie 1 (and B_10 = G_10 / (G_11 + lambda))
    X = sp.csr_matrix(np.array([[1, 1], [1, 0], [1, 1], [0, 1], [1, 0]], np.float32))
    G = (X.T @ X).toarray()
    lam = 2.0
    B = ease_weights(X, lam)
    np.testing.assert_allclose(B, [[0, G[0, 1] / (G[0, 0] + lam)], [G[1, 0] / (G[1, 1] + lam), 0]], rtol=1e-6)


def test_weights_are_the_closed_form_with_a_zero_diagonal():
    X = tilted_matrix(RATINGS, 0.25)
    lam = 3.0
    gram = (X.T @ X).toarray().astype(np.float64) + lam * np.eye(4)
    P = np.linalg.inv(gram)
    expected = np.eye(4) - P / np.diag(P)[None, :]
    B = ease_weights(X, lam)
    assert B.dtype == np.float32
    np.testing.assert_array_equal(np.diag(B), 0.0)
    np.testing.assert_allclose(B, expected, atol=1e-6)
    # each column minimises |X_j - X B_j|^2 + lambda |B_j|^2 with B_jj = 0: the ridge regression of
    # movie j on the other movies
    Xd = X.toarray().astype(np.float64)
    for j in range(4):
        others = [i for i in range(4) if i != j]
        A = Xd[:, others]
        ridge = np.linalg.solve(A.T @ A + lam * np.eye(3), A.T @ Xd[:, j])
        np.testing.assert_allclose(B[others, j], ridge, atol=1e-6)


def test_lambda_to_zero_reproduces_a_movie_that_is_a_copy_of_another():
    # movie 1 is always rated with movie 0 and nowhere else: with lambda -> 0, x B predicts it exactly
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1], [1, 1, 0]], np.float32))
    B = ease_weights(X, 1e-6)
    # the least-squares fit of column 1 from columns 0 and 2 is 1 x column 0
    np.testing.assert_allclose(B[:, 1], [1.0, 0.0, 0.0], atol=1e-4)


def test_a_gram_singular_in_single_precision_is_factorised_in_double():
    # two identical movies and lambda 1e-12: in float32, 3 + 1e-12 == 3 and the gram is exactly
    # singular (potrf fails); float64 keeps lambda and gives the closed form B_01 = G_01 / (G_00 + lambda)
    X = sp.csr_matrix(np.array([[1, 1], [1, 1], [0, 0], [1, 1]], np.float32))
    gram32 = (X.T @ X).toarray().astype(np.float32)
    assert _regularised_cholesky(gram32, 1e-12)[1] != 0
    B = ease_weights(X, 1e-12)
    np.testing.assert_allclose(B, [[0, 1.0], [1.0, 0]], rtol=1e-6)


def test_a_movie_co_rated_with_the_profile_scores_higher():
    model = ItemItemModel.fit(RATINGS, lam=1.0, tilt=0.25)
    # movie 3 is co-rated with movie 2 (users 2, 4), never with movie 0
    scores = model.scores(np.array([2]), np.array([4.0], np.float32))
    assert scores[3] > scores[0]
    scores = model.scores(np.array([0]), np.array([4.0], np.float32))
    assert scores[1] > scores[3]
    assert scores.shape == (4,) and scores.dtype == np.float32


def test_scores_are_x_times_b_with_the_profiles_own_mean():
    model = ItemItemModel.fit(RATINGS, lam=2.0, tilt=0.5)
    movies, ratings = np.array([0, 3]), np.array([5.0, 2.0], np.float32)
    x = np.maximum(1 + 0.5 * (ratings - ratings.mean()), 0)  # 1.75, 0.25
    np.testing.assert_allclose(model.scores(movies, ratings), x @ model.weights[movies], rtol=1e-6)
    # a known user's profile scores equal their row of the training input times B
    X = tilted_matrix(RATINGS, 0.5)
    row = RATINGS[3]
    np.testing.assert_allclose(model.scores(row.indices, row.data), (X[3] @ model.weights).ravel(), rtol=1e-6)
    np.testing.assert_array_equal(model.scores(np.empty(0, np.int64), np.empty(0, np.float32)), np.zeros(4))


def test_a_cap_models_the_most_rated_movies_only():
    ratings = RATINGS.tolil()
    ratings[3, 1] = 0
    ratings = sp.csr_matrix(ratings)
    ratings.eliminate_zeros()
    counts = np.bincount(ratings.indices, minlength=4)
    assert counts.tolist() == [3, 2, 3, 3]
    capped = ItemItemModel.fit(ratings, lam=1.0, tilt=0.25, max_movies=3)
    assert capped.movies.tolist() == [0, 2, 3] and capped.weights.shape == (3, 3)
    full_on_kept = ease_weights(tilted_matrix(ratings, 0.25)[:, [0, 2, 3]], 1.0)
    np.testing.assert_allclose(capped.weights, full_on_kept, rtol=1e-6)
    scores = capped.scores(np.array([0, 1]), np.array([5.0, 3.0], np.float32))
    assert scores[1] == 0.0  # outside the model
    x = np.maximum(1 + 0.25 * (np.array([5.0, 3.0]) - 4.0), 0)
    np.testing.assert_allclose(scores[[0, 2, 3]], x[0] * full_on_kept[0], rtol=1e-6)  # movie 1 adds nothing
    assert ItemItemModel.fit(ratings, 1.0, 0.25, max_movies=10).movies.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("mmap", [True, False])
def test_save_and_load_are_bit_identical(tmp_path, mmap):
    model = ItemItemModel.fit(RATINGS, lam=2.0, tilt=0.25, max_movies=3)
    model.save(tmp_path)
    loaded = ItemItemModel.load(tmp_path, mmap=mmap)
    assert (loaded.lam, loaded.tilt, loaded.n_movies) == (2.0, 0.25, 4)
    np.testing.assert_array_equal(loaded.movies, model.movies)
    profile = (np.array([0, 2, 3]), np.array([1.0, 4.0, 5.0], np.float32))
    np.testing.assert_array_equal(loaded.scores(*profile), model.scores(*profile))


@pytest.mark.parametrize("n, block", [(1, 4), (7, 3), (9, 3), (10, 64)])
def test_mirroring_in_blocks_equals_the_full_copy(n, block):
    from movierec.models.item_item import mirror_lower_triangle

    a = np.random.default_rng(n).standard_normal((n, n))
    expected = np.tril(a) + np.tril(a, -1).T
    mirror_lower_triangle(a, block)
    assert np.array_equal(a, expected)
