"""Happy paths of every API endpoint against the small real model."""

from __future__ import annotations

import numpy as np
import pytest
from serve_testdata import MOVIE_IDS, UNKNOWN_MOVIE, USER_IDS

ENDPOINTS = {"embedding": "/recommend", "user_user": "/recommend-simple"}


@pytest.mark.parametrize("method", ENDPOINTS)
def test_known_user_gets_exactly_the_bundles_ranking(client, registry, method):
    response = client.get(f"{ENDPOINTS[method]}?user_id=3&k=5")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["user_id"], body["method"], body["model_version"]) == (3, method, "1")
    bundle = registry.bundle
    profile = bundle.profile_for_user(3)
    expected = bundle.vocab.movies.id_of(bundle.recommend(method, profile, 5).movie_idx).tolist()
    assert [r["movie_id"] for r in body["recommendations"]] == expected
    first = body["recommendations"][0]
    assert set(first) >= {"movie_id", "title", "genres", "year", "score", "predicted_rating"}
    assert 0.5 <= first["predicted_rating"] <= 5.0
    scores = [r["score"] for r in body["recommendations"]]
    assert scores == sorted(scores, reverse=True)


def test_k_defaults_to_10(client):
    assert len(client.get("/recommend?user_id=1").get_json()["recommendations"]) == 10


@pytest.mark.parametrize("method", ENDPOINTS)
def test_never_a_movie_the_user_already_rated(client, registry, method):
    for user_id in USER_IDS:
        body = client.get(f"{ENDPOINTS[method]}?user_id={user_id}&k=100").get_json()
        served = {r["movie_id"] for r in body["recommendations"]}
        rated = registry.rated(int(user_id))
        assert not served & rated, f"user {user_id} got already-rated {served & rated}"
        assert len(served) == len(MOVIE_IDS) - len(rated)  # everything else, each once


def test_user_user_explains_with_similar_users(client):
    body = client.get("/recommend-simple?user_id=1&k=3").get_json()
    because = [r["because"] for r in body["recommendations"] if "because" in r]
    assert because, body
    assert because[0]["code"] == "similar_users"
    assert because[0]["n_users"] >= 1 and 0.5 <= because[0]["mean_rating"] <= 5.0
    assert f"{because[0]['n_users']} similar user" in because[0]["text"]


def test_embedding_explains_with_liked_movies(client, registry):
    body = client.get("/recommend?user_id=1&k=3").get_json()
    because = [r["because"] for r in body["recommendations"]]
    assert len(because) == 3 and all(b["code"] in {"similar_to_liked", "taste_profile"} for b in because)
    liked = [b for b in because if b["code"] == "similar_to_liked"]
    assert liked and set(liked[0]["movie_ids"]) <= registry.rated(1)
    assert liked[0]["text"].startswith("because you liked ")


@pytest.mark.parametrize("method", ENDPOINTS)
def test_new_user_fold_in(client, registry, method):
    ratings = [{"movie_id": 10, "rating": 5.0}, {"movie_id": 20, "rating": 4.5}, {"movie_id": 30, "rating": 1},
               {"movie_id": UNKNOWN_MOVIE, "rating": 3.0}]
    response = client.post(ENDPOINTS[method], json={"ratings": ratings, "k": 4})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ignored_movie_ids"] == [UNKNOWN_MOVIE]
    assert body["method"] == method and body["model_version"] == "1" and "user_id" not in body
    served = [r["movie_id"] for r in body["recommendations"]]
    assert len(served) == 4 and not set(served) & {10, 20, 30}
    bundle = registry.bundle
    profile, _ = bundle.profile_from_ratings([10, 20, 30, UNKNOWN_MOVIE], [5.0, 4.5, 1.0, 3.0])
    assert profile.user_idx is None
    assert served == bundle.vocab.movies.id_of(bundle.recommend(method, profile, 4).movie_idx).tolist()


def test_new_user_without_ratings_still_gets_recommendations(client):
    body = client.post("/recommend", json={"ratings": []}).get_json()
    assert len(body["recommendations"]) == 10 and body["ignored_movie_ids"] == []


@pytest.mark.parametrize("method", ENDPOINTS)
def test_predict(client, registry, method):
    response = client.post("/predict", json={"user_id": 5, "movie_ids": [30, UNKNOWN_MOVIE, 10], "method": method})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ignored_movie_ids"] == [UNKNOWN_MOVIE] and body["model_version"] == "1"
    assert [p["movie_id"] for p in body["predictions"]] == [30, 10]
    expected, _ = registry.bundle.predict(method, registry.bundle.profile_for_user(5), [30, 10])
    assert [p["predicted_rating"] for p in body["predictions"]] == pytest.approx(expected, abs=1e-3)


def test_predict_defaults_to_embedding(client):
    assert client.post("/predict", json={"user_id": 5, "movie_ids": [10]}).get_json()["method"] == "embedding"


def test_movies_search_ranks_by_popularity(client, registry):
    body = client.get("/movies?query=TOY&limit=20").get_json()
    titles = [m["title"] for m in body["movies"]]
    assert titles and all("toy" in t.lower() for t in titles)
    counts = [m["n_ratings"] for m in body["movies"]]
    assert counts == sorted(counts, reverse=True)
    assert set(body["movies"][0]) == {"movie_id", "title", "year", "genres", "n_ratings"}
    assert len(client.get("/movies?query=movie&limit=2").get_json()["movies"]) == 2
    assert client.get("/movies?query=no-such-title").get_json()["movies"] == []


def test_missing_year_is_null(client):
    movies = client.get("/movies?query=movie&limit=100").get_json()["movies"]
    assert any(m["year"] is None for m in movies) and any(isinstance(m["year"], int) for m in movies)


def test_user_top_rated(client, registry):
    body = client.get("/users/7/top-rated?limit=3").get_json()
    assert body["user_id"] == 7 and len(body["movies"]) == 3
    mine = registry.ratings[registry.ratings["user_id"] == 7]
    assert [m["rating"] for m in body["movies"]] == sorted(mine["rating"], reverse=True)[:3]
    assert {m["movie_id"] for m in body["movies"]} <= set(mine["movie_id"])
    assert set(body["movies"][0]) == {"movie_id", "title", "year", "genres", "rating"}


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["model_name"] == "movierec" and body["model_version"] == "1"
    assert len(body["run_id"]) == 32 and body["last_error"] is None


def test_no_cors_and_nosniff(client):
    response = client.get("/health", headers={"Origin": "https://evil.example"})
    assert not any(h.lower().startswith("access-control-") for h, _ in response.headers)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_scores_are_finite_json_numbers(client):
    body = client.get("/recommend-simple?user_id=9&k=30").get_json()
    assert np.all(np.isfinite([r["score"] for r in body["recommendations"]]))
