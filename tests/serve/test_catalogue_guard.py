"""Issue 16, 2b: the service refuses a champion whose movie ids differ from the ones it serves,
keeps the old model and says why in /health; a fresh start serves whatever the alias names."""

from __future__ import annotations

import pytest
from serve_testdata import build_bundle, synthetic_ratings


@pytest.fixture(scope="module")
def other_bundle_dir(registry, tmp_path_factory):
    """A model of another data set: the same users, every movie id shifted."""
    ratings = synthetic_ratings()
    ratings["movie_id"] = ratings["movie_id"] + 1
    folder = tmp_path_factory.mktemp("other") / "bundle"
    build_bundle(ratings).save(folder)
    return folder


def test_a_version_with_other_movie_ids_is_refused_and_the_old_model_kept(registry, web_dir, other_bundle_dir):
    from mlflow.tracking import MlflowClient

    from movierec.registry.version_tags import CATALOGUE_TAG
    from serve import create_app

    name = "guard-movie-ids"
    assert registry.register(name) == "1"
    app = create_app(tracking_uri=registry.uri, model_name=name, poll_seconds=0, web_dir=web_dir)
    store = app.extensions["movierec.store"]
    client = app.test_client()
    assert registry.register(name, other_bundle_dir) == "2"        # the alias moved (a library call)
    response = client.post("/admin/reload")
    assert response.status_code == 503 and "still serving version 1" in response.get_json()["error"]
    health = client.get("/health").get_json()
    assert health["model_version"] == "1"
    assert "other data" in health["last_error"] and "movie ids" in health["last_error"]
    assert client.get("/recommend?user_id=1").status_code == 200

    # without the registered tag the loaded ids are compared
    assert registry.register(name, other_bundle_dir) == "3"
    MlflowClient(registry.uri, registry.uri).delete_model_version_tag(name, "3", CATALOGUE_TAG)
    assert store.refresh() is False and store.current.version == "1"
    assert "not served now" in store.last_error

    # the same movies again: served
    assert registry.register(name) == "4"
    assert store.refresh() is True and store.current.version == "4" and store.last_error is None

    # a fresh service serves what the alias names, whatever its movies
    MlflowClient(registry.uri, registry.uri).set_registered_model_alias(name, "champion", "2")
    fresh = create_app(tracking_uri=registry.uri, model_name=name, poll_seconds=0, web_dir=web_dir)
    assert fresh.extensions["movierec.store"].current.version == "2"
