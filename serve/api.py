"""The JSON API: each route declared once, with its OpenAPI operation (:mod:`serve.openapi`).

Rankings and predictions come from the bundle only (`recommend`, `predict`, `profile_*`): the
service serves exactly what `evaluate` measured. A request reads the current model once.
"""

from __future__ import annotations

import hmac
import os
from datetime import UTC, datetime

import numpy as np
from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import Forbidden, NotFound, ServiceUnavailable

from serve.model_store import LoadedModel, ModelStore
from serve.openapi import path, query, with_methods
from serve.schemas import FILTERS, LIMIT_10, LIMIT_20, METHOD, USER_ID, K, spec
from serve.validation import InvalidRequest

ADMIN_TOKEN_ENV = "MOVIEREC_ADMIN_TOKEN"
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
STORE_KEY = "movierec.store"

api = Blueprint("api", __name__)
route = spec.route

USER_ID_QUERY = query("user_id", USER_ID, "A MovieLens userId the model was trained on", required=True)
K_QUERY = query("k", K, "How many recommendations (1-100)")
# the path's own method unless `method` names another of the served model's (`GET /methods`)
DEFAULT_METHOD = {"/recommend": "embedding", "/recommend-simple": "user_user"}
METHOD_QUERY = query("method", METHOD, "Which method ranks (`GET /methods`); default: the path's own")
FILTER_QUERIES = tuple(query(name, schema, str(schema["description"])) for name, schema in FILTERS.items())
FILTERED = ("Filters (`genres`, `exclude_genres`, `year_min`, `year_max`, `min_ratings`) apply before the "
            "top-k cut: the answer holds exactly `k` movies when `n_candidates` >= `k`, else all of them and "
            "a `note`. Each item says `because` (a reason code and a line of text).")
RECOMMEND_ERRORS = ("400", "404", "503")
NEW_USER_ERRORS = ("400", "413", "503")


def store() -> ModelStore:
    return current_app.extensions[STORE_KEY]


def _model() -> LoadedModel:
    model = store().current
    if model is None:
        raise ServiceUnavailable(f"no model loaded yet: {store().last_error or 'loading'}")
    return model


def _known_profile(model: LoadedModel, user_id: int):
    from movierec.serving.model_bundle import UnknownUser

    try:
        return model.bundle.profile_for_user(user_id)
    except UnknownUser:
        raise NotFound(f"user_id: unknown user {user_id}") from None


def _new_profile(model: LoadedModel, ratings: list[dict]):
    return model.bundle.profile_from_ratings([r["movie_id"] for r in ratings], [r["rating"] for r in ratings])


def _movie_filter(values: dict):
    """The request's filter fields (GET query or POST body) as a :class:`MovieFilter`."""
    from movierec.serving.movie_filter import MovieFilter

    try:
        return MovieFilter(**{name: values[name] for name in FILTERS if values.get(name) is not None})
    except ValueError as exc:  # the message names the field
        raise InvalidRequest(str(exc)) from None


def _note(n_candidates: int, k: int, movie_filter) -> str | None:
    if n_candidates >= k:
        return None
    movies = "unrated movie" if n_candidates == 1 else "unrated movies"
    if movie_filter.is_empty:
        return f"only {n_candidates} {movies} left to recommend"
    verb = "matches" if n_candidates == 1 else "match"
    return f"only {n_candidates} {movies} {verb} the filters"


def _check_method(model: LoadedModel, method: str) -> str:
    """`method` if the served model holds it, else 400 naming the ones it holds."""
    from movierec.serving.model_bundle import UnknownMethodRequest

    try:
        model.bundle.method(method)
    except UnknownMethodRequest as exc:
        raise InvalidRequest(str(exc)) from None
    return method


def _recommendations(model: LoadedModel, method: str, profile, k: int, values: dict) -> dict:
    """`recommendations`, `n_candidates` and, when fewer than `k` movies qualify, a `note`."""
    from movierec.serving.movie_filter import UnknownGenre

    _check_method(model, method)
    movie_filter = _movie_filter(values)
    try:
        ranked = model.bundle.recommend(method, profile, k, movie_filter=movie_filter)
    except UnknownGenre as exc:
        raise InvalidRequest(str(exc)) from None
    movie_ids = model.catalogue.movie_id[ranked.movie_idx]
    predicted, _ = model.bundle.predict(method, profile, movie_ids)
    reasons = model.bundle.explain(method, profile, ranked.movie_idx)
    items = []
    for idx, score, rating, because in zip(ranked.movie_idx, ranked.score, predicted, reasons):
        item = model.catalogue.row(idx)
        item["score"] = round(float(score), 5)
        item["predicted_rating"] = round(float(rating), 3)
        item["because"] = because
        items.append(item)
    out = {"recommendations": items, "n_candidates": int(ranked.n_candidates)}
    note = _note(ranked.n_candidates, k, movie_filter)
    if note is not None:
        out["note"] = note
    return out


def _known_user_response(method: str, user_id: int, k: int, filters: dict):
    model = _model()
    profile = _known_profile(model, user_id)
    return jsonify(user_id=user_id, method=method, model_version=model.version,
                   **_recommendations(model, method, profile, k, filters))


def _new_user_response(method: str, body: dict):
    model = _model()
    method = body.get("method") or method
    profile, ignored = _new_profile(model, body["ratings"])
    return jsonify(method=method, model_version=model.version, ignored_movie_ids=ignored,
                   **_recommendations(model, method, profile, body["k"], body))


# -- recommendations -----------------------------------------------------------------------------

BLEND = ("By default the embedding blend: a z-scored blend of an item-item model of co-rated movies and "
         "the choice and rating heads of learned taste vectors (`GET /methods`); `method` picks another. ")
SIMPLE = "By default user-user Pearson CF, ranked by neighbour support; `method` picks another. "


@route(api, "/recommend", "GET", summary="Recommendations for a known user (default: the embedding blend)",
       tags=("recommend",), parameters=(USER_ID_QUERY, K_QUERY, METHOD_QUERY, *FILTER_QUERIES),
       response="RecommendResponse", errors=RECOMMEND_ERRORS,
       description=BLEND + "Never a movie the user already rated. " + FILTERED)
def recommend_known(user_id: int, k: int, method: str | None = None, **filters):
    return _known_user_response(method or DEFAULT_METHOD["/recommend"], user_id, k, filters)


@route(api, "/recommend", "POST", summary="Recommendations for a new user from their ratings (default: the "
       "embedding blend, folded in)", tags=("recommend",), body="RecommendRequest", response="RecommendResponse",
       errors=NEW_USER_ERRORS, description=BLEND + FILTERED)
def recommend_new(body: dict):
    return _new_user_response(DEFAULT_METHOD["/recommend"], body)


@route(api, "/recommend-simple", "GET", summary="Recommendations for a known user (default: user-user "
       "Pearson)", tags=("recommend",), parameters=(USER_ID_QUERY, K_QUERY, METHOD_QUERY, *FILTER_QUERIES),
       response="RecommendResponse", errors=RECOMMEND_ERRORS, description=SIMPLE + FILTERED)
def recommend_simple_known(user_id: int, k: int, method: str | None = None, **filters):
    return _known_user_response(method or DEFAULT_METHOD["/recommend-simple"], user_id, k, filters)


@route(api, "/recommend-simple", "POST", summary="Recommendations for a new user from their ratings "
       "(default: user-user Pearson)", tags=("recommend",), body="RecommendRequest", response="RecommendResponse",
       errors=NEW_USER_ERRORS, description=SIMPLE + FILTERED)
def recommend_simple_new(body: dict):
    return _new_user_response(DEFAULT_METHOD["/recommend-simple"], body)


@route(api, "/methods", "GET", summary="The served model's methods: names, labels, what they are, reason codes",
       tags=("recommend",), response="MethodsResponse", errors=("503",))
def list_methods():
    model = _model()
    paths = {method: path for path, method in DEFAULT_METHOD.items()}
    methods = []
    for name, method in model.bundle.methods.items():
        item = {"name": name, "label": method.label, "description": method.description,
                "reasons": dict(method.reasons)}
        if name in paths:
            item["path"] = paths[name]
        methods.append(item)
    return jsonify(model_version=model.version, methods=methods)


@route(api, "/predict", "POST", summary="Predicted ratings of given movies for a known user",
       tags=("recommend",), body="PredictRequest", response="PredictResponse",
       errors=("400", "404", "413", "503"))
def predict(body: dict):
    model = _model()
    profile = _known_profile(model, body["user_id"])
    movie_ids = np.asarray(body["movie_ids"], dtype=np.int64)
    predicted, ignored = model.bundle.predict(_check_method(model, body["method"]), profile, movie_ids)
    idx = model.bundle.vocab.movies.lookup(movie_ids)
    known = idx >= 0
    predictions = [{"movie_id": int(mid), "title": model.catalogue.row(i)["title"],
                    "predicted_rating": round(float(r), 3)}
                   for mid, i, r in zip(movie_ids[known], idx[known], predicted)]
    return jsonify(user_id=body["user_id"], method=body["method"], model_version=model.version,
                   predictions=predictions, ignored_movie_ids=ignored)


# -- movies and users ----------------------------------------------------------------------------

@route(api, "/movies", "GET", summary="Search titles (case-insensitive substring), most rated first",
       tags=("movies",), response="MovieSearchResponse", errors=("400", "503"),
       parameters=(query("query", {"type": "string", "minLength": 1, "maxLength": 200}, "Part of a title",
                         required=True),
                   query("limit", LIMIT_20, "How many movies (1-100)")))
def search_movies(query: str, limit: int):
    model = _model()
    return jsonify(query=query, model_version=model.version, movies=model.catalogue.search(query.strip() or query,
                                                                                           limit))


@route(api, "/filters", "GET", summary="What the recommendation filters accept: genres and the year range",
       tags=("movies",), response="FiltersResponse", errors=("503",))
def filter_options():
    model = _model()
    attributes = model.bundle.attributes
    years = attributes.year[np.isfinite(attributes.year)]
    return jsonify(model_version=model.version,
                   genres=[{"name": name, "n_movies": n} for name, n in attributes.genre_counts().items()],
                   year_min=int(years.min()) if years.size else None,
                   year_max=int(years.max()) if years.size else None)


@route(api, "/users/<user_id>/top-rated", "GET", summary="A known user's highest-rated (train) movies",
       tags=("movies",), response="TopRatedResponse", errors=("400", "404", "503"),
       parameters=(path("user_id", USER_ID, "A MovieLens userId the model was trained on"),
                   query("limit", LIMIT_10, "How many movies (1-100)")))
def user_top_rated(user_id: int, limit: int):
    model = _model()
    profile = _known_profile(model, user_id)
    return jsonify(user_id=user_id, model_version=model.version,
                   movies=model.catalogue.top_rated(profile.user_idx, limit))


# -- operations ----------------------------------------------------------------------------------

def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


@route(api, "/health", "GET", summary="Which model is served; 503 while none is loaded", tags=("operations",),
       response="Health", errors=("503",))
def health():
    current, st = store().current, store()
    checks = dict(last_checked=_iso(st.last_checked), last_ok=_iso(st.last_ok), last_error=st.last_error)
    if current is None:
        return jsonify(error=f"no model loaded: {st.last_error or 'loading'}", status="unavailable",
                       model_name=st.name, model_alias=st.alias, **checks), 503
    return jsonify(status="ok", model_name=current.name, model_alias=current.alias,
                   model_version=current.version, run_id=current.run_id, loaded_at=_iso(current.loaded_at),
                   n_users=len(current.bundle.vocab.users), n_movies=len(current.bundle.vocab.movies),
                   **checks, **current.lineage)


def _admin_allowed() -> bool:
    token = os.environ.get(ADMIN_TOKEN_ENV)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and given and hmac.compare_digest(token.encode(), given.encode()):
        return True
    return request.remote_addr in LOOPBACK


@route(api, "/admin/reload", "POST", summary="Load the alias's version now if it moved (localhost or token)",
       tags=("operations",), response="ReloadResponse", errors=("403", "503"),
       description=f"Allowed from 127.0.0.1/::1, or with `Authorization: Bearer $"
                   f"{ADMIN_TOKEN_ENV}`. 503 when the load fails; the old model keeps serving.")
def admin_reload():
    if not _admin_allowed():
        raise Forbidden(f"admin routes answer only localhost, or a request carrying ${ADMIN_TOKEN_ENV}")
    st = store()
    changed = st.refresh()
    current = st.current
    if st.last_error is not None:
        serving = f"still serving version {current.version}" if current else "no model loaded"
        raise ServiceUnavailable(f"reload failed, {serving}: {st.last_error}")
    return jsonify(changed=changed, model_version=current.version if current else None)


@route(api, "/openapi.json", "GET", summary="This API as OpenAPI 3.1", tags=("operations",),
       response="OpenApiDocument", errors=())
def openapi_document():
    """The spec, with the served model's method names and reason codes as enums (none while no model is loaded)."""
    current = store().current
    if current is None:
        return jsonify(spec.document())
    methods = current.bundle.methods
    codes = sorted({code for method in methods.values() for code in method.reasons})
    return jsonify(with_methods(spec.document(), list(methods), codes))
