"""Per-user-day rating biases (timeSVD++'s b_{u,t}, Koren 2009): a user's ratings on one day share an offset.

MovieLens users rate in sessions, and a session's ratings sit above or below the user's usual level
together (benchmarks/results/rating_research.md, "rating time"). A day is a UTC calendar day
(``timestamp // 86400``). Training learns one offset per (user, day) seen in the training ratings;
a prediction for a (user, day) pair never seen — a new user, a rating asked for without its time,
any future day — adds nothing (the user's own bias b_u stands for their other days).

:class:`UserDays` indexes the pairs while training (one table row per pair, plus a last row that
stays zero for unseen pairs); :class:`DayBias` is what is served: sorted pair keys and the offsets
(the mean over the heads, as ratings are), saved as two plain arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DAY_SECONDS = 86_400
_DAY_BITS = 32  # key = user_idx << 32 | day (days since 1970 fit in 32 bits until far beyond 9999)
DAY_BIAS_FILE = "day_bias.npz"


def _frame_keys(frame) -> np.ndarray:
    if "timestamp" not in frame:
        raise ValueError("model.day_l2 > 0 (per-user-day biases) needs a timestamp column in the ratings")
    return pair_keys(frame["user_idx"], frame["timestamp"])


def pair_keys(user_idx, timestamp) -> np.ndarray:
    """One int64 key per (user, UTC day) pair."""
    users = np.asarray(user_idx, dtype=np.int64)
    stamps = np.asarray(timestamp, dtype=np.int64)
    if users.shape != stamps.shape:
        raise ValueError(f"user_idx {users.shape} and timestamp {stamps.shape} must have the same shape")
    if stamps.size and stamps.min() < 0:
        raise ValueError("timestamps must be unix seconds >= 0")
    return (users << _DAY_BITS) | (stamps // DAY_SECONDS)


class UserDays:
    """The (user, day) pairs of the training ratings: row ``i`` of a bias table is pair ``keys[i]``;
    ``counts[i]``: how many of the keys given were that pair (its training ratings)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys, counts = np.unique(np.asarray(keys, dtype=np.int64), return_counts=True)
        self.counts = counts.astype(np.int64)

    @classmethod
    def from_frame(cls, frame) -> UserDays:
        return cls(_frame_keys(frame))

    def penalty(self, l2: float, prior: float) -> np.ndarray:
        """Each rating's L2 weight on its day bias, by table row: ``l2 + prior / n`` for a pair with n
        training ratings (summed over a pair's ratings: ``n·l2 + prior``, a fixed prior per pair that
        lets a day's bias grow only with the evidence of many ratings); 0 on the last (unseen) row."""
        return np.append(l2 + prior / self.counts, 0.0).astype(np.float32)

    def __len__(self) -> int:
        return int(self.keys.size)

    def frame_rows(self, frame) -> np.ndarray:
        """:meth:`rows` of a ratings frame (user_idx, timestamp columns)."""
        return self._rows_of(_frame_keys(frame))

    def rows(self, user_idx, timestamp) -> np.ndarray:
        """Each rating's table row; ``len(self)`` (the zero row) for a pair not seen in training."""
        return self._rows_of(pair_keys(user_idx, timestamp))

    def _rows_of(self, keys: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.keys, keys)
        inside = pos < self.keys.size
        found = np.zeros(keys.shape, dtype=bool)
        found[inside] = self.keys[pos[inside]] == keys[inside]
        return np.where(found, pos, self.keys.size).astype(np.int64)


class DayBias:
    """Served per-user-day offsets: ``values[i]`` for the pair ``keys[i]`` (sorted)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        values = np.asarray(values, dtype=np.float32)
        if keys.shape != values.shape or keys.ndim != 1:
            raise ValueError(f"day-bias keys {keys.shape} and values {values.shape} must be 1-d and equal")
        if keys.size > 1 and not np.all(np.diff(keys) > 0):
            raise ValueError("day-bias keys must be sorted and unique")
        self.keys, self.values = keys, values
        self._days = UserDays(keys)

    def offsets(self, user_idx: int, timestamp) -> np.ndarray:
        """The offset of each of one user's ratings at `timestamp` (unix seconds); 0 for unseen days."""
        stamps = np.asarray(timestamp, dtype=np.int64)
        rows = self._days.rows(np.full(stamps.shape, int(user_idx), dtype=np.int64), stamps)
        seen = rows < self.keys.size
        out = np.zeros(rows.shape, dtype=np.float32)
        out[seen] = self.values[rows[seen]]
        return out

    def save(self, folder: str | Path) -> None:
        np.savez(Path(folder) / DAY_BIAS_FILE, keys=self.keys, values=self.values)

    @classmethod
    def load(cls, folder: str | Path) -> DayBias:
        with np.load(Path(folder) / DAY_BIAS_FILE, allow_pickle=False) as arrays:
            return cls(arrays["keys"], arrays["values"])
