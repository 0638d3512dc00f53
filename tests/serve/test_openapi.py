"""The OpenAPI document is valid and describes exactly the routes the app has."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

WEB_ENDPOINTS = {"web.index", "web.icon", "web.next_static"}


def test_document_validates(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())


def _rules(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in WEB_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_route_is_documented_and_vice_versa(app, client):
    doc = client.get("/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert _rules(app) == documented


def test_only_the_web_page_routes_are_left_out(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    documented_blueprints = ("api.", "operations.")
    assert {e for e in endpoints if not e.startswith(documented_blueprints)} == WEB_ENDPOINTS


def test_documented_limits_are_the_enforced_ones(client):
    doc = client.get("/openapi.json").get_json()
    k = next(p for p in doc["paths"]["/recommend"]["get"]["parameters"] if p["name"] == "k")["schema"]
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 100, 10)
    assert client.get("/recommend?user_id=1&k=100").status_code == 200
    assert client.get("/recommend?user_id=1&k=101").status_code == 400
    rating = doc["components"]["schemas"]["Rating"]["properties"]["rating"]
    assert (rating["minimum"], rating["maximum"], rating["multipleOf"]) == (0.5, 5.0, 0.5)
