"""The API's data shapes, registered once in the spec; requests are validated against them."""

from __future__ import annotations

from serve.openapi import METHODS_MARK, REASONS_MARK, ApiSpec

MAX_RATINGS = 1000
MAX_K = 100

spec = ApiSpec(
    title="movierec",
    version="1",
    description="MovieLens recommendations from the registered champion model, by any of its methods "
                "(`GET /methods` lists them with labels): `/recommend` answers with the embedding blend "
                "and `/recommend-simple` with user-user Pearson CF unless `method` names another, for "
                "known users (GET, by MovieLens userId) or new users (POST, from their ratings). "
                "Every error is `{\"error\": ...}`.",
)

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
USER_ID = {**ID, "description": "MovieLens userId"}
MOVIE_ID = {**ID, "description": "MovieLens movieId"}
K = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}
LIMIT_10 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
LIMIT_20 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
# The method names and reason codes are the served model's (movierec.methods): /openapi.json lists them as
# `enum` at runtime (serve.openapi.with_methods); the committed web/openapi.json leaves them open.
METHOD = {"type": "string", "minLength": 1, "maxLength": 64, METHODS_MARK: True,
          "description": "A method of the served model (`GET /methods`)"}
RATING_VALUE = {"type": "number", "minimum": 0.5, "maximum": 5.0, "multipleOf": 0.5}
RATINGS = {
    "type": "array", "maxItems": MAX_RATINGS,
    "description": f"A new user's ratings (at most {MAX_RATINGS}); a movie given twice keeps its last rating",
    "items": spec.schema("Rating", {
        "type": "object", "required": ["movie_id", "rating"], "additionalProperties": False,
        "properties": {"movie_id": MOVIE_ID, "rating": RATING_VALUE},
    }),
}
NULLABLE_YEAR = {"type": ["integer", "null"]}
GENRES = {"type": "array", "items": {"type": "string"}}
MOVIE_FIELDS = {"movie_id": {"type": "integer"}, "title": {"type": "string"}, "year": NULLABLE_YEAR,
                "genres": GENRES}

# Filters: the same names and schemas in the GET query and the POST body; applied before the top-k cut.
GENRE_NAMES = {"type": "array", "maxItems": 50, "items": {"type": "string", "minLength": 1, "maxLength": 100}}
FILTER_YEAR = {"type": "integer", "minimum": 0, "maximum": 9999}
FILTERS = {
    "genres": {**GENRE_NAMES, "description": "Only movies with any of these genres (case-insensitive; "
                                             "see `/filters`); in a query, comma-separated"},
    "exclude_genres": {**GENRE_NAMES, "description": "No movie with any of these genres"},
    "year_min": {**FILTER_YEAR, "description": "Only movies released in or after this year "
                                               "(a movie of unknown year is left out)"},
    "year_max": {**FILTER_YEAR, "description": "Only movies released in or before this year "
                                               "(a movie of unknown year is left out)"},
    "min_ratings": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1,
                    "description": "Only movies with at least this many ratings in the training data"},
}
spec.schema("RecommendRequest", {
    "type": "object", "required": ["ratings"], "additionalProperties": False,
    "properties": {"ratings": RATINGS, "k": K, "method": METHOD | {"description": "Which method ranks "
                   "(`GET /methods`); default: the path's own (`/recommend`: embedding, `/recommend-simple`: "
                   "user_user)"}, **FILTERS},
})
spec.schema("PredictRequest", {
    "type": "object", "required": ["user_id", "movie_ids"], "additionalProperties": False,
    "properties": {"user_id": USER_ID, "movie_ids": {"type": "array", "minItems": 1, "maxItems": MAX_RATINGS,
                                                     "items": MOVIE_ID},
                   "method": METHOD | {"default": "embedding"}},
})
spec.schema("Because", {
    "type": "object", "required": ["code", "text"],
    "description": "Why it was recommended: a code of the method that ranked it (`GET /methods` lists each "
                   "method's codes and what they mean) and a line of text.",
    "properties": {"code": {"type": "string", REASONS_MARK: True},
                   "text": {"type": "string", "description": "One line for people"},
                   "movie_ids": {"type": "array", "items": {"type": "integer"},
                                 "description": "`similar_to_liked`: the liked movies it is near"},
                   "n_users": {"type": "integer", "description": "`similar_users`: how many similar users "
                               "rated it; `well_rated`: how many people rated it"},
                   "mean_rating": {"type": ["number", "null"], "description": "their mean rating"}},
})
spec.schema("Recommendation", {
    "type": "object", "required": ["movie_id", "title", "year", "genres", "score", "predicted_rating", "because"],
    "properties": {**MOVIE_FIELDS, "score": {"type": "number", "description": "Ranking score (higher first)"},
                   "predicted_rating": {"type": "number", "minimum": 0.5, "maximum": 5.0},
                   "because": spec.ref("Because")},
})
spec.schema("RecommendResponse", {
    "type": "object", "required": ["method", "model_version", "recommendations", "n_candidates"],
    "properties": {"user_id": {"type": "integer", "description": "GET only"},
                   "method": METHOD,
                   "model_version": {"type": "string"},
                   "recommendations": {"type": "array", "items": spec.ref("Recommendation"),
                                       "description": "Exactly `k` items when `n_candidates` >= `k`"},
                   "n_candidates": {"type": "integer", "description": "How many movies could be recommended: "
                                    "not rated by the user and passing the filters"},
                   "note": {"type": "string", "description": "Only when fewer than `k` movies are candidates, "
                            "e.g. \"only 3 unrated movies match the filters\""},
                   "ignored_movie_ids": {"type": "array", "items": {"type": "integer"},
                                         "description": "POST only: movie ids the model does not know"}},
})
spec.schema("PredictResponse", {
    "type": "object", "required": ["user_id", "method", "model_version", "predictions", "ignored_movie_ids"],
    "properties": {"user_id": {"type": "integer"}, "method": {"type": "string"}, "model_version": {"type": "string"},
                   "predictions": {"type": "array", "items": {
                       "type": "object", "required": ["movie_id", "title", "predicted_rating"],
                       "properties": {"movie_id": {"type": "integer"}, "title": {"type": "string"},
                                      "predicted_rating": {"type": "number"}}}},
                   "ignored_movie_ids": {"type": "array", "items": {"type": "integer"}}},
})
spec.schema("MovieSearchResponse", {
    "type": "object", "required": ["query", "movies", "model_version"],
    "properties": {"query": {"type": "string"}, "model_version": {"type": "string"},
                   "movies": {"type": "array", "items": {
                       "type": "object", "required": [*MOVIE_FIELDS, "n_ratings"],
                       "properties": {**MOVIE_FIELDS, "n_ratings": {"type": "integer"}}}}},
})
spec.schema("TopRatedResponse", {
    "type": "object", "required": ["user_id", "movies", "model_version"],
    "properties": {"user_id": {"type": "integer"}, "model_version": {"type": "string"},
                   "movies": {"type": "array", "items": {
                       "type": "object", "required": [*MOVIE_FIELDS, "rating"],
                       "properties": {**MOVIE_FIELDS, "rating": {"type": "number"}}}}},
})
spec.schema("FiltersResponse", {
    "type": "object", "required": ["model_version", "genres", "year_min", "year_max"],
    "properties": {"model_version": {"type": "string"},
                   "genres": {"type": "array", "description": "Every genre, by name", "items": {
                       "type": "object", "required": ["name", "n_movies"],
                       "properties": {"name": {"type": "string"}, "n_movies": {"type": "integer"}}}},
                   "year_min": NULLABLE_YEAR, "year_max": NULLABLE_YEAR},
})
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
spec.schema("Health", {
    "type": "object", "required": ["status", "model_name", "model_alias"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "model_name": {"type": "string"},
                   "model_alias": {"type": "string"}, "model_version": {"type": "string"},
                   "run_id": {"type": "string"}, "loaded_at": {"type": "string", "format": "date-time"},
                   "n_users": {"type": "integer"}, "n_movies": {"type": "integer"},
                   "git_commit": {"type": "string", "description": "Commit that produced the model"},
                   "git_dirty": {"type": "string", "description": "'true' if the tree had uncommitted changes"},
                   "data_fingerprint": {"type": "string", "description": "Hash of the data stages' outputs"},
                   "last_checked": NULLABLE_TIME | {"description": "When the service last asked the registry for "
                                                                   "the alias (also while it is down)"},
                   "last_ok": NULLABLE_TIME | {"description": "When the registry last answered"},
                   "last_error": {"type": ["string", "null"],
                                  "description": "Why the last check or load failed (the old model keeps serving); "
                                                 "null once the registry answers and the alias's version is "
                                                 "served"}},
})
spec.schema("ReloadResponse", {
    "type": "object", "required": ["changed", "model_version"],
    "properties": {"changed": {"type": "boolean"}, "model_version": {"type": "string"}},
})
spec.schema("MethodsResponse", {
    "type": "object", "required": ["model_version", "methods"],
    "properties": {"model_version": {"type": "string"},
                   "methods": {"type": "array", "description": "The served model's methods, in configured order",
                               "items": {
                       "type": "object", "required": ["name", "label", "description", "reasons"],
                       "properties": {"name": METHOD, "label": {"type": "string", "description": "A short title"},
                                      "description": {"type": "string", "description": "What it is, one line"},
                                      "path": {"type": "string", "description": "The path that answers with "
                                               "it by default (others: `?method=`)"},
                                      "reasons": {"type": "object", "additionalProperties": {"type": "string"},
                                                  "description": "Its `because` codes and what each means"}}}}},
})
spec.schema("OpenApiDocument", {"type": "object", "description": "This document"})
