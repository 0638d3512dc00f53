"""Shared fixtures: the real config, the data mirror, tiny synthetic frames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs 2 workers on 2 cores: torch (in-process, and in processes a test starts that do not
    # set their own count, as the pipeline's stages do) on one thread each, not two threads each fighting
    # the other worker's for the same cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def data_mirror() -> Path | None:
    """The local MovieLens mirror: $MOVIEREC_DATA_MIRROR, else ../shared/data/movielens."""
    env = os.environ.get("MOVIEREC_DATA_MIRROR")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "movielens"
    return candidate if (candidate / "ml-latest-small.zip").is_file() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    found = data_mirror()
    if found is None:
        pytest.skip("no MovieLens mirror: set MOVIEREC_DATA_MIRROR to a folder with ml-latest-small.zip")
    return found


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def tiny_ratings() -> pd.DataFrame:
    """5 users x 4 movies; movie 40 has one rating, user 5 rated only movie 40."""
    rows = [
        (1, 10, 4.0, 1), (1, 20, 3.0, 2), (1, 30, 5.0, 3),
        (2, 10, 2.0, 4), (2, 20, 4.5, 5),
        (3, 10, 3.5, 6), (3, 30, 1.0, 7),
        (4, 20, 5.0, 8), (4, 30, 4.0, 9),
        (5, 40, 3.0, 10),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])
    return frame.astype({"user_id": "int64", "movie_id": "int64", "rating": "float32", "timestamp": "int64"})


# tiny synthetic data for tests that run stages in-process (sweeps, reproducible training)
def tiny_overrides(tmp: Path) -> list[str]:
    """A 120-user synthetic data set and every path under `tmp`."""
    return ["data=synthetic", "data.synthetic.n_users=120", "data.synthetic.n_movies=150",
            "data.synthetic.n_ratings=4000", "data.synthetic.min_user_ratings=10",
            *(f"paths.{key}={tmp / key}" for key in ("raw", "interim", "processed", "models", "reports"))]


@pytest.fixture(scope="module")
def tiny_processed(tmp_path_factory) -> list[str]:
    """The download, filter and reindex stages run in-process on tiny synthetic data."""
    from movierec.config import validate
    from pipeline import download, filter, reindex
    from pipeline.stage import compose_params

    overrides = tiny_overrides(tmp_path_factory.mktemp("tiny"))
    cfg = validate(compose_params(overrides))
    for stage in (download, filter, reindex):
        stage.run(cfg)
    return overrides
