"""A DVC experiment sweep end to end (issue 16, item 4), in a temporary git copy on tiny synthetic data.

`dvc repro` (version 1 takes @champion), then `dvc exp run --queue -S model.embedding_dim=8,16` and
`dvc queue start`: each queued experiment runs in its own temporary copy of the repository, yet
its MLflow run and model version land in the one store at the project's root (found from
``DVC_ROOT``), tagged with the experiment's name; no experiment moves @champion.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.git_repo import commit, run

pytestmark = [pytest.mark.slow, pytest.mark.experiments]

# anywhere in the tree: caches, dependencies, data files; at the root only: what the pipeline writes
# (src/movierec/models is code, not the pipeline's models/ folder)
ANYWHERE = shutil.ignore_patterns(".git", ".venv", "node_modules", ".next", "__pycache__", ".pytest_cache",
                                  ".mypy_cache", ".ruff_cache", ".hypothesis", "*.parquet", "*.egg-info",
                                  "mlflow.db*", "test-artifacts", "out")
ROOT_ONLY = {"mlruns", "models", "multirun", "outputs", "tmp", "cache", ".tracking"}

TINY = """
# tiny, for tests/test_dvc_experiments_e2e.py
data:
  synthetic: {n_users: 120, n_movies: 150, n_ratings: 4000, min_user_ratings: 10}
trainer:
  max_epochs: 2
"""


def ignore(folder: str, names: list[str]) -> set[str]:
    skipped = set(ANYWHERE(folder, names))
    if Path(folder).resolve() == REPO_ROOT:
        skipped |= ROOT_ONLY & set(names)
    if Path(folder).resolve() == REPO_ROOT / "data" / "raw":
        skipped |= set(names) - {".gitignore"}
    return skipped


def wait_for_queue(work: Path, env: dict, timeout: float = 900, every: float = 10) -> str:
    """Poll `dvc queue status` until nothing is queued or running; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status = run([sys.executable, "-m", "dvc", "queue", "status"], work, env)
        rows = [line.split() for line in status.splitlines()[1:] if line.strip() and not line.startswith("Worker")]
        if not any(row[-1] in ("Queued", "Running") for row in rows):
            return status
        assert time.monotonic() < deadline, f"queue still busy after {timeout} s:\n{status}"
        time.sleep(every)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    work = tmp_path_factory.mktemp("dvc-exp") / "repo"
    shutil.copytree(REPO_ROOT, work, ignore=ignore)
    for stale in ("dvc.lock", "reports/metrics.json", "reports/filter.json", "reports/registry.json"):
        (work / stale).unlink(missing_ok=True)
    config = work / "conf" / "config.yaml"
    text = config.read_text()
    assert "  - data: ml-latest-small\n" in text
    config.write_text(text.replace("  - data: ml-latest-small\n", "  - data: synthetic\n") + TINY)
    # DVC git-ignores a stage's output when it first writes it: done here, in the commit, or the edit
    # would make the workspace dirty and the baseline's version would not take @champion
    raw_ignore = work / "data" / "raw" / ".gitignore"
    raw_ignore.write_text(raw_ignore.read_text() + "/synthetic-100k\n")
    inherited = ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_CONTEXT", "DVC_ROOT", "DVC_EXP_NAME", "DVC_EXP_BASELINE_REV")
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    run([sys.executable, "-m", "pipeline.params"], work, env)
    run(["git", "init", "-q"], work, env)
    commit(work, env, "tiny copy")
    started = time.monotonic()
    run([sys.executable, "-m", "dvc", "repro"], work, env)
    commit(work, env, "baseline: dvc.lock")  # experiments start from the baseline's cached outputs
    baseline_s = time.monotonic() - started
    try:
        queued = run([sys.executable, "-m", "dvc", "exp", "run", "--queue", "-S", "model.embedding_dim=8,16"],
                      work, env)
        run([sys.executable, "-m", "dvc", "queue", "start", "-j", "1"], work, env)
        status = wait_for_queue(work, env)
    finally:
        subprocess.run([sys.executable, "-m", "dvc", "queue", "stop", "--kill"], cwd=work, env=env,
                       capture_output=True, timeout=120)
    queue_s = time.monotonic() - started - baseline_s
    print(f"baseline dvc repro {baseline_s:.0f} s, two queued experiments {queue_s:.0f} s")
    shown = json.loads(run([sys.executable, "-m", "dvc", "exp", "show", "--json"], work, env))
    return work, queued, status, shown


def experiments(shown: list[dict]) -> dict[str, int]:
    """{experiment name: its model.embedding_dim} from `dvc exp show --json`."""
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            rev = exp["revs"][0]
            params = rev["data"]["params"]["params.yaml"]["data"]
            found[exp["name"] or rev["name"]] = params["model"]["embedding_dim"]
    return found


def test_the_queue_ran_both_experiments(swept):
    _, queued, status, shown = swept
    assert queued.count("Queued experiment") == 2, queued
    rows = [line.split() for line in status.splitlines()[1:] if line.strip() and not line.startswith("Worker")]
    assert len(rows) == 2 and all(row[-1] == "Success" for row in rows), status
    assert sorted(experiments(shown).values()) == [8, 16]


def test_every_experiment_logged_into_the_project_store(swept):
    from mlflow import MlflowClient

    work, _, _, shown = swept
    client = MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("movierec").experiment_id])
    by_experiment = {run.data.tags.get("dvc_exp_name"): run for run in runs}
    for name, dim in experiments(shown).items():
        run = by_experiment[name]
        assert run.data.params["model.embedding_dim"] == str(dim)
        assert run.data.tags["dvc_exp_baseline_rev"] and "best_val_loss" in run.data.metrics
    assert len(runs) == 3  # the baseline's run (no experiment tag) and one per experiment
    # artifacts too: in the project's mlruns/, not in the experiments' deleted temporary copies
    assert all(run.info.artifact_uri.removeprefix("file://").startswith(str(work / "mlruns")) for run in runs)
    assert not list((work / ".dvc").glob("**/mlflow.db"))


def test_experiments_register_tagged_versions_and_leave_the_champion(swept):
    from mlflow import MlflowClient

    work, _, _, shown = swept
    uri = f"sqlite:///{work / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = {str(mv.version): mv for mv in client.search_model_versions("name = 'movierec'")}
    assert sorted(versions) == ["1", "2", "3"]
    assert "dvc_exp_name" not in versions["1"].tags
    tagged = {versions[v].tags.get("dvc_exp_name") for v in ("2", "3")}
    assert tagged == set(experiments(shown))
    assert all("experiments never move the alias" in versions[v].tags["promotion"] for v in ("2", "3"))
    assert str(client.get_model_version_by_alias("movierec", "champion").version) == "1"
    for version in ("2", "3"):  # each experiment's model is whole in the project's mlruns/
        where = Path(client.get_model_version_download_uri("movierec", version).removeprefix("file://"))
        assert where.is_relative_to(work / "mlruns"), where
        assert (where / "MLmodel").is_file() and (where / "artifacts" / "bundle").is_dir()
