"""Stage `register`: the bundle into the MLflow model registry; `champion` moves by the rule.

Writes reports/registry.json (version, whether it became champion, why).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

from movierec.atomic import atomic_write_json
from movierec.config import Config, to_flat_dict
from movierec.registry.lineage import lineage_tags
from movierec.registry.register import register_bundle
from movierec.registry.tracking import resolve_tracking_uri, use_store
from pipeline.stage import REPO_ROOT, stage

log = logging.getLogger(__name__)


def run(cfg: Config) -> dict:
    models, reports = Path(cfg.paths.models), Path(cfg.paths.reports)
    metrics = json.loads((reports / "metrics.json").read_text())
    run_id = json.loads((models / "embedding" / "run.json").read_text())["run_id"]
    use_store(resolve_tracking_uri(cfg.mlflow.tracking_uri, REPO_ROOT), cfg.mlflow.experiment)
    result = register_bundle(models / "bundle", run_id, cfg.mlflow.model_name, cfg.mlflow.alias,
                             metrics["embedding"], cfg.mlflow.rmse_tolerance, cfg.mlflow.ndcg_tolerance,
                             tags={"dataset": cfg.data.name,
                                   **lineage_tags(REPO_ROOT, to_flat_dict(cfg))})
    record = {"model_name": cfg.mlflow.model_name, "alias": cfg.mlflow.alias, **asdict(result)}
    atomic_write_json(reports / "registry.json", record)
    return record


main = stage(run)

if __name__ == "__main__":
    main()
