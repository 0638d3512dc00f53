"""Keep or drop an experiment `dvc exp run -S` applied to the workspace (issue 22, item 2).

Unit level: `keep` writes params.yaml's differing values into the conf/ files they come from, with
comments kept. End to end: a git + DVC copy on tiny synthetic data, `dvc exp run -S ... reindex`,
the stale-params message, `keep` (conf/ agrees, DVC is up to date, a later `dvc exp run` keeps the
value) and `drop` (params, lock, outputs and reports as committed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from movierec.config import compose
from pipeline.experiment import keep
from tests.conftest import REPO_ROOT


@pytest.fixture
def conf_copy(tmp_path) -> Path:
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    return tmp_path / "conf"


def applied(conf: Path, overrides: list[str]) -> Path:
    """params.yaml as `dvc exp run -S <overrides>` writes it (conf/ + overrides)."""
    params = conf.parent / "params.yaml"
    params.write_text(OmegaConf.to_yaml(compose(conf, overrides)))
    return params


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), "lines were added or removed"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_keep_writes_group_keys_into_the_selected_option_and_top_level_keys_into_config(conf_copy):
    model_before = (conf_copy / "model/embedding.yaml").read_text()
    config_before = (conf_copy / "config.yaml").read_text()
    params = applied(conf_copy, ["model.embedding_dim=32", "model.l2=0.1", "seed=7", "split=temporal"])
    keep(conf_copy, params)
    assert compose(conf_copy) == yaml.safe_load(params.read_text())
    assert params.read_text() == OmegaConf.to_yaml(compose(conf_copy))  # `make params` would write the same
    dim_line, l2_line = (next(line for line in model_before.splitlines() if line.startswith(key))
                         for key in ("embedding_dim:", "l2:"))
    column = l2_line.index("#")
    assert changed_lines(model_before, (conf_copy / "model/embedding.yaml").read_text()) == [
        (dim_line, "embedding_dim: 32"),
        (l2_line, "l2: 0.1".ljust(column) + l2_line[column:])]  # the comment stays, in its column
    assert changed_lines(config_before, (conf_copy / "config.yaml").read_text()) == [
        ("  - split: random", "  - split: temporal"), ("seed: 42", "seed: 7")]
    assert (conf_copy / "split/random.yaml").read_text() == (REPO_ROOT / "conf/split/random.yaml").read_text()


def test_keep_leaves_interpolations_that_agree_once_the_plain_values_are_written(conf_copy):
    params = applied(conf_copy, ["data=synthetic", "data.synthetic.n_users=500"])
    keep(conf_copy, params)
    text = (conf_copy / "data/synthetic.yaml").read_text()
    assert "url: synthetic://${.synthetic.n_users}x" in text and "  n_users: 500\n" in text
    assert "  - data: synthetic\n" in (conf_copy / "config.yaml").read_text()
    assert compose(conf_copy) == yaml.safe_load(params.read_text())


def test_keep_without_an_applied_experiment_changes_nothing(conf_copy):
    before = {p: p.read_bytes() for p in conf_copy.rglob("*.yaml")}
    params = applied(conf_copy, [])
    assert keep(conf_copy, params) == []
    assert {p: p.read_bytes() for p in conf_copy.rglob("*.yaml")} == before


# -- end to end: dvc exp run -S, then keep or drop --------------------------------------------------

TINY = {"n_users": 80, "n_movies": 60, "n_ratings": 2000, "min_user_ratings": 10}


def run(cmd: list[str], cwd: Path, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"
    return result


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_template(tmp_path_factory) -> Path:
    """The pipeline's code and config in a git + DVC repository whose conf/ selects tiny synthetic data;
    `dvc repro reindex` ran and everything is committed. Built once; each test works on a copy."""
    work = tmp_path_factory.mktemp("keep-drop") / "repo"
    work.mkdir()
    for name in ("pipeline", "src", "conf"):
        shutil.copytree(REPO_ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy2(REPO_ROOT / name, work / name)
    shutil.copytree(REPO_ROOT / ".dvc", work / ".dvc", ignore=shutil.ignore_patterns("cache", "tmp"))
    (work / "reports").mkdir()
    (work / ".gitignore").write_text("__pycache__/\n/mlflow.db\n")
    config = work / "conf/config.yaml"
    config.write_text(config.read_text().replace("  - data: ml-latest-small", "  - data: synthetic"))
    synthetic = work / "conf/data/synthetic.yaml"
    text = synthetic.read_text()
    for key, value in TINY.items():
        text = text.replace(f"  {key}: {yaml.safe_load(text)['synthetic'][key]}", f"  {key}: {value}", 1)
    synthetic.write_text(text)
    env = repo_env(work)
    run([sys.executable, "-m", "pipeline.params"], work, env)
    run(["git", "init", "-q"], work, env)
    run([sys.executable, "-m", "dvc", "repro", "reindex"], work, env)
    run(["git", "add", "-A"], work, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tiny"], work, env)
    return work


def repo_env(work: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_"))}
    env.update({"PYTHONPATH": str(work / "src"), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"})
    return env


@pytest.fixture
def tiny_repo(tiny_template, tmp_path) -> tuple[Path, dict]:
    """A copy of the template repository (git, DVC cache and outputs, committed), its own environment."""
    work = tmp_path / "repo"
    shutil.copytree(tiny_template, work, symlinks=True)
    env = repo_env(work)
    assert git_status(work, env) == ""
    assert "up to date" in run([sys.executable, "-m", "dvc", "status", "reindex"], work, env).stdout
    return work, env


def git_status(work: Path, env: dict) -> str:
    return run(["git", "status", "--porcelain"], work, env).stdout


@pytest.mark.slow
def test_an_applied_experiment_is_named_then_kept_then_another_dropped(tiny_repo):
    work, env = tiny_repo
    dvc = [sys.executable, "-m", "dvc"]
    committed_data = digests(work / "data/processed")
    run([*dvc, "exp", "run", "-S", "split.test_fraction=0.3", "reindex"], work, env)
    assert yaml.safe_load((work / "params.yaml").read_text())["split"]["test_fraction"] == 0.3

    # a stage of plain `dvc repro` in the applied state (there: register, which always runs) stops
    # with one line naming the key and both ways out
    stale = run([sys.executable, "-m", "pipeline.reindex"], work, env, check=False)
    assert stale.returncode != 0
    line = next(x for x in stale.stderr.splitlines() if "differs from conf/" in x)
    assert "split.test_fraction" in line and "make keep-exp" in line and "make drop-exp" in line

    run([sys.executable, "-m", "pipeline.experiment", "keep"], work, env)
    assert "\ntest_fraction: 0.3" in (work / "conf/split/random.yaml").read_text()
    run([sys.executable, "-m", "pipeline.params", "--check"], work, env)  # `make params` is a no-op
    assert "up to date" in run([*dvc, "status", "reindex"], work, env).stdout
    run([*dvc, "exp", "run", "reindex"], work, env)  # no -S: DVC composes conf/, which now holds the value
    assert yaml.safe_load((work / "params.yaml").read_text())["split"]["test_fraction"] == 0.3
    run(["git", "add", "-A"], work, env)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "kept"], work, env)
    kept_data = digests(work / "data/processed")
    assert kept_data != committed_data

    run([*dvc, "exp", "run", "-S", "seed=7", "reindex"], work, env)
    assert digests(work / "data/processed") != kept_data and git_status(work, env)
    run([sys.executable, "-m", "pipeline.experiment", "drop"], work, env)
    assert git_status(work, env) == ""
    assert digests(work / "data/processed") == kept_data
    assert "up to date" in run([*dvc, "status", "reindex"], work, env).stdout


@pytest.mark.slow
def test_dvc_exp_run_with_a_wrongly_typed_value_fails_in_one_line(tiny_repo):
    """Issue 22, item 6: DVC composes `-S` without the schema; the first stage says what is wrong."""
    work, env = tiny_repo
    result = run([sys.executable, "-m", "dvc", "exp", "run", "-S", "data.synthetic.n_users=ten", "reindex"], work, env,
                 check=False)
    assert result.returncode != 0
    assert "download: params.yaml: data.synthetic.n_users='ten': expected an int" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
