"""Training loop for :class:`~movierec.embedding.EmbeddingNet` (Lightning), kept apart from the net.

Batches are pre-tensorised slices of seeded permutations (no per-row Dataset, num_workers=0).
Each step adds the rating head's MSE on a batch of ratings and the choice head's softmax loss on
a batch of users. Early stopping and the restored weights follow the *validation* MSE only.
"""

from __future__ import annotations

import copy
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator

import lightning.pytorch as pl
import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import DataLoader, IterableDataset

from movierec.allocator import keep_freed_memory
from movierec.config import ModelConfig, TrainerConfig
from movierec.embedding import EmbeddingHParams, EmbeddingNet, EmbeddingRecommender

log = logging.getLogger(__name__)
# Lightning's start-up banners (accelerator, tips) say nothing useful for this tiny CPU model.
logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
logging.getLogger("lightning.pytorch.accelerators.cuda").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")

EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class Ratings:
    """Indexed ratings as tensors."""

    user_idx: torch.Tensor
    movie_idx: torch.Tensor
    rating: torch.Tensor

    @classmethod
    def from_arrays(cls, user_idx, movie_idx, rating) -> "Ratings":
        return cls(torch.tensor(np.asarray(user_idx), dtype=torch.long),
                   torch.tensor(np.asarray(movie_idx), dtype=torch.long),
                   torch.tensor(np.asarray(rating), dtype=torch.float32))

    @classmethod
    def from_frame(cls, frame) -> "Ratings":
        """From a frame with user_idx, movie_idx, rating columns."""
        return cls.from_arrays(frame["user_idx"], frame["movie_idx"], frame["rating"])

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
            yield self.data.user_idx[idx], self.data.movie_idx[idx], self.data.rating[idx]


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
        self.rng = np.random.default_rng(seed)
        self.users_per_batch = users_per_batch
        self.negatives = negatives
        weight = (np.bincount(self.matrix.indices, minlength=n_movies) + 1.0) ** self.SAMPLING_POWER
        self.sampling_p = weight / weight.sum()
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


class FusedRatingLoss(torch.autograd.Function):
    """The rating head's MSE and its L2 term with a closed-form backward: one gather and one
    scatter per table instead of autograd's several embedding lookups (several times faster on
    CPU at large batches). Same objective as :meth:`EmbeddingTask.training_step` without dropout.

    Returns ``(mse, mse + l2 · reg)``; gradients flow to the four tables.
    """

    @staticmethod
    def forward(ctx, user_w, movie_w, user_b, movie_b, global_mean, users, movies, ratings, l2: float):
        p, q = user_w.index_select(0, users), movie_w.index_select(0, movies)
        bu, bm = user_b.index_select(0, users).squeeze(-1), movie_b.index_select(0, movies).squeeze(-1)
        err = torch.einsum("ij,ij->i", p, q).add_(bu).add_(bm).add_(global_mean).sub_(ratings)
        mse = err.square().mean()
        reg = (torch.einsum("ij,ij->", p, p) + torch.einsum("ij,ij->", q, q) + bu.square().sum()
               + bm.square().sum()) / len(ratings)
        ctx.save_for_backward(p, q, err, users, movies)
        ctx.l2, ctx.tables = l2, (user_w.detach(), movie_w.detach(), user_b.detach(), movie_b.detach())
        return mse, mse + l2 * reg

    @staticmethod
    def backward(ctx, grad_mse, grad_loss):
        p, q, err, users, movies = ctx.saved_tensors
        n = len(err)
        d_pred = err * (2.0 / n) * (grad_mse + grad_loss)  # d/d prediction
        k = 2.0 * ctx.l2 / n * grad_loss                   # d/d parameter of the l2 term, per use
        d_pred_col = d_pred.unsqueeze(-1)
        user_w, movie_w, user_b, movie_b = ctx.tables
        # the l2 term's gradient of a row used c times in the batch is c · k · row: added on the
        # tables (one pass over each) rather than per rating (one more pass over the batch)
        n_u = torch.bincount(users, minlength=user_w.shape[0]).to(p.dtype).unsqueeze(-1)
        n_m = torch.bincount(movies, minlength=movie_w.shape[0]).to(q.dtype).unsqueeze(-1)
        # index_add_ (torch 2.13, CPU, deterministic mode): 27 / 10 ms for 262,144 rows into the
        # 162k / 59k-row tables, against 57 / 31 ms for index_put_(accumulate=True); same sums
        g_user = (user_w * n_u).mul_(k).index_add_(0, users, q * d_pred_col)
        g_movie = (movie_w * n_m).mul_(k).index_add_(0, movies, p * d_pred_col)
        g_ub = (user_b[:, 0] * n_u[:, 0]).mul_(k).index_add_(0, users, d_pred).unsqueeze(-1)
        g_mb = (movie_b[:, 0] * n_m[:, 0]).mul_(k).index_add_(0, movies, d_pred).unsqueeze(-1)
        return g_user, g_movie, g_ub, g_mb, None, None, None, None, None


class EmbeddingTask(pl.LightningModule):
    """MSE (+ choice softmax) training of an EmbeddingNet with Adam(weight_decay)."""

    def __init__(self, net: EmbeddingNet, model_cfg: ModelConfig, choice: ChoiceTargets | None,
                 fused: bool = False) -> None:
        super().__init__()
        self.net, self.cfg, self.choice, self.fused = net, model_cfg, choice, fused

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
                choice_loss = self.net.sampled_choice_loss(*(t.to(self.device) for t in self.choice.next_sampled_batch()))
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
        # fused: one kernel over all parameters (CPU and CUDA); 14M parameters at 25M ratings:
        # 9 ms a step against 51 ms for the default per-tensor loop
        return torch.optim.Adam(self.parameters(), lr=self.cfg.learning_rate, weight_decay=self.cfg.weight_decay,
                                fused=True)


class EpochRecorder(pl.Callback):
    """Keeps per-epoch losses, the best weights by val_loss, calls an optional hook each epoch."""

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
        if self.hook is not None and trainer.is_global_zero:  # e.g. MLflow: once, not once per rank
            self.hook(trainer.current_epoch, {k: v for k, v in row.items() if k != "epoch"})


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
    torch.set_num_threads(trainer_cfg.num_threads)
    if trainer_cfg.reuse_freed_memory:
        keep_freed_memory()  # process-wide, like the thread count
    pl.seed_everything(seed, workers=True, verbose=False)
    hp = EmbeddingHParams(n_users=n_users, n_movies=n_movies, embedding_dim=model_cfg.embedding_dim,
                          dropout=model_cfg.dropout, global_mean=float(train.rating.mean()),
                          rank_rating_weight=model_cfg.rank_rating_weight, l2=model_cfg.l2,
                          implicit_weight=model_cfg.implicit_weight)
    net = EmbeddingNet(hp, seed=seed)
    # under DDP (processes launched by Lightning) each rank draws its own choice users
    rank = int(os.environ.get("NODE_RANK", 0)) * 1000 + int(os.environ.get("LOCAL_RANK", 0)) \
        if trainer_cfg.strategy.startswith("ddp") else 0
    choice = ChoiceTargets(train, n_users, n_movies, model_cfg.implicit_users, seed + rank, model_cfg.choice_negatives) \
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


def carve_validation(n_rows: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: a seeded random `fraction` of train."""
    order = np.random.RandomState(seed).permutation(n_rows)
    mask = np.zeros(n_rows, dtype=bool)
    mask[order[: int(round(n_rows * fraction))]] = True
    return mask


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
                    on_refit_epoch: EpochHook | None = None) -> EmbeddingTraining:
    """Choose the epoch count on a validation slice of `train`, then (optionally) refit on all of it.

    `train`/`test` are frames with user_idx, movie_idx, rating. The test frame is only logged.
    """
    val_mask = carve_validation(len(train), trainer_cfg.val_fraction, seed)
    test_r = Ratings.from_frame(test) if test is not None else None
    val = Ratings.from_frame(train[val_mask])
    selection = fit_embedding(Ratings.from_frame(train[~val_mask]), val, test_r, n_users, n_movies,
                              model_cfg, trainer_cfg, seed, on_epoch)
    if not trainer_cfg.refit:
        return EmbeddingTraining(selection.model, selection.history, selection.best_epoch)
    from dataclasses import replace

    refit_cfg = replace(trainer_cfg, max_epochs=selection.best_epoch + 1, patience=trainer_cfg.max_epochs + 1)
    # validation rows are now training rows: their loss is logged but chooses nothing (last epoch kept)
    refit = fit_embedding(Ratings.from_frame(train), val, test_r, n_users, n_movies, model_cfg,
                          refit_cfg, seed, on_refit_epoch, keep_last=True)
    return EmbeddingTraining(refit.model, selection.history, selection.best_epoch, refit.history)
