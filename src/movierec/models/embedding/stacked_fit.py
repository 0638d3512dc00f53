"""Train every rating head at once (:class:`StackedNet`) with Lightning, for a fixed epoch count.

Head h (init seed ``seed + h × head_seed_offset``) draws its own rating batches (a permutation
seeded by its seed, new each epoch); the choice loss's users are shared by the heads. The loss
summed over heads gives each head exactly its own gradient (Adam is per element), so a stacked
head trains like a lone one on its batches; one step serves all heads.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from movierec.config import ModelConfig, TrainerConfig
from movierec.models.embedding.batches import ChoiceTargets, RatingBatches, Ratings
from movierec.models.embedding.day_bias import DayBias, UserDays
from movierec.models.embedding.net import EmbeddingHParams, EmbeddingRecommender
from movierec.models.embedding.stacked import StackedNet
from movierec.models.embedding.task import EpochHook, EpochRecorder


class StackedRatingBatches(IterableDataset):
    """Per head, slices of its own seeded permutation of the ratings: tensors of shape (H, B)
    (users, movies, ratings, and the per-user-day rows when the ratings carry them)."""

    def __init__(self, data: Ratings, batch_size: int, seeds: list[int]) -> None:
        self.data, self.batch_size, self.seeds, self.epoch = data, batch_size, seeds, 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.data)
        order = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(s + self.epoch))
                             for s in self.seeds])
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            idx = order[:, start:start + self.batch_size]
            batch = self.data.user_idx[idx], self.data.movie_idx[idx], self.data.rating[idx]
            yield batch if self.data.day is None else (*batch, self.data.day[idx])


class StackedTask(pl.LightningModule):
    """The embedding objective of every head (rating MSE + l2 + implicit L2 + choice softmax)."""

    def __init__(self, net: StackedNet, model_cfg: ModelConfig, choice: ChoiceTargets | None) -> None:
        super().__init__()
        self.net, self.cfg, self.choice = net, model_cfg, choice

    def training_step(self, batch, batch_idx):
        users, movies, ratings, *days = batch
        tables = self.net.tables()  # the implicit sums: once per step for both losses
        mse, loss = self.net.rating_loss(tables, users, movies, ratings, float(self.cfg.l2), *days)
        if self.choice is not None:
            choice_users, weights = self.choice.next_batch()
            choice_mean, choice_sum = self.net.choice_loss(tables, choice_users, weights)
            loss = loss + self.cfg.implicit_weight * choice_sum
            self.log("train_choice_loss", choice_mean, on_step=False, on_epoch=True)
        self.log("train_loss", mse, on_step=False, on_epoch=True, batch_size=ratings.shape[1])
        return loss

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        users, movies, ratings, *days = batch
        mse = torch.mean((self.net.predict_mean(users, movies, *days) - ratings) ** 2)
        self.log(("val_loss", "test_loss")[dataloader_idx], mse, on_step=False, on_epoch=True,
                 batch_size=len(ratings), add_dataloader_idx=False)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.cfg.learning_rate, weight_decay=self.cfg.weight_decay,
                                fused=True)


class WeightAverage(pl.Callback):
    """Averages the trained weights from epoch ``start`` on (1-based; SWA, Izmailov et al. 2018 with
    a constant learning rate) and puts the average in the net when training ends: at the end of each
    epoch, or with ``every`` n > 0 after every n-th training step of those epochs."""

    def __init__(self, start: int, every: int = 0) -> None:
        self.start, self.every, self.count = start, every, 0
        self.mean: dict[str, torch.Tensor] = {}

    def _add(self, trainer, pl_module) -> None:
        if trainer.current_epoch + 1 < self.start:
            return
        self.count += 1
        for name, value in pl_module.net.state_dict().items():
            if name not in self.mean:
                self.mean[name] = value.detach().clone()
            else:
                self.mean[name] += (value.detach() - self.mean[name]) / self.count

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.every and (batch_idx + 1) % self.every == 0:
            self._add(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        if not self.every:
            self._add(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        if self.count:
            pl_module.net.load_state_dict(self.mean)


def check_stackable(model_cfg: ModelConfig, trainer_cfg: TrainerConfig) -> None:
    """The stacked trainer's limits, as one-line errors."""
    if model_cfg.choice_negatives > 0:
        raise ValueError("model.epochs > 0 (stacked heads) needs model.choice_negatives=0 (the full softmax)")
    if trainer_cfg.devices != 1 or trainer_cfg.num_nodes != 1 or trainer_cfg.fused_rating_step:
        raise ValueError("model.epochs > 0 (stacked heads) runs on one device without trainer.fused_rating_step")


def fit_stacked(train: Ratings, val: Ratings | None, test: Ratings | None, n_users: int, n_movies: int,
                model_cfg: ModelConfig, trainer_cfg: TrainerConfig, seeds: list[int], epochs: int,
                on_epoch: EpochHook | None = None, average_from: int = 0, user_days: UserDays | None = None
                ) -> tuple[list[EmbeddingRecommender], EpochRecorder, DayBias | None]:
    """Every head on `train` for `epochs` epochs; `val`/`test` (the mean of the heads' MSE) logged.

    The weights kept: the last epoch's, or with `average_from` k > 0 their mean over the ends of
    epochs k..`epochs` - over every ``model_cfg.average_every``-th step of those epochs when that is
    > 0 (:class:`WeightAverage`; the logged per-epoch losses are each epoch's own weights'). With
    `user_days` (the training ratings' pairs; `train`, `val`, `test` then carry their rows) every head
    learns per-user-day biases with L2 ``model_cfg.day_l2`` per rating plus ``model_cfg.day_prior`` per
    pair. Returns the heads as plain models, the record, and the served day biases (None without
    `user_days`).
    """
    check_stackable(model_cfg, trainer_cfg)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1 (got {epochs})")
    pl.seed_everything(seeds[0], workers=True, verbose=False)
    hp = EmbeddingHParams(n_users=n_users, n_movies=n_movies, embedding_dim=model_cfg.embedding_dim,
                          dropout=model_cfg.dropout, global_mean=float(train.rating.mean()),
                          rank_rating_weight=model_cfg.rank_rating_weight, l2=model_cfg.l2,
                          implicit_weight=model_cfg.implicit_weight)
    choice = ChoiceTargets(train, n_users, n_movies, model_cfg.implicit_users, seeds[0]) \
        if model_cfg.implicit_weight > 0 else None
    pattern = choice.matrix if choice is not None else \
        ChoiceTargets(train, n_users, n_movies, 1, seeds[0]).matrix
    if user_days is not None and any(d is not None and d.day is None for d in (train, val, test)):
        raise ValueError("with per-user-day biases every rating set needs its day rows (Ratings.from_frame(f, days))")
    net = StackedNet(hp, seeds, pattern, model_cfg.implicit_l2,
                     user_days.penalty(model_cfg.day_l2, model_cfg.day_prior) if user_days is not None else None,
                     model_cfg.l2_count_power, model_cfg.bias_l2_scale, model_cfg.implicit_bias_l2,
                     model_cfg.rating_link)
    if not 0 <= average_from <= epochs:
        raise ValueError(f"average_from must be in [0, epochs={epochs}] (got {average_from})")
    recorder = EpochRecorder(on_epoch)
    callbacks: list[pl.Callback] = [recorder] + (
        [WeightAverage(average_from, model_cfg.average_every)] if average_from else [])
    trainer = pl.Trainer(
        accelerator=trainer_cfg.accelerator, devices=1, max_epochs=epochs, deterministic=trainer_cfg.deterministic,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, callbacks=callbacks)
    # own generators: iterating a loader must not draw from the global RNG (dropout's), so whether
    # test loss is logged cannot change the trained weights
    loaders = [DataLoader(RatingBatches(d, 1 << 15, None), batch_size=None, num_workers=0,
                          generator=torch.Generator().manual_seed(seeds[0])) for d in (val, test) if d is not None]
    train_loader = DataLoader(StackedRatingBatches(train, model_cfg.batch_size, seeds), batch_size=None,
                              num_workers=0, generator=torch.Generator().manual_seed(seeds[0]))
    if val is None and test is not None:
        raise ValueError("fit_stacked logs test only beside a validation set")
    trainer.fit(StackedTask(net, model_cfg, choice), train_dataloaders=train_loader,
                val_dataloaders=loaders or None)
    net.eval()
    offsets = net.day_offsets()
    day_bias = DayBias(user_days.keys, offsets) if user_days is not None and offsets is not None else None
    return [EmbeddingRecommender(net.head(h)) for h in range(len(seeds))], recorder, day_bias
