"""params.yaml is conf/'s composition: a stale one stops a stage; `make params` writes DVC's bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import params as params_cli
from pipeline.stage import EXPERIMENT_ENV, PARAMS_FILE, StaleParams, compose_params, select_config
from tests.conftest import REPO_ROOT


def _dvc_hydra_config() -> dict:
    from dvc.config import Config

    return Config(dvc_dir=str(REPO_ROOT / ".dvc"), validate=True)["hydra"]


@pytest.mark.parametrize("overrides", [[], ["model.embedding_dim=32", "data=ml-1m", "split=kfold"]])
def test_make_params_writes_the_bytes_dvc_exp_run_writes(tmp_path, overrides):
    """`dvc exp run -S ...` calls dvc.utils.hydra.compose_and_dump with .dvc/config's [hydra] settings."""
    from dvc.utils.hydra import compose_and_dump

    hydra = _dvc_hydra_config()
    assert hydra["enabled"], ".dvc/config: [hydra] enabled = true (dvc exp run composes conf/)"
    target = tmp_path / "params.yaml"
    compose_and_dump(target, str(REPO_ROOT / hydra.get("config_dir", "conf")), None,
                     hydra.get("config_name", "config"), str(REPO_ROOT / hydra.get("plugins_path", "")),
                     overrides)
    assert params_cli.render(overrides) == target.read_text(encoding="utf-8")


def test_committed_params_yaml_is_what_make_params_writes():
    assert PARAMS_FILE.read_text() == params_cli.render(), "params.yaml is stale: run `make params`"


def _stale(params_file: Path) -> dict:
    params = compose_params()
    params["filter"]["min_movie_ratings"] += 1
    params["seed"] += 1
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def test_stale_params_yaml_is_refused_with_the_keys_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(EXPERIMENT_ENV, raising=False)
    stale = tmp_path / "params.yaml"
    _stale(stale)
    expected = r"filter\.min_movie_ratings, seed: .*`make keep-exp`.*`make drop-exp`.*run `make params`"
    with pytest.raises(StaleParams, match=expected):
        select_config(None, [], params_file=stale)


def test_under_dvc_exp_run_params_yaml_may_differ_from_conf(tmp_path, monkeypatch):
    """`dvc exp run -S` composes conf/ + overrides into params.yaml itself: that is not stale."""
    monkeypatch.setenv(EXPERIMENT_ENV, "exp-abc12")
    experiment = tmp_path / "params.yaml"
    params = _stale(experiment)
    cfg = select_config(None, [], params_file=experiment)
    assert cfg.filter.min_movie_ratings == params["filter"]["min_movie_ratings"]


@pytest.fixture
def stale_copy(tmp_path) -> Path:
    """pipeline/ and conf/ in a folder of their own (the stage's REPO_ROOT), with a stale params.yaml."""
    shutil.copytree(REPO_ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    _stale(tmp_path / "params.yaml")
    return tmp_path


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != EXPERIMENT_ENV}
    env["PYTHONPATH"] = str(folder)
    return subprocess.run([sys.executable, "-m", *args], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_stage_run_on_stale_params_stops_naming_make_params(stale_copy):
    result = _run(stale_copy, "pipeline.download")
    assert result.returncode != 0
    assert "download: params.yaml differs from conf/ at filter.min_movie_ratings, seed" in result.stderr
    assert "run `make params`" in result.stderr
    assert not (stale_copy / "data").exists()  # stopped before doing anything
    check = _run(stale_copy, "pipeline.params", "--check")
    assert check.returncode == 1 and "filter.min_movie_ratings" in check.stderr
