"""Stage `train`: fit the embedding method, logging every param and per-epoch losses to MLflow.

The method (models/embedding/hybrid.py): `model.n_heads` embedding models (head i seeded
seed + i x model.head_seed_offset, all on the seed's validation carve) and the item-item model.
Per-epoch losses of head 0 are logged unprefixed (and written to reports/loss.*), head i's as `head{i}_*`.

The run's summary metric `best_val_loss` (the selection run's best validation MSE) is also the
objective the entry point returns to a Hydra sweeper (`hydra/sweeper=optuna`).

Validation (a seeded slice of train) picks head 0's epoch count; with `trainer.refit` every head is
then trained on all of train for that many epochs. Test loss is logged, never used.
Writes models/methods/embedding/ (HybridRecommender files + run.json: the epoch counts; no run id, see
movierec.registry.training_run), reports/loss.csv and reports/loss.png.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import mlflow
from hydra.core.hydra_config import HydraConfig

from movierec.atomic import atomic_dir, atomic_write_json
from movierec.config import Config, to_flat_dict
from movierec.data.dataset import load_processed
from movierec.evaluation.loss_curve import write_loss_csv, write_loss_png
from movierec.methods import trained_dir
from movierec.methods.contract import TRAINING_RECORD
from movierec.models.embedding.train_hybrid import train_hybrid
from movierec.registry.tracking import (
    EpochLogger,
    experiment_name,
    log_params_flat,
    resolve_tracking_uri,
    run_name,
    use_store,
)
from movierec.registry.training_run import MODEL_HASH_TAG, folder_sha256
from pipeline.memory import prepare_training_process
from pipeline.stage import REPO_ROOT, changed_params, stage

log = logging.getLogger(__name__)


def output_dirs(cfg: Config) -> tuple[Path, Path]:
    """models/ and reports/, or the job's own folder inside a Hydra multirun sweep."""
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra_cfg is not None and hydra_cfg.mode is not None and hydra_cfg.mode.name == "MULTIRUN":
        job_dir = Path(hydra_cfg.runtime.output_dir)
        return job_dir / "models", job_dir / "reports"
    return Path(cfg.paths.models), Path(cfg.paths.reports)


def is_rank_zero() -> bool:
    """Under DDP Lightning re-runs this command once per process; only rank 0 logs and writes."""
    return os.environ.get("NODE_RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def run(cfg: Config) -> dict:
    prepare_training_process(cfg.trainer)
    data = load_processed(cfg.paths.processed)
    models_dir, reports_dir = output_dirs(cfg)
    if not is_rank_zero():
        train_hybrid(data.train, data.test, data.n_users, data.n_movies, cfg.model, cfg.trainer, cfg.seed)
        return {}
    use_store(resolve_tracking_uri(cfg.mlflow.tracking_uri, REPO_ROOT), cfg.mlflow.experiment)
    with mlflow.start_run(run_name=run_name(changed_params(cfg), experiment_name())) as active:
        run_id = active.info.run_id
        log_params_flat(to_flat_dict(cfg))
        mlflow.set_tags({"stage": "train", "dataset": cfg.data.name})

        def hooks(i: int) -> tuple[EpochLogger, EpochLogger]:
            prefix = f"head{i}_" if i else ""
            return EpochLogger(run_id, prefix), EpochLogger(run_id, f"{prefix}refit_")

        training = train_hybrid(data.train, data.test, data.n_users, data.n_movies, cfg.model, cfg.trainer,
                                cfg.seed, hooks)
        result = training.heads[0]
        for i, head in enumerate(training.heads[1:], start=1):
            # epochs_run (selection epochs) is 0 when the head trained for head 0's count
            mlflow.log_metrics({f"head{i}_best_epoch": head.best_epoch, f"head{i}_epochs_run": len(head.history)})
        mlflow.log_metric("item_item_fit_seconds", training.item_item_seconds)
        best_val_loss = min((row["val_loss"] for row in result.history if "val_loss" in row), default=float("nan"))
        mlflow.log_metrics({"best_epoch": result.best_epoch, "epochs_run": len(result.history),
                            "best_val_loss": best_val_loss})
        # no run id in the folder: DVC tracks it, and it must come out the same bits on every machine;
        # evaluate and register find this run by the folder's hash (movierec.registry.training_run)
        with atomic_dir(trained_dir(models_dir, "embedding")) as tmp:
            training.model.save(tmp)
            atomic_write_json(tmp / TRAINING_RECORD,
                              {"best_epoch": result.best_epoch, "epochs": len(result.history),
                               "refit": cfg.trainer.refit, "head_seeds": training.head_seeds,
                               # with a refit head i trained head_best_epochs[i] + 1 epochs; new_user as long
                               "head_best_epochs": [head.best_epoch for head in training.heads]})
        mlflow.set_tag(MODEL_HASH_TAG, folder_sha256(trained_dir(models_dir, "embedding")))
    write_loss_csv(reports_dir / "loss.csv", result.history)
    write_loss_png(reports_dir / "loss.png", result.history)
    log.info("train: run %s, best epoch %d of %d (val loss %.4f), median epoch %.2fs", run_id,
             result.best_epoch, len(result.history), best_val_loss, result.median_epoch_seconds)
    # the objective a Hydra sweeper minimises (python -m pipeline.train -m hydra/sweeper=optuna ...)
    return {"run_id": run_id, "best_epoch": result.best_epoch, "best_val_loss": best_val_loss,
            "objective": best_val_loss}


main = stage(run)

if __name__ == "__main__":
    main()
