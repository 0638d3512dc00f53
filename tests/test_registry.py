"""Registering a bundle in a temporary MLflow store; loading `models:/movierec@champion` back."""

from __future__ import annotations

import json
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from movierec.registry.register import register_bundle
from movierec.registry.tracking import use_store
from movierec.serving.model_bundle import ModelBundle
from tests.conftest import REPO_ROOT
from tests.synthetic import small_bundle

GOOD = {"rmse": 0.83, "ndcg@10": 0.25}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    use_store(uri, "movierec")
    bundle = small_bundle()
    bundle_dir = folder / "bundle"
    bundle.save(bundle_dir)
    yield uri, bundle, bundle_dir
    mlflow.set_tracking_uri("")


def _register(bundle_dir, metrics):
    with mlflow.start_run() as run:
        pass
    return register_bundle(bundle_dir, run.info.run_id, "movierec", "champion", metrics, 0.005, 0.01)


def test_bundle_save_load_round_trip(store, tmp_path):
    _, bundle, bundle_dir = store
    loaded = ModelBundle.load(bundle_dir)
    for method in ("embedding", "user_user"):
        profile = bundle.profile_for_user(5)
        assert (loaded.recommend(method, profile, 5).movie_idx == bundle.recommend(method, profile, 5).movie_idx).all()


def test_first_version_becomes_champion_and_loads_identically_in_a_fresh_process(store):
    uri, bundle, bundle_dir = store
    registration = _register(bundle_dir, GOOD)
    assert registration.promoted
    assert str(MlflowClient().get_model_version_by_alias("movierec", "champion").version) == registration.version
    script = (
        "import json, mlflow, pandas as pd\n"
        f"mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})\n"
        "m = mlflow.pyfunc.load_model('models:/movierec@champion')\n"
        "b = m.unwrap_python_model().bundle\n"
        "p = b.profile_for_user(3)\n"
        "out = {'pred': m.predict(pd.DataFrame({'user_id': [3, 3, 999], 'movie_id': [7, 17, 7]}))['predicted_rating'].tolist(),\n"
        "       'top': {k: b.recommend(k, p, 5).movie_idx.tolist() for k in ('embedding', 'user_user')}}\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    fresh = json.loads(result.stdout.strip().splitlines()[-1])
    profile = bundle.profile_for_user(3)
    expected = np.clip(bundle.embedding.predict(profile, np.array([0, 1])), 0.5, 5.0)
    np.testing.assert_array_equal(np.array(fresh["pred"][:2], dtype=np.float32), expected.astype(np.float32))
    assert np.isnan(fresh["pred"][2])  # unknown user
    for method in ("embedding", "user_user"):
        assert fresh["top"][method] == bundle.recommend(method, profile, 5).movie_idx.tolist()


def test_a_worse_version_is_registered_without_the_alias(store):
    _, _, bundle_dir = store
    champion_before = MlflowClient().get_model_version_by_alias("movierec", "champion").version
    registration = _register(bundle_dir, {"rmse": 0.90, "ndcg@10": 0.25})
    assert not registration.promoted and "rmse" in registration.reason
    client = MlflowClient()
    assert client.get_model_version_by_alias("movierec", "champion").version == champion_before
    assert client.get_model_version("movierec", registration.version).tags["promotion"] == registration.reason
