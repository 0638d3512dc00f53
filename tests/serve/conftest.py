"""A small real model (synthetic ratings, trained for real) registered into a temporary MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from serve_testdata import Registry, build_bundle, synthetic_ratings


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Registry:
    """`movierec@champion` = version 1 of a model trained on :func:`synthetic_ratings`."""
    import mlflow

    from movierec.registry.tracking import use_store

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        use_store(uri, "serve-tests")
        ratings = synthetic_ratings()
        bundle = build_bundle(ratings)
        bundle.save(root / "bundle")
        reg = Registry(uri, root / "bundle", ratings, bundle)
        assert reg.register("movierec") == "1"
        yield reg
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


@pytest.fixture(scope="session")
def web_dir(tmp_path_factory) -> Path:
    """A stand-in for `web/out` (the real one needs npm)."""
    out = tmp_path_factory.mktemp("web") / "out"
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "index.html").write_text("<!DOCTYPE html><title>movierec</title>")
    (out / "404.html").write_text("<!DOCTYPE html><title>not found</title>")
    (out / "icon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (out / "_next" / "static" / "chunks" / "app.js").write_text("console.log(1)")
    return out


@pytest.fixture(scope="session")
def app(registry, web_dir):
    from serve import create_app

    app = create_app(tracking_uri=registry.uri, poll_seconds=0, web_dir=web_dir)
    assert app.extensions["movierec.store"].current is not None, app.extensions["movierec.store"].last_error
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def broken_bundle_dir(registry, tmp_path) -> Path:
    """A bundle whose manifest has a format version the code refuses: loading it fails."""
    folder = tmp_path / "broken"
    shutil.copytree(registry.bundle_dir, folder)
    (folder / "manifest.json").write_text('{"format_version": 999}')
    return folder
