"""Registering a bundle in a temporary MLflow store; loading `models:/movierec@champion` back."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from movierec.registry.register import register_bundle
from movierec.registry.tracking import use_store
from movierec.serving.model_bundle import ModelBundle
from tests.conftest import REPO_ROOT
from tests.synthetic import small_bundle

GOOD = {"rmse": 0.83, "ndcg@10": 0.25}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny bundle, trained and saved once (no store involved)."""
    bundle = small_bundle()
    bundle_dir = tmp_path_factory.mktemp("registry") / "bundle"
    bundle.save(bundle_dir)
    return bundle, bundle_dir


@pytest.fixture
def store(tmp_path):
    """A fresh, empty MLflow store (tracking and registry) for this test alone."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    use_store(uri, "movierec")
    yield uri
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


@pytest.fixture
def champion(store, trained):
    """The fresh store with one version of the bundle registered, holding @champion."""
    registration = _register(trained[1], GOOD)
    return store, registration


def _register(bundle_dir, metrics):
    with mlflow.start_run() as run:
        pass
    return register_bundle(bundle_dir, run.info.run_id, "movierec", "champion", metrics, 0.005, 0.01)


def test_bundle_save_load_round_trip(trained):
    bundle, bundle_dir = trained
    loaded = ModelBundle.load(bundle_dir)
    for method in ("embedding", "user_user"):
        profile = bundle.profile_for_user(5)
        assert (loaded.recommend(method, profile, 5).movie_idx == bundle.recommend(method, profile, 5).movie_idx).all()


def test_each_test_gets_an_empty_store(store):
    client = MlflowClient()
    assert client.search_registered_models() == []
    with pytest.raises(MlflowException, match="Registered Model with name=movierec not found"):
        client.get_model_version_by_alias("movierec", "champion")


def test_a_stores_artifacts_live_beside_it_not_in_the_working_directory(champion, tmp_path):
    client = MlflowClient()
    experiment = client.get_experiment_by_name("movierec")
    assert experiment.artifact_location == str(tmp_path / "mlruns" / "movierec")
    version = client.get_model_version("movierec", champion[1].version)
    source = version.source  # models:/m-<id> in MLflow 3: the logged model's own folder is the artifact location
    if source.startswith("models:/"):
        source = client.get_logged_model(source.removeprefix("models:/")).artifact_location
    assert source.removeprefix("file://").startswith(str(tmp_path / "mlruns")), source


def test_first_version_becomes_champion_and_loads_identically_in_a_fresh_process(champion, trained):
    uri, registration = champion
    bundle, _ = trained
    assert registration.promoted and registration.version == "1"
    assert str(MlflowClient().get_model_version_by_alias("movierec", "champion").version) == registration.version
    script = (
        "import json, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})\n"
        "m = mlflow.pyfunc.load_model('models:/movierec@champion')\n"
        "b = m.unwrap_python_model().bundle\n"
        "p = b.profile_for_user(3)\n"
        "frame = pd.DataFrame({'user_id': [3, 3, 999], 'movie_id': [7, 17, 7]})\n"
        "out = {'pred': m.predict(frame)['predicted_rating'].tolist(),\n"
        "       'top': {k: b.recommend(k, p, 5).movie_idx.tolist() for k in ('embedding', 'user_user')}}\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    profile = bundle.profile_for_user(3)
    expected = np.clip(bundle.method("embedding").predict(profile, np.array([0, 1])), 0.5, 5.0)
    np.testing.assert_array_equal(np.array(fresh["pred"][:2], dtype=np.float32), expected.astype(np.float32))
    assert np.isnan(fresh["pred"][2])  # unknown user
    for method in ("embedding", "user_user"):
        assert fresh["top"][method] == bundle.recommend(method, profile, 5).movie_idx.tolist()


def test_a_worse_version_is_registered_without_the_alias(champion, trained):
    _, first = champion
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("movierec", "champion").version) == first.version
    registration = _register(trained[1], {"rmse": 0.90, "ndcg@10": 0.25})
    assert not registration.promoted and "rmse" in registration.reason
    assert registration.version != first.version
    assert str(client.get_model_version_by_alias("movierec", "champion").version) == first.version
    assert client.get_model_version("movierec", registration.version).tags["promotion"] == registration.reason
