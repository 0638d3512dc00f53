"""Training data as tensors: ratings in seeded batches, and the choice head's per-user targets.

Batches are pre-tensorised slices of seeded permutations (no per-row Dataset, num_workers=0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import IterableDataset

from movierec.models.embedding.day_bias import UserDays


@dataclass(frozen=True)
class Ratings:
    """Indexed ratings as tensors; ``day``: each rating's per-user-day bias row (day_bias.UserDays), if any."""

    user_idx: torch.Tensor
    movie_idx: torch.Tensor
    rating: torch.Tensor
    day: torch.Tensor | None = None

    @classmethod
    def from_arrays(cls, user_idx, movie_idx, rating) -> Ratings:
        return cls(torch.tensor(np.asarray(user_idx), dtype=torch.long),
                   torch.tensor(np.asarray(movie_idx), dtype=torch.long),
                   torch.tensor(np.asarray(rating), dtype=torch.float32))

    @classmethod
    def from_frame(cls, frame, days: UserDays | None = None) -> Ratings:
        """From a frame with user_idx, movie_idx, rating columns; with `days` (the training ratings'
        (user, day) pairs) also each rating's per-user-day row, from its timestamp column."""
        ratings = cls.from_arrays(frame["user_idx"], frame["movie_idx"], frame["rating"])
        if days is None:
            return ratings
        return cls(ratings.user_idx, ratings.movie_idx, ratings.rating,
                   torch.as_tensor(days.frame_rows(frame), dtype=torch.long))

    def __len__(self) -> int:
        return int(self.rating.numel())


def _rank_and_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0, 1 unless torch.distributed runs)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class RatingBatches(IterableDataset):
    """Slices of a permutation (seeded, new each epoch) of pre-tensorised ratings.

    Under DDP every rank draws the same permutation and takes every world-th batch, the same
    number on each rank (up to world - 1 batches of an epoch are left out; a new permutation
    each epoch leaves out others).
    """

    def __init__(self, data: Ratings, batch_size: int, seed: int | None) -> None:
        self.data, self.batch_size, self.seed, self.epoch = data, batch_size, seed, 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.data)
        if self.seed is None:
            order = torch.arange(n)
        else:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
            self.epoch += 1
        starts = range(0, n, self.batch_size)
        rank, world = _rank_and_world()
        if world > 1:
            starts = starts[rank::world][: len(starts) // world] or starts[rank % len(starts):][:1]
        for start in starts:
            idx = order[start:start + self.batch_size]
            batch = self.data.user_idx[idx], self.data.movie_idx[idx], self.data.rating[idx]
            yield batch if self.data.day is None else (*batch, self.data.day[idx])


class ChoiceTargets:
    """Per-user rating-weighted targets of the choice head, cycled over seeded user batches.

    With ``negatives`` > 0, :meth:`next_sampled_batch` also draws that many movies for the
    sampled softmax, with probability ∝ (train count + 1)^0.75 (every movie keeps a chance).
    """

    SAMPLING_POWER = 0.75

    def __init__(self, data: Ratings, n_users: int, n_movies: int, users_per_batch: int, seed: int,
                 negatives: int = 0) -> None:
        self.matrix = sp.csr_matrix((data.rating.numpy(), (data.user_idx.numpy(), data.movie_idx.numpy())),
                                    shape=(n_users, n_movies))
        self.users = np.flatnonzero(np.diff(self.matrix.indptr) > 0)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.users_per_batch = users_per_batch
        self.negatives = negatives
        weight = (np.bincount(self.matrix.indices, minlength=n_movies) + 1.0) ** self.SAMPLING_POWER
        self.sampling_p = weight / weight.sum()
        self._queue = np.empty(0, dtype=np.int64)

    def reseed(self, rank: int) -> None:
        """Draw this rank's own user batches (DDP): the seed given plus 1,000 x rank."""
        self.rng = np.random.default_rng(self.seed + 1000 * rank)
        self._queue = np.empty(0, dtype=np.int64)

    def _next_users(self) -> np.ndarray:
        if self._queue.size < self.users_per_batch:
            self._queue = np.concatenate([self._queue, self.rng.permutation(self.users)])
        users, self._queue = self._queue[: self.users_per_batch], self._queue[self.users_per_batch:]
        return users

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(users, weights)``: dense targets over every movie, rows summing to 1."""
        users = self._next_users()
        weights = self.matrix[users].toarray().astype(np.float32)
        weights /= weights.sum(axis=1, keepdims=True)
        return torch.from_numpy(users.astype(np.int64)), torch.from_numpy(weights)

    def next_sampled_batch(self) -> tuple[torch.Tensor, ...]:
        """The arguments of :meth:`EmbeddingNet.sampled_choice_loss`: users, their chosen movies
        as (row, movie, weight, log-probability of being drawn), and the shared sampled movies with
        their log-probabilities."""
        users = self._next_users()
        rows = self.matrix[users]
        pos_row = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
        pos_weight = (rows.data / np.add.reduceat(rows.data, rows.indptr[:-1])[pos_row]).astype(np.float32)
        neg = self.rng.choice(len(self.sampling_p), size=self.negatives, p=self.sampling_p)

        def as_long(a) -> torch.Tensor:
            return torch.from_numpy(np.asarray(a, dtype=np.int64))

        def log_p(movies: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.log(self.sampling_p[movies]).astype(np.float32))

        return (as_long(users), as_long(pos_row), as_long(rows.indices), torch.from_numpy(pos_weight),
                log_p(rows.indices), as_long(neg), log_p(neg))
