"""Stage `register`: the bundle into the MLflow model registry; `champion` moves by the gate.

First logs the test metrics (reports/metrics.json) and the evaluation report to the training run
when it does not hold them yet. Writes reports/registry.json (version, whether it became champion,
why) only after the version exists in the store; a stale one is removed first, so a failed run
leaves no claim behind.
Under `dvc exp run` (``DVC_EXP_NAME`` set) the version is tagged with the experiment and never
takes the alias: see :mod:`movierec.registry.promotion`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from movierec.atomic import atomic_write_json
from movierec.config import Config, to_flat_dict
from movierec.methods import trained_dir
from movierec.registry.lineage import lineage_tags
from movierec.registry.promotion import Context, split_key
from movierec.registry.register import register_bundle
from movierec.registry.tracking import experiment_name, resolve_tracking_uri, run_name, use_store
from movierec.registry.training_run import log_evaluation, logged_evaluation_matches, training_run_id
from pipeline.stage import REPO_ROOT, changed_params, stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    models, reports = Path(cfg.paths.models), Path(cfg.paths.reports)
    (reports / "registry.json").unlink(missing_ok=True)
    metrics = json.loads((reports / "metrics.json").read_text())
    uri = resolve_tracking_uri(cfg.mlflow.tracking_uri, REPO_ROOT)
    use_store(uri, cfg.mlflow.experiment)
    run_id = training_run_id(trained_dir(models, "embedding"), cfg.mlflow.experiment, to_flat_dict(cfg),
                             run_name(changed_params(cfg), experiment_name()))
    if not logged_evaluation_matches(run_id, metrics):
        # the test metrics and the report go to the training run here, not in evaluate: one MLflow
        # store opened per repro (evaluate stays free of MLflow), and a run whose evaluate DVC skipped
        # (a fresh clone reproduces the committed reports bit for bit) or that was made for restored
        # outputs gets them too; an unchanged evaluation is not logged twice
        log.info("register: logging reports/metrics.json and the report to run %s", run_id)
        log_evaluation(run_id, metrics, reports / "evaluation.md", reports / "figures")
    # lineage of the code and data this run used: the folder it runs in (an experiment's copy too)
    lineage = lineage_tags(REPO_ROOT, to_flat_dict(cfg))
    context = Context(experiment=experiment_name(), git_commit=lineage["git_commit"],
                      git_dirty=lineage["git_dirty"])
    result = register_bundle(models / "bundle", run_id, cfg.mlflow.model_name, cfg.mlflow.alias,
                             metrics["embedding"], cfg.mlflow.rmse_tolerance, cfg.mlflow.ndcg_tolerance,
                             tags={"dataset": cfg.data.name, **lineage}, context=context,
                             split=split_key(to_flat_split(cfg)), ndcg_key=f"ndcg@{cfg.evaluate.k}")
    record = {"model_name": cfg.mlflow.model_name, "alias": cfg.mlflow.alias, **asdict(result),
              "experiment": context.experiment, "tracking_uri": uri}
    atomic_write_json(reports / "registry.json", record)
    return record


def to_flat_split(cfg: Config) -> dict:
    """The split's configuration (strategy and its parameters) plus the seed that draws it."""
    flat = to_flat_dict(cfg)
    return {**{k: v for k, v in flat.items() if k.startswith("split.")}, "seed": cfg.seed}


main = stage(run)

if __name__ == "__main__":
    main()
