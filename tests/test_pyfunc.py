"""The registered pyfunc: a signature with a params schema, an input example, `method` switching,
and `mlflow models serve -m models:/movierec@champion` answering `/invocations`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from movierec.registry.register import register_bundle
from movierec.registry.tracking import use_store
from tests.conftest import REPO_ROOT
from tests.synthetic import small_bundle

CHAMPION = "models:/movierec@champion"


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A fresh store holding one version of the tiny bundle as movierec@champion: (uri, bundle)."""
    root = tmp_path_factory.mktemp("pyfunc")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    bundle = small_bundle()
    bundle.save(root / "bundle")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        use_store(uri, "movierec")
        with mlflow.start_run() as run:
            pass
        registration = register_bundle(root / "bundle", run.info.run_id, "movierec", "champion",
                                       {"rmse": 0.83, "ndcg@10": 0.25}, 0.005, 0.01)
        assert registration.promoted
        yield uri, bundle
    mlflow.set_tracking_uri("")
    mlflow.set_registry_uri("")


@pytest.fixture(scope="module")
def frame(champion) -> pd.DataFrame:
    """Known users x a few movies, plus an unknown user (NaN)."""
    _, bundle = champion
    users, movies = bundle.vocab.users.ids[:3], bundle.vocab.movies.ids[:5]
    rows = [(int(u), int(m)) for u in users for m in movies] + [(10**9, int(movies[0]))]
    return pd.DataFrame(rows, columns=["user_id", "movie_id"])


def expected(bundle, frame: pd.DataFrame, method: str) -> np.ndarray:
    out = []
    for user_id, movie_id in frame.itertuples(index=False):
        if bundle.vocab.users.lookup([user_id])[0] < 0:
            out.append(np.nan)
            continue
        idx = bundle.vocab.movies.lookup([movie_id])
        out.append(float(np.clip(bundle.method(method).predict(bundle.profile_for_user(user_id), idx), 0.5, 5.0)[0]))
    return np.array(out)


def test_signature_declares_the_method_param_and_an_input_example(champion):
    info = mlflow.models.get_model_info(CHAMPION)
    assert info.signature.inputs.input_names() == ["user_id", "movie_id"]
    assert info.signature.outputs.input_names() == ["predicted_rating"]
    params = {p.name: p for p in info.signature.params.params}
    assert set(params) == {"method"} and params["method"].default == "embedding"
    assert info.saved_input_example_info is not None
    example = mlflow.models.Model.load(CHAMPION).load_input_example(CHAMPION)
    assert list(example.columns) == ["user_id", "movie_id"] and len(example) >= 1


def test_method_param_switches_to_user_user(champion, frame):
    _, bundle = champion
    model = mlflow.pyfunc.load_model(CHAMPION)
    embedding = model.predict(frame)["predicted_rating"].to_numpy()
    user_user = model.predict(frame, params={"method": "user_user"})["predicted_rating"].to_numpy()
    np.testing.assert_allclose(embedding, expected(bundle, frame, "embedding"), rtol=1e-5)
    np.testing.assert_allclose(user_user, expected(bundle, frame, "user_user"), rtol=1e-5)
    assert np.isnan(user_user[-1]) and np.isnan(embedding[-1])
    assert not np.allclose(user_user[:-1], embedding[:-1])
    explicit = model.predict(frame, params={"method": "embedding"})["predicted_rating"].to_numpy()
    np.testing.assert_array_equal(explicit, embedding)


def test_an_unknown_method_is_a_clear_error(champion, frame):
    model = mlflow.pyfunc.load_model(CHAMPION)
    with pytest.raises(Exception, match=r"method: this model holds \['embedding', 'user_user'\], not 'item_item'"):
        model.predict(frame, params={"method": "item_item"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_mlflow_models_serve_answers_invocations(champion, frame, tmp_path):
    uri, bundle = champion
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", CHAMPION, "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"mlflow models serve exited:\n{Path(log.name).read_text()}"
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /ping answer in 120 s:\n{Path(log.name).read_text()}"
            time.sleep(0.5)
        split = json.loads(frame.to_json(orient="split", index=False))
        status, body = _post(f"{base}/invocations", {"dataframe_split": split})
        assert status == 200, body
        got = np.array([np.nan if r["predicted_rating"] is None else r["predicted_rating"]
                        for r in body["predictions"]], dtype=float)
        np.testing.assert_allclose(got, expected(bundle, frame, "embedding"), rtol=1e-5)
        status, body = _post(f"{base}/invocations", {"dataframe_split": split, "params": {"method": "user_user"}})
        assert status == 200, body
        got = np.array([np.nan if r["predicted_rating"] is None else r["predicted_rating"]
                        for r in body["predictions"]], dtype=float)
        np.testing.assert_allclose(got, expected(bundle, frame, "user_user"), rtol=1e-5)
        status, body = _post(f"{base}/invocations", {"dataframe_split": split, "params": {"method": "item_item"}})
        assert status >= 400 and "not 'item_item'" in json.dumps(body)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
