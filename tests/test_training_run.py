"""The training run of a model folder is found by the folder's hash; runs are named by what changed
(issue 22, items 1 and 4)."""

from __future__ import annotations

import mlflow
import pytest

from movierec.registry.tracking import DEFAULT_RUN_NAME, run_name, use_store
from movierec.registry.training_run import (
    MODEL_HASH_TAG,
    RESTORED_TAG,
    folder_sha256,
    log_evaluation,
    logged_evaluation_matches,
    training_run_id,
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT", "DVC_EXP_NAME", "MLFLOW_RUN_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    use_store(f"sqlite:///{tmp_path / 'mlflow.db'}", "movierec")
    yield tmp_path
    mlflow.set_tracking_uri(None)


def model_folder(path, weights: bytes):
    path.mkdir(parents=True)
    (path / "head0.pt").write_bytes(weights)
    (path / "run.json").write_text('{"best_epoch": 3}')
    return path


def test_folder_hash_covers_names_and_bytes(tmp_path):
    a = model_folder(tmp_path / "a", b"\x00\x01")
    b = model_folder(tmp_path / "b", b"\x00\x01")
    assert folder_sha256(a) == folder_sha256(b)
    (b / "head0.pt").write_bytes(b"\x00\x02")
    assert folder_sha256(a) != folder_sha256(b)
    (b / "head0.pt").rename(b / "head1.pt")
    (b / "head1.pt").write_bytes(b"\x00\x01")
    assert folder_sha256(a) != folder_sha256(b)


def test_the_run_tagged_with_the_folder_hash_is_found(store):
    folder = model_folder(store / "models" / "embedding", b"weights")
    with mlflow.start_run(run_name="other") as other:
        mlflow.set_tag(MODEL_HASH_TAG, "0" * 64)
    with mlflow.start_run(run_name="trained") as trained:
        mlflow.set_tag(MODEL_HASH_TAG, folder_sha256(folder))
    found = training_run_id(folder, "movierec", {"seed": 42}, "unused")
    assert found == trained.info.run_id != other.info.run_id
    assert mlflow.get_run(found).data.tags.get(RESTORED_TAG) is None


def test_a_store_without_the_run_gets_one_made_once(store):
    folder = model_folder(store / "models" / "embedding", b"restored by dvc checkout")
    made = training_run_id(folder, "movierec", {"seed": 42, "model.embedding_dim": 64}, "defaults")
    run = mlflow.get_run(made)
    assert run.data.tags[RESTORED_TAG] == "true" and run.data.tags[MODEL_HASH_TAG] == folder_sha256(folder)
    assert run.data.params == {"seed": "42", "model.embedding_dim": "64"}
    assert run.info.run_name == "defaults (restored)"
    assert training_run_id(folder, "movierec", {}, "again") == made


def test_a_logged_evaluation_matches_only_the_same_metrics(store, tmp_path):
    folder = model_folder(store / "models" / "embedding", b"w")
    run_id = training_run_id(folder, "movierec", {}, "x")
    evaluation = {"embedding": {"rmse": 0.8, "ndcg@10": 0.3}, "new_user": {"embedding": {"rmse": float("nan")}}}
    assert not logged_evaluation_matches(run_id, evaluation)
    report = tmp_path / "evaluation.md"
    report.write_text("# report\n")
    log_evaluation(run_id, evaluation, report, tmp_path / "no-figures")
    metrics = mlflow.get_run(run_id).data.metrics
    assert set(metrics) == {"test_embedding_rmse", "test_embedding_ndcg_at_10", "test_new_user_embedding_rmse"}
    assert metrics["test_embedding_rmse"] == 0.8
    assert logged_evaluation_matches(run_id, evaluation)  # NaN matches NaN: not logged again
    assert not logged_evaluation_matches(run_id, {**evaluation, "embedding": {"rmse": 0.81, "ndcg@10": 0.3}})
    assert not logged_evaluation_matches(run_id, {"embedding": {"rmse": 0.8, "ndcg@5": 0.3}})  # never logged
    other = {"embedding": {"rmse": 0.8, "ndcg@5": 0.3}}  # e.g. evaluate.k changed: another evaluation, same run
    log_evaluation(run_id, other, report, tmp_path / "no-figures")
    assert logged_evaluation_matches(run_id, other)  # the earlier evaluation's metrics beside it do not matter


@pytest.mark.parametrize(("changed", "experiment", "expected"), [
    ({}, None, DEFAULT_RUN_NAME),
    ({}, "dozy-pods", "dozy-pods"),
    ({"model.embedding_dim": 32}, "dozy-pods", "dozy-pods:model.embedding_dim=32"),
    ({"model.embedding_dim": 32, "filter.min_movie_ratings": 10}, None,
     "model.embedding_dim=32,filter.min_movie_ratings=10"),
    # a group choice shows as the choice, not as its url and checksum; output paths are no change
    ({"data.name": "ml-1m", "data.url": "https://x/ml-1m.zip", "data.sha256": "ab", "seed": 7,
      "paths.models": "/tmp/m"}, "e", "e:data=ml-1m,seed=7"),
    ({"split.fold": None}, None, "split.fold=null"),
])
def test_run_names_say_the_experiment_and_what_changed(changed, experiment, expected):
    assert run_name(changed, experiment) == expected


def test_a_long_run_name_is_cut_to_mlflows_limit_and_says_how_many_changed():
    changed = {f"model.key_{i}": "v" * 30 for i in range(20)}
    name = run_name(changed, "e")
    assert len(name) == 250 and name.endswith("…(20 changed)") and name.startswith("e:model.key_0=")
