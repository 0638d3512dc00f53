"""Train/test splits of a ratings table where every test user and movie also appears in train.

random / temporal / kfold are computed here and then pass :func:`cover_train`; the predefined
ml-100k splits are read as published (:func:`movierec.data.readers.read_predefined_split`), and
:func:`drop_uncovered` removes their test rows of users/movies absent from the base file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from movierec.config import SplitStrategy


def random_fraction_mask(n_rows: int, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of test rows: the first `test_fraction` of a seeded permutation."""
    order = np.random.RandomState(seed).permutation(n_rows)
    mask = np.zeros(n_rows, dtype=bool)
    mask[order[: int(round(n_rows * test_fraction))]] = True
    return mask


def temporal_test_mask(ratings: pd.DataFrame, test_fraction: float) -> np.ndarray:
    """Each user's latest `test_fraction` of ratings (ties broken by row order) go to test."""
    frame = pd.DataFrame({"user_id": ratings["user_id"].to_numpy(),
                          "timestamp": ratings["timestamp"].to_numpy(),
                          "row": np.arange(len(ratings))})
    frame = frame.sort_values(["user_id", "timestamp", "row"], kind="stable")
    rank_from_end = frame.groupby("user_id").cumcount(ascending=False).to_numpy()
    size = frame.groupby("user_id")["row"].transform("size").to_numpy()
    n_test = np.floor(size * test_fraction + 0.5).astype(int)  # rounded per user
    mask = np.zeros(len(ratings), dtype=bool)
    mask[frame["row"].to_numpy()] = rank_from_end < n_test
    return mask


def kfold_test_mask(n_rows: int, n_folds: int, fold: int, seed: int) -> np.ndarray:
    """Rows of fold `fold` in a seeded partition into `n_folds` near-equal parts.

    Row ``order[j]`` of the permutation ``RandomState(seed).permutation(n_rows)`` belongs to
    fold ``j % n_folds``; the folds are disjoint and cover every row.
    """
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold {fold} is not in 0..{n_folds - 1}")
    order = np.random.RandomState(seed).permutation(n_rows)
    mask = np.zeros(n_rows, dtype=bool)
    mask[order[fold::n_folds]] = True
    return mask


def cover_train(ratings: pd.DataFrame, test_mask: np.ndarray) -> np.ndarray:
    """Move, for each user or movie absent from train, one of its test rows into train."""
    test_mask = test_mask.copy()
    for column in ("user_id", "movie_id"):
        train_values = set(ratings.loc[~test_mask, column].to_numpy().tolist())
        test_rows = np.flatnonzero(test_mask)
        values = ratings[column].to_numpy()[test_rows]
        uncovered = ~np.isin(values, list(train_values))
        if uncovered.any():
            # the first test row of every uncovered value
            _, first = np.unique(values[uncovered], return_index=True)
            test_mask[test_rows[np.flatnonzero(uncovered)[first]]] = False
    return test_mask


def drop_uncovered(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Test rows whose user and movie both appear in train, and how many rows were dropped."""
    keep = (test["user_id"].isin(train["user_id"]) & test["movie_id"].isin(train["movie_id"])).to_numpy()
    return test[keep].reset_index(drop=True), int((~keep).sum())


def split_ratings(ratings: pd.DataFrame, strategy: SplitStrategy | str, test_fraction: float,
                  seed: int, n_folds: int = 5, fold: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split into (train, test); deterministic for a given seed. kfold uses `n_folds`/`fold`."""
    strategy = SplitStrategy(strategy)
    if strategy is SplitStrategy.random:
        mask = random_fraction_mask(len(ratings), test_fraction, seed)
    elif strategy is SplitStrategy.temporal:
        mask = temporal_test_mask(ratings, test_fraction)
    elif strategy is SplitStrategy.kfold:
        mask = kfold_test_mask(len(ratings), n_folds, fold, seed)
    else:
        raise ValueError("predefined splits are read from the release, not computed: "
                         "use movierec.data.readers.read_predefined_split")
    mask = cover_train(ratings, mask)
    return ratings[~mask].reset_index(drop=True), ratings[mask].reset_index(drop=True)
