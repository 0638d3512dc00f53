"""A new champion is picked up without a restart; in-flight requests keep the old model; failures keep it."""

from __future__ import annotations

import sys
import time
import types

import pytest
from serve_testdata import UNKNOWN_USER

from movierec.serving.model_bundle import ModelBundle


@pytest.fixture
def fresh(registry, web_dir, request):
    """An app serving its own model name (version 1), so moving its alias leaves other tests alone."""
    from serve import create_app

    name = f"reload-{request.node.name}"[:60]
    assert registry.register(name) == "1"
    app = create_app(tracking_uri=registry.uri, model_name=name, poll_seconds=0, web_dir=web_dir)
    store = app.extensions["movierec.store"]
    yield name, app, store
    store.stop_polling()


def test_admin_reload_swaps_and_in_flight_requests_keep_the_old_model(registry, fresh):
    name, app, store = fresh
    client = app.test_client()
    in_flight = store.current                     # what a request started before the swap holds
    assert client.post("/admin/reload").get_json() == {"changed": False, "model_version": "1"}
    assert registry.register(name) == "2"
    response = client.post("/admin/reload")
    assert response.status_code == 200 and response.get_json() == {"changed": True, "model_version": "2"}
    assert client.get("/recommend?user_id=1").get_json()["model_version"] == "2"
    assert client.get("/health").get_json()["model_version"] == "2"
    assert in_flight.version == "1" and store.current is not in_flight
    assert len(in_flight.bundle.recommend("embedding", in_flight.bundle.profile_for_user(1), 5).movie_idx) == 5


def test_poller_picks_up_a_new_champion(registry, fresh):
    name, app, store = fresh
    store.start_polling(0.1)
    registry.register(name)
    deadline = time.monotonic() + 20
    while store.current.version != "2" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.test_client().get("/health").get_json()["model_version"] == "2"


def test_failed_load_keeps_the_old_model_and_reports_it(registry, fresh, broken_bundle_dir):
    name, app, store = fresh
    client = app.test_client()
    assert registry.register(name, broken_bundle_dir) == "2"  # promoted: same metrics
    response = client.post("/admin/reload")
    assert response.status_code == 503
    assert "still serving version 1" in response.get_json()["error"]
    health = client.get("/health")
    assert health.status_code == 200
    assert health.get_json()["model_version"] == "1" and "format" in health.get_json()["last_error"]
    assert client.get("/recommend?user_id=1").status_code == 200
    assert client.get(f"/recommend?user_id={UNKNOWN_USER}").status_code == 404
    assert store.refresh() is False                     # the broken version is not retried...
    assert registry.register(name) == "3"               # ...but the next one loads
    assert store.refresh() is True and store.last_error is None
    assert client.get("/health").get_json()["model_version"] == "3"


def test_admin_reload_only_from_localhost_or_with_the_token(fresh, monkeypatch):
    _, app, _ = fresh
    client = app.test_client()
    remote = {"REMOTE_ADDR": "10.1.2.3"}
    response = client.post("/admin/reload", environ_base=remote)
    assert response.status_code == 403 and "MOVIEREC_ADMIN_TOKEN" in response.get_json()["error"]
    monkeypatch.setenv("MOVIEREC_ADMIN_TOKEN", "s3cret")
    assert client.post("/admin/reload", environ_base=remote,
                       headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.post("/admin/reload", environ_base=remote,
                       headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/admin/reload", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_loading_a_model_leaves_mlflows_process_wide_store_alone(registry):
    """A service (or a test) that loads models from one store must not repoint MLflow's globals."""
    import mlflow

    from serve.model_store import ModelStore

    elsewhere = "sqlite:////nonexistent/elsewhere.db"
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    try:
        mlflow.set_tracking_uri(elsewhere)
        mlflow.set_registry_uri(elsewhere)
        store = ModelStore("movierec", "champion", registry.uri)
        assert store.refresh(), store.last_error
        assert store.current.version == "1"
        assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (elsewhere, elsewhere)
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])


def test_a_version_registered_before_the_package_layout_change_is_refused_clearly(registry, fresh, tmp_path,
                                                                                   monkeypatch):
    """Versions registered before the subpackages carry model code importing `movierec.bundle`."""
    import movierec.registry.register as register

    old_code = tmp_path / "mlflow_model.py"
    old_code.write_text(register.MODEL_CODE.read_text().replace(
        "from movierec.serving.model_bundle import ModelBundle", "from movierec.bundle import ModelBundle"))
    assert "from movierec.bundle import" in old_code.read_text()
    monkeypatch.setattr(register, "MODEL_CODE", old_code)
    name, app, store = fresh
    client = app.test_client()
    # MLflow imports the model code when logging it: the old module exists only while registering
    old_module = types.ModuleType("movierec.bundle")
    old_module.ModelBundle = ModelBundle  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "movierec.bundle", old_module)
    assert registry.register(name) == "2"        # promoted: same metrics
    monkeypatch.delitem(sys.modules, "movierec.bundle")
    response = client.post("/admin/reload")
    assert response.status_code == 503 and "still serving version 1" in response.get_json()["error"]
    health = client.get("/health").get_json()
    assert health["model_version"] == "1"
    assert "registered by an older movierec" in health["last_error"] and "movierec.bundle" in health["last_error"]
    assert client.get("/recommend?user_id=1").status_code == 200
