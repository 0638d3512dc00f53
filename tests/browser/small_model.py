"""Register the small model of the service tests as `movierec@champion` in a fresh MLflow store.

`python tests/browser/small_model.py ROOT` writes ROOT/mlflow.db (the store, artifacts beside it)
and ROOT/bundle (the model as built; `movies.parquet` is its movie table). It runs in its own process
so that MLflow's process-wide state (tracking URI, active experiment) in pytest stays untouched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serve"))

from serve_testdata import Registry, build_bundle, synthetic_ratings  # noqa: E402


def main(root: Path) -> None:
    from movierec.registry.tracking import use_store

    uri = f"sqlite:///{root / 'mlflow.db'}"
    os.chdir(root)  # MLflow's default artifact root is relative to the working directory
    use_store(uri, "browser-tests")
    ratings = synthetic_ratings()
    bundle = build_bundle(ratings)
    bundle.save(root / "bundle")
    version = Registry(uri, root / "bundle", ratings, bundle).register("movierec")
    assert version == "1", version
    print(uri)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
