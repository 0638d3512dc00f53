"""One end-to-end `dvc repro` on the real ml-latest-small (from the mirror) in a temporary copy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

_ANYWHERE = shutil.ignore_patterns(".git", ".venv", "node_modules", ".next", "__pycache__", ".pytest_cache",
                                   "*.egg-info", "*.parquet", "mlflow.db*")
# machine state and outputs, by path from the repository root (src/movierec/models is code, models/ is not)
_AT_ROOT = {"mlruns", "models", "multirun", "outputs", "test-artifacts", "web/out", "data/raw/ml-latest-small",
            ".tracking", ".dvc/tmp", ".dvc/cache", ".dvc/config.local", "reports/registry.json"}


E2E_TRAINER = """
# tests/test_pipeline_e2e.py: the same data; 2 heads instead of 4, torch on one thread (pytest's other
# worker has the other core: two 2-thread torch processes on 2 cores slow each other down several times)
trainer:
  max_epochs: 4
  num_threads: 1
model:
  n_heads: 2
"""


def IGNORE(folder: str, names: list[str]) -> set[str]:
    """shutil.copytree's ignore: build outputs anywhere, this machine's state at its own paths."""
    relative = Path(folder).resolve().relative_to(REPO_ROOT.resolve())
    return set(_ANYWHERE(folder, names)) | {name for name in names if (relative / name).as_posix() in _AT_ROOT}


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def pipeline_copy(tmp_path_factory, mirror):
    work = tmp_path_factory.mktemp("e2e") / "repo"
    shutil.copytree(REPO_ROOT, work, ignore=IGNORE)
    for stale in ("dvc.lock", "reports/metrics.json", "reports/filter.json"):
        (work / stale).unlink(missing_ok=True)
    env = {**os.environ, "MOVIEREC_DATA_MIRROR": str(mirror),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    # commands about the project as a whole (reproduce, champion) find it by MOVIEREC_ROOT, never from the
    # working directory: without it they would mean the checkout this venv was installed from
    env["MOVIEREC_ROOT"] = str(work)
    # the real data and every stage, a lighter embedding model (E2E_TRAINER): the train and new_user
    # stages, run twice (the repro and `reproduce`), are most of this module's time
    config = work / "conf" / "config.yaml"
    config.write_text(config.read_text() + E2E_TRAINER)
    _run([sys.executable, "-m", "pipeline.params"], work, env)
    _run(["git", "init", "-q"], work, env)
    _run(["git", "add", "-A"], work, env)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], work, env)
    first = _run([sys.executable, "-m", "dvc", "repro"], work, env)
    return work, env, first


def test_repro_produces_the_documented_data(pipeline_copy):
    work, _, _ = pipeline_copy
    report = json.loads((work / "reports/filter.json").read_text())
    assert report["after"] == {"ratings": 90274, "users": 610, "movies": 3650}
    train = pd.read_parquet(work / "data/processed/train.parquet")
    test = pd.read_parquet(work / "data/processed/test.parquet")
    movies = pd.read_parquet(work / "data/processed/movies.parquet")
    assert len(train) + len(test) == 90274
    assert abs(len(test) / 90274 - 0.2) < 0.005
    assert train.merge(test, on=["user_id", "movie_id"]).empty
    assert set(test["user_idx"]) <= set(train["user_idx"]) and set(test["movie_idx"]) <= set(train["movie_idx"])
    assert train["user_idx"].nunique() == 610 and train["movie_idx"].nunique() == 3650
    assert sorted(train["movie_idx"].unique()) == list(range(3650))
    assert movies["movie_idx"].tolist() == list(range(3650))
    assert {"title", "genres", "year"} <= set(movies.columns)


def test_second_repro_reruns_only_register_which_registers_nothing_new(pipeline_copy):
    work, env, _ = pipeline_copy
    before = json.loads((work / "reports/registry.json").read_text())
    out = _run([sys.executable, "-m", "dvc", "repro"], work, env)
    assert [line for line in out.splitlines() if line.startswith("Running stage")] == ["Running stage 'register':"]
    after = json.loads((work / "reports/registry.json").read_text())
    assert after["version"] == before["version"] and after["new_version"] is False


def test_changing_the_filter_param_reruns_filter_and_downstream(pipeline_copy):
    """Edit conf/, `make params`, `dvc repro` (a stage refuses a params.yaml edited alone: stale)."""
    work, env, _ = pipeline_copy
    conf = work / "conf" / "filter" / "default.yaml"
    original = conf.read_text()
    make_params = [sys.executable, "-m", "pipeline.params"]
    try:
        conf.write_text(original.replace("min_movie_ratings: 5", "min_movie_ratings: 10"))
        _run(make_params, work, env)
        out = _run([sys.executable, "-m", "dvc", "repro", "reindex"], work, env)
        assert "Running stage 'download'" not in out
        assert "Running stage 'filter'" in out and "Running stage 'reindex'" in out
        after = json.loads((work / "reports/filter.json").read_text())["after"]
        assert after["users"] == 610 and after["movies"] < 3650
    finally:
        conf.write_text(original)
        _run(make_params, work, env)
        _run([sys.executable, "-m", "dvc", "repro", "reindex"], work, env)


METRIC_KEYS = {"rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hit_rate@10", "coverage@10",
               "mean_popularity@10", "novelty@10", "diversity@10"}


def test_metrics_cover_every_method_and_beat_popularity(pipeline_copy):
    work, _, _ = pipeline_copy
    metrics = json.loads((work / "reports/metrics.json").read_text())
    methods = [*yaml.safe_load((work / "params.yaml").read_text())["methods"], "popularity"]
    assert set(metrics) == {*methods, "new_user"} >= {"embedding", "user_user", "popularity", "new_user"}
    for method in methods:
        assert set(metrics[method]) >= METRIC_KEYS
        assert set(metrics["new_user"][method]) >= METRIC_KEYS
    for method in ("embedding", "user_user"):
        assert metrics[method]["ndcg@10"] > metrics["popularity"]["ndcg@10"]
        assert metrics[method]["rmse"] < metrics["popularity"]["rmse"]
        assert metrics["new_user"][method]["ndcg@10"] > metrics["new_user"]["popularity"]["ndcg@10"]


def test_loss_curves_and_registered_champion(pipeline_copy):
    work, _, _ = pipeline_copy
    loss = pd.read_csv(work / "reports/loss.csv")
    assert list(loss.columns) == ["epoch", "train_loss", "val_loss", "test_loss"]
    assert loss.notna().all().all() and loss["train_loss"].iloc[-1] < loss["train_loss"].iloc[0]
    assert (work / "reports/loss.png").read_bytes()[:4] == b"\x89PNG"
    report = (work / "reports/evaluation.md").read_text()
    assert "embedding" in report and "user_user" in report
    assert sorted(p.suffix for p in (work / "reports/figures").iterdir()) == [".png"] * 4
    registry = json.loads((work / "reports/registry.json").read_text())
    assert registry["promoted"] and registry["version"] == "1"
    assert (work / "mlflow.db").is_file()


def test_registered_version_reproduces_from_its_commit(pipeline_copy):
    """`python -m movierec.registry.reproduce 1`: checkout of the version's commit + dvc repro = same metrics."""
    work, env, _ = pipeline_copy
    out = _run([sys.executable, "-m", "movierec.registry.reproduce", "1"], work, env)
    assert "metrics match" in out
