"""Every error is JSON {"error": ...} naming the field, with the right status; no input gives a 500."""

from __future__ import annotations

import json

import pytest
from serve_testdata import UNKNOWN_USER


def rating(value, movie_id=10):
    return {"movie_id": movie_id, "rating": value}


CASES = [
    # (method, url, json body or raw bytes, status, words the message must contain)
    ("GET", "/recommend", None, 400, "user_id"),
    ("GET", "/recommend?user_id=abc", None, 400, "user_id"),
    ("GET", "/recommend?user_id=1.5", None, 400, "user_id"),
    ("GET", "/recommend?user_id=-4", None, 400, "user_id"),
    ("GET", "/recommend?user_id=99999999999999999999999", None, 400, "user_id"),
    # ASCII digits only: int() and \d would read Arabic-Indic "١", fullwidth "１" or "1_0"
    ("GET", "/recommend?user_id=\u0661", None, 400, "user_id"),
    ("GET", "/recommend?user_id=\uff11", None, 400, "user_id"),
    ("GET", "/recommend?user_id=1_0", None, 400, "user_id"),
    ("GET", "/recommend?user_id=1&k=\u0661\u0660", None, 400, "k"),
    ("GET", "/recommend?user_id=\u20031", None, 400, "user_id"),
    ("GET", "/recommend?user_id=1&year_min=\u0661\u0669\u0669\u0660", None, 400, "year_min"),
    ("GET", "/users/\u0661/top-rated", None, 400, "user_id"),
    ("GET", "/movies?query=toy&limit=\u0665", None, 400, "limit"),
    ("POST", "/recommend", '{"ratings": [{"movie_id": \u0661, "rating": 4}]}'.encode(), 400, "JSON"),
    ("GET", "/recommend?user_id=1&k=0", None, 400, "k"),
    ("GET", "/recommend?user_id=1&k=101", None, 400, "k"),
    ("GET", "/recommend?user_id=1&k=ten", None, 400, "k"),
    ("GET", "/recommend?user_id=1&k=1&k=2", None, 400, "k"),
    ("GET", "/recommend?user_id=1&kk=2", None, 400, "kk"),
    ("GET", f"/recommend?user_id={UNKNOWN_USER}", None, 404, "user_id"),
    ("GET", f"/recommend-simple?user_id={UNKNOWN_USER}", None, 404, "user_id"),
    ("GET", "/recommend-simple?user_id=1&k=500", None, 400, "k"),
    ("POST", "/recommend", b"", 400, "body"),
    ("POST", "/recommend", b"{not json", 400, "JSON"),
    ("POST", "/recommend", b"[" * 50000, 400, "JSON"),
    ("POST", "/recommend", b'{"ratings": [{"movie_id": 10, "rating": NaN}]}', 400, "NaN"),
    ("POST", "/recommend", b'{"ratings": [{"movie_id": 10, "rating": 1e999}]}', 400, "rating"),
    ("POST", "/recommend", b"\xff\xfe\x00", 400, "JSON"),
    ("POST", "/recommend", [], 400, "object"),
    ("POST", "/recommend", {}, 400, "ratings"),
    ("POST", "/recommend", {"ratings": "5 stars"}, 400, "ratings"),
    ("POST", "/recommend", {"ratings": [rating(4.0)], "k": 0}, 400, "k"),
    ("POST", "/recommend", {"ratings": [rating(4.0)], "k": "10"}, 400, "k"),
    ("POST", "/recommend", {"ratings": [rating(4.0)], "extra": 1}, 400, "extra"),
    ("POST", "/recommend", {"ratings": [rating(4.2)]}, 400, "ratings[0].rating"),
    ("POST", "/recommend", {"ratings": [rating(4.0), rating(0)]}, 400, "ratings[1].rating"),
    ("POST", "/recommend", {"ratings": [rating(5.5)]}, 400, "ratings[0].rating"),
    ("POST", "/recommend", {"ratings": [rating(True)]}, 400, "ratings[0].rating"),
    ("POST", "/recommend", {"ratings": [rating("4")]}, 400, "ratings[0].rating"),
    ("POST", "/recommend", {"ratings": [{"rating": 4.0}]}, 400, "ratings[0].movie_id"),
    ("POST", "/recommend", {"ratings": [rating(4.0, movie_id="x")]}, 400, "ratings[0].movie_id"),
    ("POST", "/recommend", {"ratings": [rating(4.0, movie_id=2**70)]}, 400, "ratings[0].movie_id"),
    ("POST", "/recommend", {"ratings": [rating(4.0, movie_id=i) for i in range(1, 1002)]}, 400, "1000"),
    ("POST", "/recommend-simple", {"ratings": [rating(4.2)]}, 400, "ratings[0].rating"),
    ("POST", "/predict", {"movie_ids": [10]}, 400, "user_id"),
    ("POST", "/predict", {"user_id": 1}, 400, "movie_ids"),
    ("POST", "/predict", {"user_id": 1, "movie_ids": []}, 400, "movie_ids"),
    ("POST", "/predict", {"user_id": 1, "movie_ids": [10], "method": "svd"}, 400, "method"),
    ("POST", "/predict", {"user_id": UNKNOWN_USER, "movie_ids": [10]}, 404, "user_id"),
    ("GET", "/movies", None, 400, "query"),
    ("GET", "/movies?query=", None, 400, "query"),
    ("GET", "/movies?query=toy&limit=0", None, 400, "limit"),
    ("GET", "/users/abc/top-rated", None, 400, "user_id"),
    ("GET", f"/users/{UNKNOWN_USER}/top-rated", None, 404, "user_id"),
    ("GET", "/users/1/top-rated?limit=1000", None, 400, "limit"),
    ("GET", "/no-such-route", None, 404, "/no-such-route"),
    ("POST", "/no-such-route", {}, 404, "/no-such-route"),
    ("DELETE", "/recommend", None, 405, "DELETE"),
    ("GET", "/predict", None, 405, "POST"),
    ("PUT", "/health", None, 405, "GET"),
]


@pytest.mark.parametrize("method,url,body,status,words", CASES, ids=[f"{c[0]} {c[1][:40]} {c[3]}" for c in CASES])
def test_error_is_json_naming_the_problem(client, method, url, body, status, words):
    kwargs = {"data": body} if isinstance(body, bytes) else ({} if body is None else {"json": body})
    response = client.open(url, method=method, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    message = response.get_json()["error"]
    assert words in message, message
    assert "Traceback" not in message


def test_405_says_which_methods_are_allowed(client):
    response = client.delete("/recommend")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_body_over_the_limit_is_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    padding = " " * limit
    response = client.post("/recommend", data=f'{{"ratings": []{padding}}}', content_type="application/json")
    assert response.status_code == 413
    assert "body" in response.get_json()["error"]


def test_1000_ratings_are_accepted(client):
    ratings = [{"movie_id": 10 * (i % 30 + 1), "rating": 0.5 + (i % 10) / 2} for i in range(1000)]
    assert client.post("/recommend", json={"ratings": ratings}).status_code == 200


def test_a_bug_answers_json_500_without_a_trace(app, monkeypatch):
    store = app.extensions["movierec.store"]
    monkeypatch.setattr(store.current.catalogue, "search", lambda *a: 1 / 0)
    response = app.test_client().get("/movies?query=toy")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error; the service log has the details"}


def test_no_model_answers_503(registry, web_dir):
    from serve import create_app

    app = create_app(tracking_uri=registry.uri, model_name="no-such-model", poll_seconds=0, web_dir=web_dir)
    client = app.test_client()
    health = client.get("/health")
    assert health.status_code == 503
    assert "no model loaded" in health.get_json()["error"] and health.get_json()["last_error"]
    for response in (client.get("/recommend?user_id=1"), client.post("/recommend", json={"ratings": []}),
                     client.get("/movies?query=toy"), client.post("/predict", json={"user_id": 1, "movie_ids": [1]})):
        assert response.status_code == 503 and "no model" in response.get_json()["error"]
    assert json.loads(client.get("/openapi.json").data)["openapi"].startswith("3.")
