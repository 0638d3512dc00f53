"""The MLflow store missing or locked: a clear error, the served model kept, nothing lost."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from movierec.registry.alias import history, move_alias


def _db_path(uri: str) -> Path:
    return Path(uri[len("sqlite:///"):])


def test_missing_database_is_a_clear_503_and_is_not_created(web_dir, tmp_path):
    from serve import create_app

    missing = tmp_path / "nowhere" / "mlflow.db"
    app = create_app(tracking_uri=f"sqlite:///{missing}", poll_seconds=0, web_dir=web_dir)
    health = app.test_client().get("/health")
    assert health.status_code == 503
    body = health.get_json()
    assert str(missing) in body["error"] and "does not exist" in body["error"]
    assert app.test_client().get("/recommend?user_id=1").status_code == 503
    assert not missing.exists() and not missing.parent.exists()   # MLflow would have made an empty store


def test_database_removed_while_serving_keeps_the_model(registry, web_dir, tmp_path):
    from serve import create_app

    copy = tmp_path / "mlflow.db"
    shutil.copyfile(_db_path(registry.uri), copy)
    app = create_app(tracking_uri=f"sqlite:///{copy}", poll_seconds=0, web_dir=web_dir)
    store = app.extensions["movierec.store"]
    assert store.current is not None, store.last_error
    copy.unlink()
    assert store.refresh(force=True) is False
    health = app.test_client().get("/health").get_json()
    assert health["model_version"] == store.current.version and "does not exist" in health["last_error"]
    assert app.test_client().get("/recommend?user_id=1").status_code == 200


def _hold_exclusive_lock(path: Path, seconds: float, locked: threading.Event) -> threading.Thread:
    def hold():
        con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        con.execute("ROLLBACK")
        con.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(10)
    return thread


def test_brief_lock_delays_an_alias_move_and_loses_nothing(registry, tmp_path):
    copy = tmp_path / "mlflow.db"
    shutil.copyfile(_db_path(registry.uri), copy)
    uri = f"sqlite:///{copy}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    before = history(client, "movierec", "champion")
    versions = {str(v.version) for v in client.search_model_versions("name='movierec'")}
    current = str(client.get_model_version_by_alias("movierec", "champion").version)
    target = min(versions - {current}, default=current)
    locked = threading.Event()
    holder = _hold_exclusive_lock(copy, 2.0, locked)
    start = time.monotonic()
    move_alias(client, "movierec", "champion", target, "test: move while another process holds the lock")
    assert time.monotonic() - start >= 1.0                    # it waited for the lock...
    holder.join()
    assert str(client.get_model_version_by_alias("movierec", "champion").version) == target  # ...then completed
    assert len(history(client, "movierec", "champion")) == len(before) + 1
    assert {str(v.version) for v in client.search_model_versions("name='movierec'")} == versions


def test_lock_held_past_the_busy_timeout_is_a_clear_error_and_keeps_serving(registry, web_dir, tmp_path):
    """MLflow's sqlite busy timeout is 20 s: the reload fails with 'database is locked', the model stays."""
    from serve import create_app

    copy = tmp_path / "mlflow.db"
    shutil.copyfile(_db_path(registry.uri), copy)
    app = create_app(tracking_uri=f"sqlite:///{copy}", poll_seconds=0, web_dir=web_dir)
    store = app.extensions["movierec.store"]
    version = store.current.version
    locked = threading.Event()
    holder = _hold_exclusive_lock(copy, 21.5, locked)
    response = app.test_client().post("/admin/reload")
    assert response.status_code == 503
    message = response.get_json()["error"]
    assert "database is locked" in message and f"still serving version {version}" in message
    assert app.test_client().get("/recommend?user_id=1").get_json()["model_version"] == version
    holder.join()
    assert store.refresh(force=True) is True and store.last_error is None      # recovers once released
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone() == ("ok",)

