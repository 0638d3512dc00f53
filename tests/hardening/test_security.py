"""Production defaults: no debug, no stack traces, admin guarded, CORS closed, limits, no unpickling."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACE = re.compile(r"Traceback|File \"|line \d+, in |/site-packages/|\.py\b")


def test_production_app_is_not_in_debug_mode(app):
    from serve.__main__ import GunicornServer
    from serve.settings import ServeSettings

    assert app.debug is False and not app.config.get("PROPAGATE_EXCEPTIONS") and not app.testing
    settings = ServeSettings.load()
    assert settings.host in ("127.0.0.1", "::1", "localhost")   # bound to loopback unless told otherwise
    server = GunicornServer(settings)
    assert server.cfg.reload is False and server.cfg.preload_app is False


ERROR_REQUESTS = [
    ("GET", "/recommend?user_id=%ff%fe", None), ("GET", "/recommend?user_id=1&k=1e999", None),
    ("POST", "/recommend", b"{\"ratings\": [" + b"[" * 5000), ("POST", "/predict", b"\xff\xfe"),
    ("GET", "/users/..%2F..%2Fetc%2Fpasswd/top-rated", None), ("GET", "/../../etc/passwd", None),
    ("PATCH", "/recommend", None), ("GET", "/recommend?user_id=2", None),
]


@pytest.mark.parametrize("method,url,body", ERROR_REQUESTS, ids=[f"{m} {u[:30]}" for m, u, _ in ERROR_REQUESTS])
def test_error_bodies_carry_no_stack_trace_or_path(client, method, url, body):
    response = client.open(url, method=method, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500
    text = response.get_data(as_text=True)
    assert not TRACE.search(text), text
    assert str(REPO_ROOT) not in text


def test_a_500_hides_the_exception_text(app, monkeypatch):
    store = app.extensions["movierec.store"]
    monkeypatch.setattr(store.current.catalogue, "search",
                        lambda *a: (_ for _ in ()).throw(RuntimeError(f"secret in {REPO_ROOT}/x.py")))
    response = app.test_client().get("/movies?query=toy")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True) and not TRACE.search(response.get_data(as_text=True))


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}, {"Forwarded": "for=127.0.0.1"},
    {"Host": "localhost"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer undefined"},
])
def test_admin_reload_cannot_be_reached_remotely_by_spoofing(client, monkeypatch, headers):
    monkeypatch.delenv("MOVIEREC_ADMIN_TOKEN", raising=False)
    response = client.post("/admin/reload", environ_base={"REMOTE_ADDR": "10.1.2.3"}, headers=headers)
    assert response.status_code == 403


def test_an_empty_admin_token_opens_nothing(client, monkeypatch):
    monkeypatch.setenv("MOVIEREC_ADMIN_TOKEN", "")
    response = client.post("/admin/reload", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                           headers={"Authorization": "Bearer "})
    assert response.status_code == 403


@pytest.mark.parametrize("method,url", [("GET", "/health"), ("GET", "/recommend?user_id=1"),
                                        ("OPTIONS", "/recommend"), ("POST", "/recommend"),
                                        ("GET", "/openapi.json"), ("GET", "/")])
def test_cors_is_closed(client, method, url):
    response = client.open(url, method=method, json={"ratings": []} if method == "POST" else None,
                           headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert not [h for h, _ in response.headers if h.lower().startswith("access-control-")], response.headers


def test_security_headers_on_api_responses(client):
    response = client.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_limits_are_enforced(client, app):
    from serve.schemas import MAX_K, MAX_RATINGS

    assert app.config["MAX_CONTENT_LENGTH"] <= 1024 * 1024
    assert client.get(f"/recommend?user_id=1&k={MAX_K + 1}").status_code == 400
    ratings = [{"movie_id": 10, "rating": 4.0}] * (MAX_RATINGS + 1)
    assert client.post("/recommend", json={"ratings": ratings}).status_code == 400


SOURCES = [p for d in ("src", "serve", "pipeline") for p in (REPO_ROOT / d).rglob("*.py")]


def test_model_artifacts_are_loaded_without_unpickling():
    for path in SOURCES:
        text = path.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        for call in re.findall(r"np\.load\([^)]*\)", text):
            assert "allow_pickle=True" not in call, f"{path}: {call}"
        assert not re.search(r"\bpickle\.loads?\(|cloudpickle\.loads?\(|joblib\.load\(", text), path


def test_mlflow_ui_is_bound_to_loopback():
    """`make ui` runs movierec.registry.ui, whose `mlflow ui` command binds 127.0.0.1 only."""
    from movierec.registry.ui import ui_command

    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "python -m movierec.registry.ui" in makefile
    command = ui_command("sqlite:////tmp/x/mlflow.db", 5001)
    assert command[command.index("--host") + 1] == "127.0.0.1", command
