"""The one contract every recommendation method fulfils (docs/methods.md).

A method is a class in its own module ``movierec.methods.<name>`` exported as ``METHOD``. It is
trained from the project's data and its own config section (``conf/<section>/``, named in
``methods`` in conf/config.yaml), saved to and loaded from one folder (no pickle), and answers
through the one ranking path (:func:`movierec.models.protocol.recommend`): ranking scores for
every movie, rating predictions, and one reason per recommended movie. Known users and new users
are both :class:`~movierec.models.protocol.Profile` s (a new user has ``user_idx=None``).

Anchors: LensKit's Component/Trainable (one train(data, options), a config class per component)
and implicit's RecommenderBase (fit/recommend/save/load, one test every model passes).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.config import TrainerConfig
from movierec.models.protocol import Profile

# a training stage's own record, written beside a method's saved files in its trained folder (the
# embedding's epoch counts): not part of the method, so not copied into a model bundle
TRAINING_RECORD = "run.json"


@dataclass(frozen=True)
class TrainingData:
    """What a method trains on: ratings (``user_idx``, ``movie_idx``, ``rating``) and the index sizes."""

    ratings: pd.DataFrame
    n_users: int
    n_movies: int

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        frame = self.ratings
        return frame["user_idx"].to_numpy(), frame["movie_idx"].to_numpy(), frame["rating"].to_numpy()


@dataclass(frozen=True)
class FitContext:
    """What the pipeline hands every method besides its data and config.

    ``seed``: the project seed. ``trainer``: how to run (threads, devices) for methods that use it.
    ``hooks``: method-specific callbacks (the embedding method's per-epoch MLflow logging), opaque here.
    ``trained``: the folder of this method trained on all of train, when the new-user protocol refits
    it on the warm users (e.g. to reuse the epoch counts chosen there); None otherwise.
    """

    seed: int
    trainer: TrainerConfig
    hooks: Callable[..., Any] | None = None
    trained: Path | None = None


class Method(ABC):
    """A trained recommendation method (see the module docstring)."""

    name: ClassVar[str]           # the one name: config, code, metrics, API and page
    label: ClassVar[str]          # a short title for the page
    description: ClassVar[str]    # one line: what it is (API docs, page subtitle)
    config_class: ClassVar[type]  # a dataclass validated in __post_init__ (its section of conf/)
    reasons: ClassVar[dict[str, str]]  # the explanation codes it gives -> what each means

    n_movies: int

    @classmethod
    @abstractmethod
    def fit(cls, data: TrainingData, config: Any, context: FitContext) -> Method:
        """Train on `data` with this method's `config` (an instance of :attr:`config_class`)."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write everything :meth:`load` needs into `folder` (plain arrays, JSON, weights-only tensors)."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path) -> Method:
        """The method as saved by :meth:`save`."""

    @abstractmethod
    def rank_scores(self, profile: Profile) -> np.ndarray:
        """Score every movie (shape ``(n_movies,)``); higher ranks first."""

    @abstractmethod
    def predict(self, profile: Profile, movie_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings (unclipped) of the given movies for this user."""

    def predict_at(self, profile: Profile, movie_idx: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
        """:meth:`predict` for ratings made at `timestamp` (unix seconds, one per movie; evaluation
        knows when each held-out rating was made). A method without time effects ignores it."""
        return self.predict(profile, movie_idx)

    @abstractmethod
    def explain(self, profile: Profile, movie_idx: np.ndarray, movies: pd.DataFrame) -> list[dict]:
        """One ``{"code", "text", ...}`` reason per movie in `movie_idx`; `movies` is the movie table
        (``movie_id``, ``title``, ...) in index order. Codes come from :attr:`reasons`."""

    def train_ratings(self) -> sp.csr_matrix | None:
        """The users × movies train ratings (CSR) this method holds, if any (read only). A bundle whose
        known users' profiles are the same matrix holds this one instead of a second copy."""
        return None
