"""Pairwise-complete Pearson correlation of one user against all users, from sparse co-rating sums.

The correlation of a pair is taken over the movies both rated, with each side's mean taken over
those co-rated movies only — the definition of pandas ``DataFrame.corr(min_periods=...)`` on a
user × movie frame with NaNs. One query reads only the matrix columns of the movies the target
user rated: six sums per other user (count, Σx, Σy, Σxy, Σx², Σy²) are accumulated over those
columns (``np.bincount`` and sparse × dense products). No dense pivot and no all-pairs matrix
is ever built.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# A variance this small relative to the sum of squares counts as zero (pandas gives NaN there).
_ZERO_VARIANCE = 1e-12


def gather_columns(indptr: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions into a CSC matrix's ``indices``/``data`` for the given columns.

    Returns ``(positions, owner)`` where ``owner[i]`` is the index *into* ``cols`` of the column
    that ``positions[i]`` belongs to. Columns may repeat; entries keep the matrix order.
    """
    cols = np.asarray(cols, dtype=np.int64)
    starts = indptr[cols].astype(np.int64)
    lens = indptr[cols + 1].astype(np.int64) - starts
    total = int(lens.sum())
    owner = np.repeat(np.arange(cols.size, dtype=np.int64), lens)
    offsets = np.cumsum(lens) - lens
    positions = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, lens)
    return positions, owner


def pearson_against_all(csc_indptr: np.ndarray, csc_indices: np.ndarray, csc_data: np.ndarray,
                        n_users: int, movie_idx: np.ndarray, rating: np.ndarray,
                        min_co_rated: int = 2,
                        user_centre: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of one rating vector with every user of a users × movies CSC matrix.

    Args:
        csc_indptr, csc_indices, csc_data: the CSC arrays of the (n_users × n_movies) ratings.
        n_users: number of rows of that matrix.
        movie_idx, rating: the target user's ratings (distinct movie indices).
        min_co_rated: pairs with fewer co-rated movies get NaN (pandas ``min_periods``).
        user_centre: optional per-user constant subtracted from each user's ratings before
            summing; Pearson is shift-invariant, so this only reduces cancellation error.

    Returns:
        ``(corr, n_co)``: ``corr`` (n_users,) float64, NaN where undefined (too few co-rated
        movies or zero variance on either side); ``n_co`` (n_users,) co-rated counts.
    """
    movie_idx = np.asarray(movie_idx, dtype=np.int64)
    x_all = np.asarray(rating, dtype=np.float64)
    if x_all.size:
        x_all = x_all - x_all.mean()
    # the profile's columns, copied contiguously in profile order (scipy's C++ column gather);
    # per-user sums over them are sparse matrix x dense products (C++), summed in the same
    # order as entry-wise bincounts would be, so the result is the same to the last bit
    n_movies = len(csc_indptr) - 1
    columns = sp.csc_matrix((csc_data, csc_indices, csc_indptr), shape=(n_users, n_movies))[:, movie_idx]
    users = columns.indices
    y = columns.data.astype(np.float64)
    if user_centre is not None:
        y -= user_centre[users]
    rated = sp.csc_matrix((np.ones(users.size), users, columns.indptr), shape=columns.shape)
    counts, sx, sxx = (rated @ np.column_stack([np.ones_like(x_all), x_all, x_all * x_all])).T
    n = counts.astype(np.int64)  # exact: sums of ones
    centred = sp.csc_matrix((y, users, columns.indptr), shape=columns.shape)
    sy, sxy = (centred @ np.column_stack([np.ones_like(x_all), x_all])).T
    syy = np.bincount(users, weights=y * y, minlength=n_users)

    with np.errstate(divide="ignore", invalid="ignore"):
        nf = n.astype(np.float64)
        cov = sxy - sx * sy / nf
        vx = sxx - sx * sx / nf
        vy = syy - sy * sy / nf
        undefined = ((n < max(min_co_rated, 1)) | (vx <= _ZERO_VARIANCE * sxx)
                     | (vy <= _ZERO_VARIANCE * syy))
        corr = cov / np.sqrt(vx * vy)
    corr[undefined] = np.nan
    np.clip(corr, -1.0, 1.0, out=corr)
    return corr, n
