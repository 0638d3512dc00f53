"""Every method of the served model through `?method=` / `"method"` on the existing paths, GET /methods,
and the method names and reason codes in /openapi.json - for whatever methods the bundle holds."""

from __future__ import annotations

import pytest
from serve_testdata import USER_IDS

from movierec.methods import available_methods

PATHS = ("/recommend", "/recommend-simple")


def test_the_served_model_holds_every_registered_method(registry):
    assert registry.bundle.method_names[:2] == ["embedding", "user_user"]
    assert set(registry.bundle.method_names) == set(available_methods())


@pytest.mark.parametrize("method", available_methods())
@pytest.mark.parametrize("path", PATHS)
def test_method_picks_the_ranking_on_either_path(client, registry, method, path):
    bundle = registry.bundle
    body = client.get(f"{path}?user_id=3&k=5&method={method}").get_json()
    expected = bundle.vocab.movies.id_of(bundle.recommend(method, bundle.profile_for_user(3), 5).movie_idx)
    assert body["method"] == method and [r["movie_id"] for r in body["recommendations"]] == expected.tolist()
    assert all(r["because"]["code"] in bundle.method(method).reasons for r in body["recommendations"])
    ratings = [{"movie_id": 10, "rating": 5.0}, {"movie_id": 20, "rating": 4.0}, {"movie_id": 290, "rating": 1.0}]
    posted = client.post(path, json={"ratings": ratings, "k": 4, "method": method}).get_json()
    profile, _ = bundle.profile_from_ratings([10, 20, 290], [5.0, 4.0, 1.0])
    expected = bundle.vocab.movies.id_of(bundle.recommend(method, profile, 4).movie_idx)
    assert posted["method"] == method and [r["movie_id"] for r in posted["recommendations"]] == expected.tolist()
    predicted = client.post("/predict", json={"user_id": int(USER_IDS[0]), "movie_ids": [10, 20], "method": method})
    assert predicted.status_code == 200 and predicted.get_json()["method"] == method


def test_without_method_each_path_keeps_its_own(client):
    assert client.get("/recommend?user_id=3&k=2").get_json()["method"] == "embedding"
    assert client.get("/recommend-simple?user_id=3&k=2").get_json()["method"] == "user_user"
    ratings = [{"movie_id": 10, "rating": 5.0}]
    assert client.post("/recommend-simple", json={"ratings": ratings}).get_json()["method"] == "user_user"


def test_an_unknown_method_is_a_400_naming_the_served_ones(client, registry):
    for response in (client.get("/recommend?user_id=3&method=nope"),
                     client.post("/recommend", json={"ratings": [], "method": "nope"}),
                     client.post("/predict", json={"user_id": 3, "movie_ids": [10], "method": "nope"})):
        assert response.status_code == 400
        assert response.get_json()["error"] == f"method: this model holds {registry.bundle.method_names}, not 'nope'"


def test_methods_lists_names_labels_and_reason_codes(client, registry):
    body = client.get("/methods").get_json()
    assert [m["name"] for m in body["methods"]] == registry.bundle.method_names
    for item in body["methods"]:
        method = registry.bundle.method(item["name"])
        assert (item["label"], item["description"], item["reasons"]) == (method.label, method.description,
                                                                          method.reasons)
    paths = {m["name"]: m.get("path") for m in body["methods"]}
    assert paths["embedding"] == "/recommend" and paths["user_user"] == "/recommend-simple"


def test_openapi_lists_the_served_methods_and_codes(client, registry):
    doc = client.get("/openapi.json").get_json()
    method_param = next(p for p in doc["paths"]["/recommend"]["get"]["parameters"] if p["name"] == "method")
    assert method_param["schema"]["enum"] == registry.bundle.method_names
    assert doc["components"]["schemas"]["RecommendRequest"]["properties"]["method"]["enum"] == \
        registry.bundle.method_names
    codes = doc["components"]["schemas"]["Because"]["properties"]["code"]["enum"]
    assert set(codes) == {code for m in registry.bundle.methods.values() for code in m.reasons}
    assert "well_rated" in codes and "similar_users" in codes
