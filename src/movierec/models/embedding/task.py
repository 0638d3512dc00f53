"""The LightningModule that trains an :class:`EmbeddingNet`, and the callback that records epochs.

Each step adds the rating head's MSE on a batch of ratings and the choice head's softmax loss on
a batch of users. Early stopping and the restored weights follow the *validation* MSE only.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable

import lightning.pytorch as pl
import torch

from movierec.config import ModelConfig
from movierec.models.embedding.batches import ChoiceTargets
from movierec.models.embedding.losses import FusedRatingLoss
from movierec.models.embedding.net import EmbeddingNet

EpochHook = Callable[[int, dict[str, float]], None]

log = logging.getLogger(__name__)


class EmbeddingTask(pl.LightningModule):
    """MSE (+ choice softmax) training of an EmbeddingNet with Adam(weight_decay)."""

    def __init__(self, net: EmbeddingNet, model_cfg: ModelConfig, choice: ChoiceTargets | None,
                 fused: bool = False) -> None:
        super().__init__()
        self.net, self.cfg, self.choice, self.fused = net, model_cfg, choice, fused

    def setup(self, stage: str) -> None:
        # under DDP each rank draws its own choice users (rank 0 keeps the seed it was given)
        if self.choice is not None and self.trainer.world_size > 1:
            self.choice.reseed(self.trainer.global_rank)

    def training_step(self, batch, batch_idx):
        users, movies, ratings = batch
        if self.fused:
            net = self.net
            mse, loss = FusedRatingLoss.apply(net.user.weight, net.movie.weight, net.user_bias.weight,
                                              net.movie_bias.weight, net.global_mean, users, movies, ratings,
                                              float(self.cfg.l2))
        else:
            mse = torch.mean((self.net.predict_pairs(users, movies) - ratings) ** 2)
            loss = mse
        if self.cfg.l2 > 0 and not self.fused:
            reg = (self.net.user(users).pow(2).sum(-1) + self.net.movie(movies).pow(2).sum(-1)
                   + self.net.user_bias(users).squeeze(-1) ** 2 + self.net.movie_bias(movies).squeeze(-1) ** 2)
            loss = loss + self.cfg.l2 * reg.mean()
        if self.choice is not None and self.cfg.implicit_weight > 0:
            if self.cfg.choice_negatives > 0:
                batch = self.choice.next_sampled_batch()
                choice_loss = self.net.sampled_choice_loss(*(t.to(self.device) for t in batch))
            else:
                choice_users, weights = self.choice.next_batch()
                choice_loss = self.net.choice_loss(choice_users.to(self.device), weights.to(self.device))
            loss = loss + self.cfg.implicit_weight * choice_loss
            self.log("train_choice_loss", choice_loss, on_step=False, on_epoch=True, sync_dist=self._sync)
        self.log("train_loss", mse, on_step=False, on_epoch=True, batch_size=len(ratings), sync_dist=self._sync)
        return loss

    @property
    def _sync(self) -> bool:
        # under DDP every rank must see the same epoch losses (early stopping, best epoch)
        return self.trainer.world_size > 1

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        users, movies, ratings = batch
        mse = torch.mean((self.net.predict_pairs(users, movies) - ratings) ** 2)
        name = ("val_loss", "test_loss")[dataloader_idx]
        self.log(name, mse, on_step=False, on_epoch=True, batch_size=len(ratings), add_dataloader_idx=False,
                 sync_dist=self._sync)

    def configure_optimizers(self):
        # fused: one kernel over all parameters (CPU and CUDA); measured in docs/scaling.md
        return torch.optim.Adam(self.parameters(), lr=self.cfg.learning_rate, weight_decay=self.cfg.weight_decay,
                                fused=True)


class EpochRecorder(pl.Callback):
    """Keeps per-epoch losses, the best weights by val_loss, calls an optional hook each epoch.

    Logs one INFO line per epoch (rank zero): ``epoch 3/40  train 0.8120  val 0.8450  test 0.8390  1.21 s``.
    """

    def __init__(self, hook: EpochHook | None = None) -> None:
        self.hook = hook
        self.history: list[dict[str, float]] = []
        self.best_state: dict | None = None
        self.best_epoch = -1
        self.best_val = float("inf")
        self._started = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        # runs after the epoch's validation, when train and val/test losses are all aggregated
        row = {"epoch": trainer.current_epoch}
        row.update({k: float(v) for k, v in trainer.callback_metrics.items()
                    if k in ("train_loss", "val_loss", "test_loss", "train_choice_loss")})
        row["epoch_seconds"] = time.perf_counter() - self._started
        if row.get("val_loss", float("inf")) < self.best_val:
            self.best_val, self.best_epoch = row["val_loss"], trainer.current_epoch
            self.best_state = copy.deepcopy(pl_module.net.state_dict())
        self.history.append(row)
        if trainer.is_global_zero:
            losses = "".join(f"  {name} {row[f'{name}_loss']:.4f}" for name in ("train", "val", "test")
                             if f"{name}_loss" in row)
            log.info("epoch %d/%d%s  %.2f s", trainer.current_epoch + 1, trainer.max_epochs, losses,
                     row["epoch_seconds"])
        if self.hook is not None and trainer.is_global_zero:  # e.g. MLflow: once, not once per rank
            self.hook(trainer.current_epoch, {k: v for k, v in row.items() if k != "epoch"})
