"""benchmarks/accuracy.py: the vectorised Surprise scores equal Surprise's own, and a smoke run."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow
pytest.importorskip("surprise")
pytest.importorskip("implicit")


@pytest.fixture(scope="module")
def accuracy():
    spec = importlib.util.spec_from_file_location("bench_accuracy", REPO_ROOT / "benchmarks" / "accuracy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def random_ratings(n_users: int, n_movies: int, density: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users, movies = np.nonzero(rng.random((n_users, n_movies)) < density)
    ratings = rng.integers(1, 11, size=users.size) / 2.0
    return pd.DataFrame({"user_idx": users, "movie_idx": movies, "rating": ratings})


@pytest.mark.parametrize("algo_name", ["BaselineOnly", "SVD", "SVDpp", "KNNWithMeans"])
def test_rank_scores_equal_surprise_estimates(accuracy, algo_name):
    import surprise

    ratings = random_ratings(40, 25, 0.4, seed=1)
    options = {"KNNWithMeans": dict(k=5, sim_options={"name": "pearson", "user_based": True}, verbose=False),
               "SVD": dict(random_state=0), "SVDpp": dict(random_state=0, n_epochs=5),
               "BaselineOnly": dict(verbose=False)}[algo_name]
    model = accuracy.fit_surprise(getattr(surprise, algo_name)(**options), ratings, n_movies=25)
    from movierec.models.protocol import Profile

    for user in range(40):
        scores = model.rank_scores(Profile(np.empty(0), np.empty(0), user_idx=user))
        expected = [model.algo.predict(user, movie, clip=False).est for movie in range(25)]
        np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)


def test_quick_run_writes_json_and_markdown(accuracy, tmp_path):
    from movierec.serving.model_bundle import ModelBundle

    if not (REPO_ROOT / "data" / "processed" / "train.parquet").is_file():
        pytest.skip("no processed data: run `dvc repro`")
    try:
        ModelBundle.load(REPO_ROOT / "models" / "bundle")
    except (OSError, ValueError) as err:
        pytest.skip(f"no usable models/bundle ({err}): run `dvc repro`")
    rows = accuracy.main(["--quick", "--out", str(tmp_path)])
    assert [row["method"] for row in json.loads((tmp_path / "accuracy.json").read_text())] == \
        [row["method"] for row in rows]
    by_method = {row["method"]: row for row in rows}
    assert by_method["implicit ALS"]["rmse"] is None
    assert by_method["Surprise SVD++ (tuned)"]["rmse"] > 0
    if importlib.util.find_spec("myfm") is not None:  # the row is skipped without the package
        fm = by_method["Bayesian FM (myFM, tuned)"]
        assert fm["rmse"] > 0 and "val RMSE/MAE" in fm["params"] and 0.0 <= fm["ndcg@10"] <= 1.0
    assert all(0.0 <= row["ndcg@10"] <= 1.0 for row in rows)
    assert "| popularity |" in (tmp_path / "accuracy.md").read_text()
