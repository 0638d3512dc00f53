"""An id vocabulary: external ids (MovieLens userId/movieId) <-> contiguous 0-based indices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from movierec.atomic import atomic_write_json


@dataclass(frozen=True)
class Vocabulary:
    """Sorted unique ids; an id's index is its position. Immutable once built."""

    ids: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, dtype=np.int64)
        if ids.ndim != 1 or (ids.size > 1 and not np.all(ids[1:] > ids[:-1])):
            raise ValueError("vocabulary ids must be a strictly increasing 1-d sequence")
        ids.setflags(write=False)
        object.__setattr__(self, "ids", ids)

    @classmethod
    def from_ids(cls, ids) -> Vocabulary:
        return cls(np.unique(np.asarray(ids, dtype=np.int64)))

    def __len__(self) -> int:
        return int(self.ids.size)

    def __contains__(self, external_id: object) -> bool:
        try:
            return self.lookup([int(external_id)])[0] >= 0  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            return False

    def lookup(self, ids) -> np.ndarray:
        """Indices of `ids`, -1 where an id is unknown."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos_clipped = np.minimum(pos, max(len(self) - 1, 0))
        found = (pos < len(self)) & (self.ids[pos_clipped] == ids) if len(self) else np.zeros(ids.shape, bool)
        return np.where(found, pos_clipped, -1)

    def index(self, ids) -> np.ndarray:
        """Indices of `ids`; raises KeyError naming the unknown ids."""
        idx = self.lookup(ids)
        if (idx < 0).any():
            unknown = np.asarray(ids)[idx < 0][:10].tolist()
            raise KeyError(f"unknown id(s): {unknown}")
        return idx

    def id_of(self, idx) -> np.ndarray:
        return self.ids[np.asarray(idx, dtype=np.int64)]

    def to_dict(self) -> list[int]:
        return self.ids.tolist()


@dataclass(frozen=True)
class Vocabularies:
    """The user and movie vocabularies of one processed data set."""

    users: Vocabulary
    movies: Vocabulary

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, {"users": self.users.to_dict(), "movies": self.movies.to_dict()})

    @classmethod
    def load(cls, path: str | Path) -> Vocabularies:
        with open(path) as fh:
            data = json.load(fh)
        return cls(Vocabulary(np.asarray(data["users"])), Vocabulary(np.asarray(data["movies"])))
