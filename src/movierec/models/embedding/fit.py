"""Fit an :class:`EmbeddingNet` with Lightning: choose the epoch count on validation, then refit.

Process-wide settings (threads, malloc, log levels) are the entry point's job, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader

from movierec.config import ModelConfig, TrainerConfig
from movierec.data.split import random_fraction_mask
from movierec.models.embedding.batches import ChoiceTargets, RatingBatches, Ratings
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender
from movierec.models.embedding.task import EmbeddingTask, EpochHook, EpochRecorder


@dataclass
class TrainResult:
    model: EmbeddingRecommender
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1


def fit_embedding(train: Ratings, val: Ratings, test: Ratings | None, n_users: int, n_movies: int,
                  model_cfg: ModelConfig, trainer_cfg: TrainerConfig, seed: int,
                  on_epoch: EpochHook | None = None, keep_last: bool = False) -> TrainResult:
    """Train on `train`, stop early on `val` MSE, restore the best epoch's weights.

    `test`, when given, is only *logged* each epoch (test_loss); it never chooses anything.
    With `keep_last` the final epoch's weights are kept instead of the best by `val`.
    """
    pl.seed_everything(seed, workers=True, verbose=False)
    hp = EmbeddingHParams(n_users=n_users, n_movies=n_movies, embedding_dim=model_cfg.embedding_dim,
                          dropout=model_cfg.dropout, global_mean=float(train.rating.mean()),
                          rank_rating_weight=model_cfg.rank_rating_weight, l2=model_cfg.l2,
                          implicit_weight=model_cfg.implicit_weight)
    net = EmbeddingNet(hp, seed=seed)
    # under DDP each rank reseeds its choice users with its rank once the processes exist (task.setup)
    choice = ChoiceTargets(train, n_users, n_movies, model_cfg.implicit_users, seed, model_cfg.choice_negatives) \
        if model_cfg.implicit_weight > 0 else None
    if trainer_cfg.fused_rating_step and model_cfg.dropout > 0:
        raise ValueError("trainer.fused_rating_step needs model.dropout=0 (the fused step has no dropout)")
    task = EmbeddingTask(net, model_cfg, choice, fused=trainer_cfg.fused_rating_step)
    recorder = EpochRecorder(on_epoch)
    stopper = pl.callbacks.EarlyStopping(monitor="val_loss", patience=trainer_cfg.patience, mode="min")
    trainer = pl.Trainer(
        accelerator=trainer_cfg.accelerator, devices=trainer_cfg.devices, max_epochs=trainer_cfg.max_epochs,
        strategy=trainer_cfg.strategy, num_nodes=trainer_cfg.num_nodes,
        deterministic=trainer_cfg.deterministic, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=[recorder, stopper],
    )
    def loader(data: Ratings, batch_size: int, shuffle_seed: int | None) -> DataLoader:
        # an own generator: iterating a loader must not draw from the global RNG (dropout's),
        # so whether test loss is logged cannot change the trained weights
        return DataLoader(RatingBatches(data, batch_size, shuffle_seed), batch_size=None, num_workers=0,
                          generator=torch.Generator().manual_seed(seed))

    eval_batch = 1 << 15
    val_loaders = [loader(val, eval_batch, None)] + ([loader(test, eval_batch, None)] if test is not None else [])
    trainer.fit(task, train_dataloaders=loader(train, model_cfg.batch_size, seed), val_dataloaders=val_loaders)
    net = task.net.cpu()
    if recorder.best_state is not None and not keep_last:
        net.load_state_dict(recorder.best_state)
    return TrainResult(EmbeddingRecommender(net), recorder.history, recorder.best_epoch)


@dataclass
class EmbeddingTraining:
    """Outcome of :func:`train_embedding`: the model to keep and the selection run's curves."""

    model: EmbeddingRecommender
    history: list[dict[str, float]]
    best_epoch: int
    refit_history: list[dict[str, float]] = field(default_factory=list)

    @property
    def median_epoch_seconds(self) -> float:
        times = [row["epoch_seconds"] for row in self.history + self.refit_history]
        return float(np.median(times)) if times else float("nan")


def train_embedding(train, test, n_users: int, n_movies: int, model_cfg: ModelConfig,
                    trainer_cfg: TrainerConfig, seed: int, on_epoch: EpochHook | None = None,
                    on_refit_epoch: EpochHook | None = None, carve_seed: int | None = None,
                    epochs: int | None = None) -> EmbeddingTraining:
    """Choose the epoch count on a validation slice of `train`, then (optionally) refit on all of it.

    `train`/`test` are frames with user_idx, movie_idx, rating. The test frame is only logged.
    `seed` seeds the model (initialisation, batches); `carve_seed` (default: `seed`) the validation slice.
    With `epochs` (a count chosen earlier on validation, e.g. by another head) there is no selection
    run: the refit alone, `epochs` epochs on all of `train` (the validation slice is only logged).
    """
    val_mask = random_fraction_mask(len(train), trainer_cfg.val_fraction, seed if carve_seed is None else carve_seed)
    test_r = Ratings.from_frame(test) if test is not None else None
    val = Ratings.from_frame(train[val_mask])
    if epochs is None:
        selection = fit_embedding(Ratings.from_frame(train[~val_mask]), val, test_r, n_users, n_movies,
                                  model_cfg, trainer_cfg, seed, on_epoch)
        if not trainer_cfg.refit:
            return EmbeddingTraining(selection.model, selection.history, selection.best_epoch)
        history, best_epoch = selection.history, selection.best_epoch
    else:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1 (got {epochs})")
        history, best_epoch = [], epochs - 1
    refit_cfg = replace(trainer_cfg, max_epochs=best_epoch + 1, patience=trainer_cfg.max_epochs + 1)
    # validation rows are now training rows: their loss is logged but chooses nothing (last epoch kept)
    refit = fit_embedding(Ratings.from_frame(train), val, test_r, n_users, n_movies, model_cfg,
                          refit_cfg, seed, on_refit_epoch, keep_last=True)
    return EmbeddingTraining(refit.model, history, best_epoch, refit.history)
