"""A bad override or conf/ value ends in one line naming the key, the value and the expected type
(issue 22, item 6): no traceback from a stage, from `make params` or from `dvc exp run -S`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.config import ConfigError, compose, validate
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(("override", "message"), [
    ("model.embedding_dim=ten", "model.embedding_dim='ten': expected an int"),
    ("model.dropout=high", "model.dropout='high': expected a float"),
    ("trainer.refit=maybe", "trainer.refit='maybe': expected a bool"),
    ("split.strategy=diagonal", "split.strategy='diagonal': expected one of random, temporal, kfold, predefined"),
    ("data.sha256=[1,2]", "data.sha256=[1, 2]: expected a str or null"),
])
def test_a_wrongly_typed_value_names_key_value_and_type(override, message):
    with pytest.raises(ConfigError) as info:
        validate(compose(REPO_ROOT / "conf", [override]))
    assert str(info.value) == message


@pytest.mark.parametrize(("override", "message"), [
    ("model.embeding_dim=3", "Could not override 'model.embeding_dim'. To append to your config use "
                             "+model.embeding_dim=3 (no such config key; did you mean model.embedding_dim?)"),
    ("data=ml-99", "In 'config': Could not find 'data/ml-99'; Available options in 'data': ml-100k, ml-1m, "
                   "ml-25m, ml-32m, ml-latest-small, synthetic, synthetic-1m, synthetic-25m, synthetic-5m"),
])
def test_composition_errors_come_on_one_line(override, message):
    with pytest.raises(ConfigError) as info:
        compose(REPO_ROOT / "conf", [override])
    assert str(info.value) == message


def one_line_failure(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


# Every stage reports through pipeline.stage's one entry point: the train stage (the one that imports
# torch and Lightning first, ~15 s a process on a loaded 2-core machine) once, the other two kinds of error
# on the filter stage (a few seconds)
@pytest.mark.parametrize(("stage", "override", "line"), [
    ("train", "model.embedding_dim=ten", "train: model.embedding_dim='ten': expected an int"),
    ("filter", "model.embeding_dim=3", "filter: Could not override 'model.embeding_dim'."),
    ("filter", "data=ml-99", "filter: In 'config': Could not find 'data/ml-99'"),
])
def test_a_stage_with_a_bad_override_says_one_line(stage, override, line):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    result = subprocess.run([sys.executable, "-m", f"pipeline.{stage}", override], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert one_line_failure(result).startswith(line)


@pytest.fixture
def conf_copy(tmp_path) -> Path:
    """pipeline/ and conf/ in a folder of their own (the stage's REPO_ROOT), params.yaml as committed."""
    shutil.copytree(REPO_ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "conf", tmp_path / "conf")
    shutil.copy2(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_make_params_refuses_a_bad_conf_in_one_line_and_writes_nothing(conf_copy):
    model = conf_copy / "conf/model/embedding.yaml"
    model.write_text(re.sub(r"(?m)^embedding_dim: \d+", "embedding_dim: ten", model.read_text()))
    before = (conf_copy / "params.yaml").read_bytes()
    env = {**os.environ, "PYTHONPATH": str(conf_copy)}
    result = subprocess.run([sys.executable, "-m", "pipeline.params"], cwd=conf_copy, env=env,
                            capture_output=True, text=True, timeout=120)
    assert one_line_failure(result) == "params: model.embedding_dim='ten': expected an int"
    assert (conf_copy / "params.yaml").read_bytes() == before


def test_a_stage_reading_a_bad_params_yaml_says_one_line(conf_copy):
    """What a stage sees after `dvc exp run -S model.embedding_dim=ten` (DVC composes without the schema)."""
    params = conf_copy / "params.yaml"
    params.write_text(re.sub(r"(?m)^  embedding_dim: \d+", "  embedding_dim: ten", params.read_text()))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DVC_")},
           "PYTHONPATH": str(conf_copy), "DVC_EXP_NAME": "exp-bad"}
    result = subprocess.run([sys.executable, "-m", "pipeline.download"], cwd=conf_copy, env=env,
                            capture_output=True, text=True, timeout=120)
    assert one_line_failure(result) == "download: params.yaml: model.embedding_dim='ten': expected an int"
    assert not (conf_copy / "data").exists()


@pytest.mark.parametrize(("overrides", "message"), [
    (["model.rating_stretch=0"], "config key 'model.rating_stretch' must be > 0"),
    (["model.average_every=-1"], "config key 'model.average_every' must be >= 0"),
    (["model.average_every=10", "model.average_from=0"],
     "config key 'model.average_every' needs model.average_from > 0 (the epoch the step average starts)"),
    (["model.bias_l2_scale=-0.5"], "config key 'model.bias_l2_scale' must be >= 0"),
    (["model.implicit_bias_l2=-1"], "config key 'model.implicit_bias_l2' must be >= 0"),
    (["model.epochs=0", "model.average_from=0", "model.implicit_l2=0", "model.rating_link=true"],
     "config key 'model.rating_link' needs model.epochs > 0 (the rating link trains in the stacked heads)"),
])
def test_an_out_of_range_averaging_stretch_or_bias_l2_value_names_its_key(overrides, message):
    with pytest.raises(ConfigError) as info:
        validate(compose(REPO_ROOT / "conf", overrides))
    assert str(info.value) == message
