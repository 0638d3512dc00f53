"""The API's data shapes, registered once in the spec; requests are validated against them."""

from __future__ import annotations

from serve.openapi import ApiSpec

MAX_RATINGS = 1000
MAX_K = 100

spec = ApiSpec(
    title="movierec",
    version="1",
    description="MovieLens recommendations from the registered champion model: embedding CF "
                "(`/recommend`) and user-user Pearson CF (`/recommend-simple`), for known users "
                "(GET, by MovieLens userId) or new users (POST, from their ratings). "
                "Every error is `{\"error\": ...}`.",
)

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
USER_ID = {**ID, "description": "MovieLens userId"}
MOVIE_ID = {**ID, "description": "MovieLens movieId"}
K = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}
LIMIT_10 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
LIMIT_20 = {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
METHOD = {"type": "string", "enum": ["embedding", "user_user"], "default": "embedding"}
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

spec.schema("RecommendRequest", {
    "type": "object", "required": ["ratings"], "additionalProperties": False,
    "properties": {"ratings": RATINGS, "k": K},
})
spec.schema("PredictRequest", {
    "type": "object", "required": ["user_id", "movie_ids"], "additionalProperties": False,
    "properties": {"user_id": USER_ID, "movie_ids": {"type": "array", "minItems": 1, "maxItems": MAX_RATINGS,
                                                     "items": MOVIE_ID},
                   "method": METHOD},
})
spec.schema("Because", {
    "type": "object", "required": ["code", "text"],
    "properties": {"code": {"type": "string", "enum": ["similar_users", "popular"]}, "text": {"type": "string"},
                   "n_users": {"type": "integer"}, "mean_rating": {"type": ["number", "null"]}},
})
spec.schema("Recommendation", {
    "type": "object", "required": ["movie_id", "title", "year", "genres", "score", "predicted_rating"],
    "properties": {**MOVIE_FIELDS, "score": {"type": "number", "description": "Ranking score (higher first)"},
                   "predicted_rating": {"type": "number", "minimum": 0.5, "maximum": 5.0},
                   "because": spec.ref("Because")},
})
spec.schema("RecommendResponse", {
    "type": "object", "required": ["method", "model_version", "recommendations"],
    "properties": {"user_id": {"type": "integer", "description": "GET only"},
                   "method": {"type": "string", "enum": ["embedding", "user_user"]},
                   "model_version": {"type": "string"},
                   "recommendations": {"type": "array", "items": spec.ref("Recommendation")},
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
spec.schema("Health", {
    "type": "object", "required": ["status", "model_name", "model_alias"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "model_name": {"type": "string"},
                   "model_alias": {"type": "string"}, "model_version": {"type": "string"},
                   "run_id": {"type": "string"}, "loaded_at": {"type": "string", "format": "date-time"},
                   "n_users": {"type": "integer"}, "n_movies": {"type": "integer"},
                   "last_error": {"type": ["string", "null"],
                                  "description": "Last failed load (the old model keeps serving)"}},
})
spec.schema("ReloadResponse", {
    "type": "object", "required": ["changed", "model_version"],
    "properties": {"changed": {"type": "boolean"}, "model_version": {"type": "string"}},
})
spec.schema("OpenApiDocument", {"type": "object", "description": "This document"})
