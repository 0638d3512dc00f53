"""conf/ is the one source: params.yaml never drifts from it, and bad overrides fail early."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from omegaconf import OmegaConf

from movierec.config import Config, ConfigError, RatingsFormat, validate
from pipeline.stage import PARAMS_FILE, compose_params, select_config
from tests.conftest import REPO_ROOT


def test_params_yaml_matches_conf_composition():
    committed = yaml.safe_load(PARAMS_FILE.read_text())
    assert committed == compose_params(), "params.yaml is stale: run `make params`"


def test_defaults_validate_with_documented_keys():
    cfg = validate(compose_params())
    assert isinstance(cfg, Config)
    assert cfg.filter.min_movie_ratings == 5
    assert cfg.split.test_fraction == 0.2
    assert cfg.seed == 42
    assert cfg.data.format is RatingsFormat.csv
    assert cfg.model.embedding_dim > 0 and cfg.trainer.max_epochs > 0


@pytest.mark.parametrize("name,fmt", [("ml-100k", "u_data"), ("ml-1m", "dat"), ("ml-25m", "csv"), ("ml-32m", "csv")])
def test_every_dataset_group_composes(name, fmt):
    cfg = validate(compose_params([f"data={name}"]))
    assert cfg.data.name == name and cfg.data.format.value == fmt
    assert cfg.data.url.endswith(f"/{name}.zip")


def test_the_synthetic_preset_is_the_stacked_trainer_without_day_biases_or_dropout():
    default = validate(compose_params()).model
    chosen = validate(compose_params(["data=synthetic-1m", "model=synthetic"])).model
    assert chosen.name == "embedding" and chosen.epochs > 0 and chosen.implicit_l2 == default.implicit_l2
    assert chosen.day_l2 == 0 and chosen.dropout == 0 and chosen.embedding_dim < default.embedding_dim
    assert (chosen.item_item_lambda, chosen.blend_choice) == (default.item_item_lambda, default.blend_choice)


def test_the_large_data_preset_is_the_lone_head_trainer_on_the_defaults():
    default, large = validate(compose_params()).model, validate(compose_params(["model=large"])).model
    assert large.name == "embedding" and large.epochs == 0 and large.implicit_l2 == 0 and large.day_l2 == 0
    assert large.choice_negatives > 0 and large.batch_size > default.batch_size
    assert (large.l2, large.item_item_lambda) == (default.l2, default.item_item_lambda)  # inherited
    assert large.embedding_dim == 64  # pinned: the dim its 25M figures were measured with (docs/scaling.md)


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="model.embedding_dim='abc': expected an int"):
        validate(compose_params(["model.embedding_dim=abc"]))


@pytest.mark.parametrize("override", ["split.test_fraction=1.5", "model.choice_negatives=-1",
                                      "model.implicit_users=0", "model.implicit_weight=-0.1",
                                      "serve.registry_timeout=0", "serve.drain_seconds=-1"])
def test_out_of_range_names_the_key(override):
    key = override.split("=")[0]
    with pytest.raises(ValueError, match=f"'{key}'"):
        validate(compose_params([override]))


def test_unknown_key_in_params_file_is_refused(tmp_path):
    params = compose_params()
    params["filter"]["min_moive_ratings"] = 3
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="params.yaml: filter.min_moive_ratings: no such config key"):
        select_config(None, [], params_file=bad)  # type: ignore[arg-type]


def _stage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.filter", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("override,expected", [
    ("filter.no_such_key=1", "no_such_key"),
    ("data=ml-99", "ml-latest-small"),  # Hydra lists the valid choices
    ("filter.min_movie_ratings=ten", "min_movie_ratings"),
])
def test_bad_override_fails_on_the_command_line_before_touching_files(override, expected):
    before = {p: p.stat().st_mtime_ns for p in (REPO_ROOT / "data").rglob("*") if p.is_file()}
    result = _stage(override)
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout
    after = {p: p.stat().st_mtime_ns for p in (REPO_ROOT / "data").rglob("*") if p.is_file()}
    assert before == after


def test_dataclass_defaults_are_the_conf_defaults():
    """conf/ is the one source of defaults: a dataclass default is either absent (MISSING) or the
    value conf/config.yaml composes to, so code that builds a config by hand trains like `dvc repro`."""
    composed = compose_params()
    defaults = OmegaConf.to_container(OmegaConf.structured(Config), enum_to_str=True)
    diverging = []

    def walk(path: str, default, value) -> None:
        if isinstance(default, dict) and isinstance(value, dict):
            for key in default:
                if key in value:  # a key this composition leaves out (split.n_folds of random) is unused
                    walk(f"{path}.{key}" if path else key, default[key], value[key])
        elif default != "???" and default is not None and default != value:
            diverging.append(f"{path}: dataclass {default!r} vs conf {value!r}")

    walk("", defaults, composed)
    assert not diverging, diverging
