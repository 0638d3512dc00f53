"""Filters and `because` on both recommend endpoints, GET and POST, against the small real model.

The test catalogue: movie ids 10..300; even indices are Drama|Thriller, odd ones Comedy; index i
came out in 1990 + i, except index 3 (movie 40), whose year is unknown.
"""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from movierec.serving.movie_filter import MovieFilter

ENDPOINTS = {"embedding": "/recommend", "user_user": "/recommend-simple"}
NEW_USER = [{"movie_id": 10, "rating": 5.0}, {"movie_id": 30, "rating": 4.5}, {"movie_id": 20, "rating": 1.0}]
FILTERS = [
    {"genres": ["Comedy"]},
    {"genres": ["thriller", "Comedy"]},
    {"exclude_genres": ["Drama"]},
    {"year_min": 2005},
    {"year_max": 2000},
    {"year_min": 1995, "year_max": 2010},
    {"min_ratings": 15},
    {"genres": ["Drama"], "exclude_genres": ["Comedy"], "year_min": 1992, "min_ratings": 10},
]


def _query(fields: dict) -> str:
    return "&".join(f"{name}={','.join(v) if isinstance(v, list) else v}" for name, v in fields.items())


def _call(client, method: str, verb: str, fields: dict, k: int = 5, user_id: int = 3):
    if verb == "GET":
        extra = _query(fields)
        return client.get(f"{ENDPOINTS[method]}?user_id={user_id}&k={k}" + (f"&{extra}" if extra else ""))
    return client.post(ENDPOINTS[method], json={"ratings": NEW_USER, "k": k, **fields})


def _profile(bundle, verb: str, user_id: int = 3):
    if verb == "GET":
        return bundle.profile_for_user(user_id)
    return bundle.profile_from_ratings([r["movie_id"] for r in NEW_USER], [r["rating"] for r in NEW_USER])[0]


def _passes(item: dict, n_ratings: int, fields: dict) -> bool:
    genres = {g.casefold() for g in item["genres"]}
    year = item["year"]
    return ((not fields.get("genres") or bool(genres & {g.casefold() for g in fields["genres"]}))
            and not genres & {g.casefold() for g in fields.get("exclude_genres", [])}
            and ("year_min" not in fields or (year is not None and year >= fields["year_min"]))
            and ("year_max" not in fields or (year is not None and year <= fields["year_max"]))
            and n_ratings >= fields.get("min_ratings", 0))


@pytest.mark.parametrize("verb", ["GET", "POST"])
@pytest.mark.parametrize("method", ENDPOINTS)
@pytest.mark.parametrize("fields", FILTERS, ids=_query)
def test_every_filter_on_every_endpoint_is_the_bundles_filtered_ranking(client, registry, method, verb, fields):
    response = _call(client, method, verb, fields)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    bundle = registry.bundle
    ranked = bundle.recommend(method, _profile(bundle, verb), 5, movie_filter=MovieFilter(**fields))
    served = [r["movie_id"] for r in body["recommendations"]]
    assert served == bundle.vocab.movies.id_of(ranked.movie_idx).tolist()
    assert body["n_candidates"] == ranked.n_candidates
    n_ratings = dict(zip(bundle.movies["movie_id"], bundle.movies["n_ratings"]))
    assert all(_passes(r, n_ratings[r["movie_id"]], fields) for r in body["recommendations"]), body
    assert len(served) == min(5, body["n_candidates"])
    assert ("note" in body) == (body["n_candidates"] < 5)


@pytest.mark.parametrize("verb", ["GET", "POST"])
@pytest.mark.parametrize("method", ENDPOINTS)
def test_a_filter_that_removes_the_top_candidates_still_gives_exactly_k(client, method, verb):
    top = _call(client, method, verb, {}).get_json()["recommendations"]
    dropped = top[0]["genres"][0]
    body = _call(client, method, verb, {"exclude_genres": [dropped]}).get_json()
    assert len(body["recommendations"]) == 5 and body["n_candidates"] >= 5 and "note" not in body
    assert not any(dropped in r["genres"] for r in body["recommendations"])
    assert top[0]["movie_id"] not in {r["movie_id"] for r in body["recommendations"]}


@pytest.mark.parametrize("verb", ["GET", "POST"])
@pytest.mark.parametrize("method", ENDPOINTS)
def test_fewer_matches_than_k_gives_all_of_them_and_says_so(client, registry, method, verb):
    body = _call(client, method, verb, {"year_min": 2015}, k=10).get_json()   # 5 movies, 2015-2019
    n = body["n_candidates"]
    rated = registry.rated(3) if verb == "GET" else {r["movie_id"] for r in NEW_USER}
    assert n == len({260, 270, 280, 290, 300} - rated) < 10
    assert len(body["recommendations"]) == n
    assert body["note"] == f"only {n} unrated movie{'s' if n != 1 else ''} match{'es' if n == 1 else ''} the filters"


def test_no_match_at_all_is_an_empty_list_not_an_error(client):
    body = client.get("/recommend?user_id=3&genres=Comedy&exclude_genres=Comedy").get_json()
    assert body["recommendations"] == [] and body["n_candidates"] == 0
    assert body["note"] == "only 0 unrated movies match the filters"


def test_unknown_year_fails_a_year_filter(client):
    served = {r["movie_id"] for r in client.get("/recommend?user_id=5&k=100&year_max=2100").get_json()[
        "recommendations"]}
    assert 40 not in served and served


def test_fewer_than_k_unrated_movies_without_filters_says_so(client, registry):
    body = client.get("/recommend-simple?user_id=3&k=100").get_json()
    n = 30 - len(registry.rated(3))
    assert body["n_candidates"] == n == len(body["recommendations"])
    assert body["note"] == f"only {n} unrated movies left to recommend"


def test_an_empty_genre_list_means_no_genre_filter(client):
    assert (client.get("/recommend?user_id=3&genres=").get_json()["recommendations"]
            == client.get("/recommend?user_id=3").get_json()["recommendations"])
    assert (client.post("/recommend", json={"ratings": NEW_USER, "genres": []}).get_json()["recommendations"]
            == client.post("/recommend", json={"ratings": NEW_USER}).get_json()["recommendations"])


@pytest.mark.parametrize("url,message", [
    ("/recommend?user_id=3&year_min=abc", "year_min: must be an integer, got 'abc'"),
    ("/recommend?user_id=3&year_max=1999.5", "year_max: must be an integer"),
    ("/recommend?user_id=3&min_ratings=-1", "min_ratings: must be between 0 and"),
    ("/recommend?user_id=3&min_ratings=many", "min_ratings: must be an integer"),
    ("/recommend?user_id=3&year_min=2001&year_max=2000", "year_min: must be <= year_max, got 2001 > 2000"),
    ("/recommend?user_id=3&genres=Comedy,Westerns", "genres: unknown genre 'Westerns'; known genres: Comedy"),
    ("/recommend-simple?user_id=3&exclude_genres=Noir", "exclude_genres: unknown genre 'Noir'"),
    ("/recommend-simple?user_id=3&genres=Comedy,,Drama", "genres[1]: must have at least 1 character(s)"),
    ("/recommend-simple?user_id=3&genres=Comedy&genres=Drama", "genres: give it once, got 2 values"),
    ("/recommend-simple?user_id=3&year=1990", "year: unknown query parameter"),
])
def test_invalid_get_filters_are_400_naming_the_field(client, url, message):
    response = client.get(url)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message), response.get_json()


@pytest.mark.parametrize("fields,message", [
    ({"year_min": "1990"}, "year_min: must be an integer, got '1990'"),
    ({"year_min": 2001, "year_max": 2000}, "year_min: must be <= year_max"),
    ({"min_ratings": -5}, "min_ratings: must be between 0 and"),
    ({"genres": "Comedy"}, "genres: must be an array"),
    ({"genres": ["Westerns"]}, "genres: unknown genre 'Westerns'"),
    ({"exclude_genres": ["Comedy", 3]}, "exclude_genres[1]: must be a string"),
    ({"genre": ["Comedy"]}, "genre: unknown field"),
])
@pytest.mark.parametrize("method", ENDPOINTS)
def test_invalid_post_filters_are_400_naming_the_field(client, method, fields, message):
    response = client.post(ENDPOINTS[method], json={"ratings": NEW_USER, **fields})
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message), response.get_json()


# -- because ----------------------------------------------------------------------------------------

def _codes(client) -> set[str]:
    doc = client.get("/openapi.json").get_json()
    return set(doc["components"]["schemas"]["Because"]["properties"]["code"]["enum"])


@pytest.mark.parametrize("verb", ["GET", "POST"])
@pytest.mark.parametrize("method", ENDPOINTS)
def test_every_recommendation_says_because_with_a_documented_code(client, method, verb):
    body = _call(client, method, verb, {"genres": ["Comedy"]}, k=10).get_json()
    assert body["recommendations"]
    for item in body["recommendations"]:
        assert item["because"]["code"] in _codes(client) and item["because"]["text"]


def test_embedding_because_names_movies_the_user_rated_highly(client, registry):
    body = client.get("/recommend?user_id=3&k=10").get_json()
    mine = registry.ratings[registry.ratings["user_id"] == 3].set_index("movie_id")["rating"]
    named = [b for b in (r["because"] for r in body["recommendations"]) if b["code"] == "similar_to_liked"]
    assert named
    for because in named:
        assert 1 <= len(because["movie_ids"]) <= 2
        assert all(mine[m] >= min(4.0, mine.max()) for m in because["movie_ids"])


def test_a_new_user_with_too_few_ratings_gets_the_labelled_fallback(client):
    body = client.post("/recommend", json={"ratings": NEW_USER[:2], "k": 3}).get_json()
    assert [r["because"]["code"] for r in body["recommendations"]] == ["popular_fallback"] * 3
    body = client.post("/recommend", json={"ratings": [], "k": 3}).get_json()
    assert {r["because"]["code"] for r in body["recommendations"]} == {"popular_fallback"}


def test_user_user_because_on_a_filtered_list(client):
    body = client.get("/recommend-simple?user_id=1&k=5&genres=Comedy").get_json()
    for item in body["recommendations"]:
        because = item["because"]
        assert because["code"] in {"similar_users", "no_similar_user_rated"}
        if because["code"] == "similar_users":
            assert because["n_users"] >= 1 and 0.5 <= because["mean_rating"] <= 5.0


# -- the filter options and the spec ------------------------------------------------------------------

def test_filters_endpoint_lists_genres_and_years(client):
    body = client.get("/filters").get_json()
    assert body["model_version"] == "1"
    assert body["genres"] == [{"name": "Comedy", "n_movies": 15}, {"name": "Drama", "n_movies": 15},
                              {"name": "Thriller", "n_movies": 15}]
    assert (body["year_min"], body["year_max"]) == (1990, 2019)


def _validator(client, name: str) -> Draft202012Validator:
    doc = client.get("/openapi.json").get_json()
    registry = Registry().with_resource("urn:api", Resource.from_contents(doc, default_specification=DRAFT202012))
    schema = {"$ref": f"urn:api#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize("verb", ["GET", "POST"])
@pytest.mark.parametrize("method", ENDPOINTS)
def test_responses_match_the_documented_schema(client, method, verb):
    validator = _validator(client, "RecommendResponse")
    for fields in ({}, {"year_min": 2015}, {"genres": ["Comedy"], "min_ratings": 5}):
        validator.validate(_call(client, method, verb, fields, k=10).get_json())
    _validator(client, "FiltersResponse").validate(client.get("/filters").get_json())


def test_filter_parameters_are_documented_on_both_get_routes_and_both_bodies(client):
    doc = client.get("/openapi.json").get_json()
    names = ["genres", "exclude_genres", "year_min", "year_max", "min_ratings"]
    for path in ENDPOINTS.values():
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert set(names) <= set(params)
        assert (params["genres"]["style"], params["genres"]["explode"]) == ("form", False)
        assert doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] \
            == "#/components/schemas/RecommendRequest"
    assert set(names) <= set(doc["components"]["schemas"]["RecommendRequest"]["properties"])
    response = doc["components"]["schemas"]["RecommendResponse"]
    assert {"n_candidates", "note"} <= set(response["properties"]) and "n_candidates" in response["required"]
