"""Train the hybrid embedding method: the rating/choice heads (Lightning) and the item-item part.

Kept apart from :mod:`movierec.models.embedding.hybrid` so that loading and serving a model never
imports Lightning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.config import ModelConfig, TrainerConfig
from movierec.data.split import random_fraction_mask
from movierec.models.embedding.batches import Ratings
from movierec.models.embedding.day_bias import UserDays
from movierec.models.embedding.fit import EmbeddingTraining, train_embedding
from movierec.models.embedding.hybrid import Blend, FoldIn, HybridRecommender
from movierec.models.embedding.stacked_fit import fit_stacked
from movierec.models.embedding.task import EpochHook
from movierec.models.item_item import ItemItemModel


@dataclass
class HybridTraining:
    """Outcome of :func:`train_hybrid`: the model and each head's training record."""

    model: HybridRecommender
    heads: list[EmbeddingTraining] = field(default_factory=list)
    head_seeds: list[int] = field(default_factory=list)
    item_item_seconds: float = 0.0


def ratings_csr(frame: pd.DataFrame, n_users: int, n_movies: int) -> sp.csr_matrix:
    return sp.csr_matrix((frame["rating"].to_numpy(np.float32),
                          (frame["user_idx"].to_numpy(np.int64), frame["movie_idx"].to_numpy(np.int64))),
                         shape=(n_users, n_movies))


def fit_item_item(train: pd.DataFrame, n_users: int, n_movies: int, model_cfg: ModelConfig) -> ItemItemModel | None:
    if not model_cfg.blend_item_item:
        return None
    return ItemItemModel.fit(ratings_csr(train, n_users, n_movies), model_cfg.item_item_lambda,
                             model_cfg.item_item_tilt, model_cfg.item_item_max_movies)


def training_days(train: pd.DataFrame, model_cfg: ModelConfig) -> UserDays | None:
    """The training ratings' (user, day) pairs when the model learns day biases (`model.day_l2` > 0), else None."""
    return UserDays.from_frame(train) if model_cfg.day_l2 > 0 else None


HeadHooks = Callable[[int], tuple[EpochHook | None, EpochHook | None]]


def train_hybrid(train: pd.DataFrame, test: pd.DataFrame | None, n_users: int, n_movies: int,
                 model_cfg: ModelConfig, trainer_cfg: TrainerConfig, seed: int,
                 hooks: HeadHooks | None = None, epochs: list[int] | None = None) -> HybridTraining:
    """`model_cfg.n_heads` embedding models (head i: seed + i × head_seed_offset, validation carve of
    `seed`) and the item-item model, all on `train`. `hooks(i)` gives head i's (epoch, refit epoch) hooks.

    Epoch counts: with `epochs` (one per head, chosen earlier on validation) no head runs a selection;
    otherwise head 0 chooses its count on the validation carve and, with `trainer_cfg.refit`, the
    other heads train on all of `train` for that many epochs (one selection run, not one per head).
    """
    if epochs is not None and len(epochs) != model_cfg.n_heads:
        raise ValueError(f"epochs gives {len(epochs)} counts for {model_cfg.n_heads} heads (model.n_heads)")
    if model_cfg.epochs > 0:
        return train_stacked(train, test, n_users, n_movies, model_cfg, trainer_cfg, seed, hooks, epochs)
    trainings: list[EmbeddingTraining] = []
    seeds: list[int] = []
    for i in range(model_cfg.n_heads):
        head_seed = seed + i * model_cfg.head_seed_offset
        on_epoch, on_refit = hooks(i) if hooks is not None else (None, None)
        if epochs is not None:
            head_epochs: int | None = epochs[i]
        elif i > 0 and trainer_cfg.refit:
            head_epochs = trainings[0].best_epoch + 1
        else:
            head_epochs = None
        trainings.append(train_embedding(train, test, n_users, n_movies, model_cfg, trainer_cfg, head_seed,
                                         on_epoch=on_epoch, on_refit_epoch=on_refit, carve_seed=seed,
                                         epochs=head_epochs))
        seeds.append(head_seed)
    started = time.perf_counter()
    item_item = fit_item_item(train, n_users, n_movies, model_cfg)
    seconds = time.perf_counter() - started
    model = HybridRecommender([t.model for t in trainings], item_item, Blend.from_config(model_cfg),
                              fold_in=FoldIn.from_config(model_cfg), rating_stretch=model_cfg.rating_stretch)
    return HybridTraining(model, trainings, seeds, seconds)


def train_stacked(train: pd.DataFrame, test: pd.DataFrame | None, n_users: int, n_movies: int,
                  model_cfg: ModelConfig, trainer_cfg: TrainerConfig, seed: int,
                  hooks: HeadHooks | None = None, epochs: list[int] | None = None) -> HybridTraining:
    """`model.epochs` > 0: every head at once (:mod:`movierec.models.embedding.stacked_fit`) on all of
    `train` for that many epochs (chosen earlier on validation; `trainer.max_epochs` caps it, as it
    caps every run), weights averaged from epoch `model.average_from` (capped likewise). The seed's
    validation carve of `train` is training data here: its loss is logged (``val_loss``, head 0's
    epoch hook) beside the test loss, and chooses nothing. With `model.day_l2` > 0 the ratings'
    timestamps give per-user-day biases (:mod:`movierec.models.embedding.day_bias`)."""
    n_epochs = min(model_cfg.epochs, trainer_cfg.max_epochs)
    if epochs is not None and set(epochs) != {n_epochs}:
        raise ValueError(f"stacked heads train {n_epochs} epochs each (model.epochs, trainer.max_epochs; "
                         f"asked for {epochs})")
    seeds = [seed + i * model_cfg.head_seed_offset for i in range(model_cfg.n_heads)]
    user_days = training_days(train, model_cfg)
    carve = Ratings.from_frame(train[random_fraction_mask(len(train), trainer_cfg.val_fraction, seed)], user_days)
    on_epoch = hooks(0)[0] if hooks is not None else None
    test_r = Ratings.from_frame(test, user_days) if test is not None else None
    train_r = Ratings.from_frame(train, user_days)
    heads, record, day_bias = fit_stacked(train_r, carve, test_r, n_users, n_movies, model_cfg, trainer_cfg, seeds,
                                          n_epochs, on_epoch, min(model_cfg.average_from, n_epochs), user_days)
    last = n_epochs - 1
    trainings = [EmbeddingTraining(head, record.history if i == 0 else [], last) for i, head in enumerate(heads)]
    started = time.perf_counter()
    item_item = fit_item_item(train, n_users, n_movies, model_cfg)
    seconds = time.perf_counter() - started
    model = HybridRecommender(heads, item_item, Blend.from_config(model_cfg), day_bias, FoldIn.from_config(model_cfg),
                              model_cfg.rating_stretch)
    return HybridTraining(model, trainings, seeds, seconds)
