"""A Hydra sweep with the Optuna sweeper over the train stage, on tiny data (issue 16, item 9).

`python -m pipeline.train -m hydra/sweeper=optuna ...`: every job returns its objective (the
best validation loss, also logged to MLflow as `best_val_loss`), and the sweeper writes
`optimization_results.yaml` in the sweep folder.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="pip install hydra-optuna-sweeper")


def test_optuna_sweep_over_the_train_stage(tiny_processed, tmp_path):
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    for name in ("DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "MLFLOW_RUN_CONTEXT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "pipeline.train", "-m", "hydra/sweeper=optuna",
           "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1", "hydra.sweeper.sampler.seed=0",
           f"hydra.sweep.dir={sweep_dir}", "model.embedding_dim=choice(4,8)",
           "model.learning_rate=interval(0.003,0.03)",
           "trainer.max_epochs=1", "trainer.refit=false", "model.n_heads=1", *tiny_processed]
    result = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out

    optimum = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert optimum["name"] == "optuna"
    assert isinstance(optimum["best_value"], float) and 0 < optimum["best_value"] < 10
    assert optimum["best_params"]["model.embedding_dim"] in (4, 8)

    # two jobs, each its own folder of outputs; one per-epoch progress line each (max_epochs=1)
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "1"]
    assert all((sweep_dir / job / "models" / "methods" / "embedding" / "hybrid.json").is_file() for job in ("0", "1"))
    assert out.count("epoch 1/1  train ") == 2, out

    # each job's return value is its run's best_val_loss, and the best of them is the sweep's optimum
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("movierec").experiment_id])
    values = sorted(run.data.metrics["best_val_loss"] for run in runs)
    assert len(values) == 2 and all(isinstance(v, float) for v in values)
    assert optimum["best_value"] == pytest.approx(values[0])
