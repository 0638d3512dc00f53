"""Lineage tags and the alias audit trail (rollback) on a temporary MLflow registry."""

from __future__ import annotations

import json
import subprocess

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.alias import current_version, history, move_alias, previous_version
from movierec.registry.champion import rollback
from movierec.registry.lineage import data_hashes, git_state, lineage_tags


def test_data_hashes_come_from_the_data_stages_in_dvc_lock(tmp_path):
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n"
        "  download:\n    outs:\n    - path: data/raw/x\n      md5: aaa.dir\n"
        "  reindex:\n    outs:\n    - path: data/processed/train.parquet\n      md5: bbb\n"
        "  train:\n    outs:\n    - path: models/embedding\n      md5: ccc.dir\n")
    assert data_hashes(tmp_path / "dvc.lock") == {"data/raw/x": "aaa.dir", "data/processed/train.parquet": "bbb"}
    assert data_hashes(tmp_path / "missing.lock") == {}


def test_git_state_reports_commit_and_dirty_flag(tmp_path):
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f").write_text("1")
    run("add", "f")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    clean = git_state(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] == "false"
    (tmp_path / "f").write_text("2")
    assert git_state(tmp_path)["git_dirty"] == "true"
    assert git_state(tmp_path, ignore={"f"})["git_dirty"] == "false"  # e.g. a pipeline output
    assert git_state(tmp_path / "nowhere")["git_commit"] == "unknown"


def test_lineage_tags_hold_params_by_group(tmp_path):
    tags = lineage_tags(tmp_path, {"model.embedding_dim": 64, "seed": 42})
    assert json.loads(tags["params.model"]) == {"embedding_dim": 64}
    assert json.loads(tags["params.top"]) == {"seed": 42}
    assert tags["data_fingerprint"] == "unknown"


@pytest.fixture
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient()
    client.create_registered_model("m")
    for _ in range(3):
        client.create_model_version("m", "file:///nowhere")
    yield client
    mlflow.set_tracking_uri("")


def test_every_move_is_logged_and_rollback_goes_to_the_previous_version(registry):
    move_alias(registry, "m", "champion", "1", "first")
    move_alias(registry, "m", "champion", "3", "better")
    assert current_version(registry, "m", "champion") == "3"
    back = rollback(registry, "m", "champion", "3 misbehaves")
    assert (back.from_version, back.to_version, back.why) == ("3", "1", "3 misbehaves")
    assert current_version(registry, "m", "champion") == "1"
    trail = history(registry, "m", "champion")
    assert [(m.from_version, m.to_version) for m in trail] == [(None, "1"), ("1", "3"), ("3", "1")]
    assert all(m.who and m.when for m in trail)


def test_rollback_to_a_named_version_and_refusals(registry):
    with pytest.raises(ValueError, match="no previous version"):
        rollback(registry, "m", "champion", "nothing yet")
    move_alias(registry, "m", "champion", "2", "start")
    assert rollback(registry, "m", "champion", "pin", to_version="3").to_version == "3"
    with pytest.raises(ValueError, match="already version 3"):
        rollback(registry, "m", "champion", "again", to_version="3")
    with pytest.raises(ValueError, match="reason"):
        move_alias(registry, "m", "champion", "1", " ")
    with pytest.raises(MlflowException, match=r"Model Version \(name=m, version=99\) not found") as unknown:
        move_alias(registry, "m", "champion", "99", "no such version")
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert len(history(registry, "m", "champion")) == 2  # the refused move is not logged
    assert current_version(registry, "m", "champion") == "3"


def test_previous_version_skips_to_the_move_that_reached_the_current():
    from movierec.registry.alias import AliasMove

    moves = [AliasMove("c", None, "1", "t", "u", "a"), AliasMove("c", "1", "2", "t", "u", "b")]
    assert previous_version(moves, "2") == "1"
    assert previous_version(moves, "1") is None


def test_reproduction_compares_every_registered_metric():
    from movierec.registry.reproduce import compare, expected_metrics

    expected = expected_metrics({"test_metrics.rmse": "0.8284", "test_metrics.ndcg_at_10": "0.2645", "other": "x"})
    assert expected == {"rmse": 0.8284, "ndcg@10": 0.2645}
    assert compare(expected, {"rmse": 0.8284, "ndcg@10": 0.2645, "extra": 1.0}, 1e-9) == []
    problems = compare(expected, {"rmse": 0.8290}, 1e-6)
    assert any("rmse" in p for p in problems) and any("ndcg@10" in p and "None" in p for p in problems)


def test_show_exits_non_zero_without_a_champion(registry, monkeypatch, tmp_path, capsys):
    from movierec.registry.champion import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow.get_tracking_uri())
    assert main(["--name", "m", "show"]) == 1
    move_alias(registry, "m", "champion", "2", "start")
    assert main(["--name", "m", "show"]) == 0
    assert '"version": "2"' in capsys.readouterr().out
