"""The synthetic MovieLens-shaped generator: seeded, well-formed, skewed, and learnable."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from movierec.config import SyntheticSpec, compose, validate
from movierec.data.readers import read_dataset
from movierec.data.synthetic import generate, write_release
from tests.conftest import REPO_ROOT, tiny_overrides


@pytest.fixture(scope="module")
def synthetic():
    return generate(n_users=800, n_movies=1500, n_ratings=60_000, seed=7, return_truth=True)


def test_same_seed_same_data_other_seed_other_data():
    a, movies_a = generate(300, 400, 12_000, seed=1)
    b, movies_b = generate(300, 400, 12_000, seed=1)
    c, _ = generate(300, 400, 12_000, seed=2)
    assert a.equals(b) and movies_a.equals(movies_b)
    assert not a.equals(c)


def test_shape_uniqueness_and_ranges(synthetic):
    ratings, movies, _ = synthetic
    assert list(ratings.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert list(movies.columns) == ["movieId", "title", "genres"]
    assert len(ratings) == 60_000
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert ratings["userId"].between(1, 800).all() and ratings["movieId"].between(1, 1500).all()
    assert ratings["userId"].nunique() == 800                      # every user rates
    assert ratings.groupby("userId").size().min() >= 20            # as in MovieLens
    assert ratings.groupby("userId").size().max() <= 750           # max_user_fraction
    assert ratings["rating"].between(0.5, 5.0).all()
    assert np.all(ratings["rating"] * 2 == np.round(ratings["rating"] * 2))  # half stars
    assert 3.2 < ratings["rating"].mean() < 4.0
    assert movies["title"].str.match(r"^Synthetic Movie \d+ \(\d{4}\)$").all()
    assert movies["genres"].str.len().gt(0).all()


def test_popularity_and_activity_are_skewed(synthetic):
    ratings, _, _ = synthetic
    per_movie = np.sort(ratings.groupby("movieId").size().to_numpy())[::-1]
    top = per_movie[: len(per_movie) // 100].sum() / per_movie.sum()
    assert top > 0.08                                              # top 1% of movies: > 8% of ratings
    per_user = ratings.groupby("userId").size()
    assert per_user.max() > 8 * per_user.median()                 # a long tail of heavy users


def test_ratings_follow_the_latent_taste(synthetic):
    """The generating dot product explains the ratings beyond the biases (a model can learn it)."""
    ratings, _, truth = synthetic
    u, m = ratings["userId"].to_numpy() - 1, ratings["movieId"].to_numpy() - 1
    residual = ratings["rating"].to_numpy() - truth.user_bias[u] - truth.movie_bias[m]
    dot = np.einsum("ij,ij->i", truth.user_factors[u], truth.movie_factors[m])
    assert np.corrcoef(dot, residual)[0, 1] > 0.3
    # and taste groups choose differently: same-group users share more movies than other pairs
    groups = truth.user_group
    sets = ratings.groupby("userId")["movieId"].apply(set)
    same = [len(sets[a + 1] & sets[b + 1]) for a in range(200) for b in range(a + 1, 200) if groups[a] == groups[b]]
    other = [len(sets[a + 1] & sets[b + 1]) for a in range(200) for b in range(a + 1, 200) if groups[a] != groups[b]]
    assert np.mean(same) > 1.2 * np.mean(other)


def test_an_embedding_model_beats_the_mean(synthetic):
    import pandas as pd

    from movierec.config import ModelConfig, TrainerConfig
    from movierec.models.embedding.fit import train_embedding

    ratings, _, _ = synthetic
    frame = pd.DataFrame({"user_idx": ratings["userId"] - 1, "movie_idx": ratings["movieId"] - 1,
                          "rating": ratings["rating"]})
    test = frame.sample(frac=0.1, random_state=0)
    train = frame.drop(test.index)
    model = train_embedding(train, None, 800, 1500, ModelConfig(embedding_dim=8, batch_size=4096, dropout=0.0,
                                                                learning_rate=0.02, l2=0.01),
                            TrainerConfig(max_epochs=15, refit=False, fused_rating_step=True), seed=0).model
    from movierec.models.protocol import Profile

    pred = np.concatenate([model.predict(Profile(np.empty(0), np.empty(0), user_idx=int(u)), g["movie_idx"].to_numpy())
                           for u, g in test.groupby("user_idx")])
    actual = np.concatenate([g["rating"].to_numpy() for _, g in test.groupby("user_idx")])
    rmse = float(np.sqrt(np.mean((pred - actual) ** 2)))
    baseline = float(np.sqrt(np.mean((actual - train["rating"].mean()) ** 2)))
    assert rmse < 0.92 * baseline


def test_release_layout_reads_like_movielens(tmp_path):
    ratings, movies = generate(200, 300, 6_000, seed=0)
    write_release(ratings, movies, tmp_path / "synthetic")
    read, read_movies = read_dataset(tmp_path / "synthetic", "csv")
    assert len(read) == 6_000 and len(read_movies) == 300
    assert read["rating"].dtype == np.float32 and read_movies["year"].notna().all()


def test_spec_refuses_impossible_sizes():
    with pytest.raises(ValueError, match="do not fit"):
        SyntheticSpec(n_users=10, n_movies=100, n_ratings=10_000)


def test_config_groups_compose():
    for group, n in (("synthetic", 100_000), ("synthetic-1m", 1_000_000), ("synthetic-5m", 5_000_000),
                     ("synthetic-25m", 25_000_000)):
        cfg = validate(compose(REPO_ROOT / "conf", [f"data={group}"]))
        assert cfg.data.synthetic.n_ratings == n and cfg.data.url.startswith("synthetic://")
        assert str(n) in cfg.data.url                             # DVC tracks data.url: sizes change it


def test_download_stage_generates_a_readable_raw_folder(tmp_path):
    raw = tmp_path / "raw"
    env = {k: v for k, v in os.environ.items() if k != "MOVIEREC_DATA_MIRROR"}
    proc = subprocess.run([sys.executable, "-m", "pipeline.download", "data=synthetic", f"paths.raw={raw}",
                           "data.synthetic.n_ratings=30000"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ratings, movies = read_dataset(raw / "synthetic-100k", "csv")
    assert len(ratings) == 30_000 and len(movies) == 3_000
    assert not any(p.name.startswith(".") for p in raw.iterdir())  # atomic: no temporary left behind


@pytest.mark.slow
def test_pipeline_stages_run_on_the_synthetic_set(tmp_path):
    """download -> filter -> reindex -> train@<method> (each configured) -> bundle -> new_user -> evaluate."""
    # tiny data (120 users, 4,000 ratings): each stage's own process start-up is most of the cost anyway
    overrides = [*tiny_overrides(tmp_path), "trainer.max_epochs=2", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db"]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    methods = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())["methods"]
    commands = [["download"], ["filter"], ["reindex"], *(["train_method", m] for m in methods), ["bundle"],
                ["new_user"], ["evaluate"]]
    for stage, *args in commands:
        proc = subprocess.run([sys.executable, "-m", f"pipeline.{stage}", *args, *overrides], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, f"{stage}: {proc.stderr[-3000:]}"
    import json

    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    # a run, not a quality check (2 epochs of the ml-latest-small settings; see the test above)
    assert set(metrics) == {*methods, "popularity", "new_user"}
    assert all(0 < metrics[m]["ndcg@10"] < 1 and 0 < metrics[m]["rmse"] < 2 for m in ("embedding", "user_user"))
