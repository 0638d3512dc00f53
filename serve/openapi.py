"""The OpenAPI 3.1 document, assembled from the route declarations themselves.

:meth:`ApiSpec.route` registers a Flask view *and* its operation from one declaration; the same
parameter and body schemas then validate each request (:mod:`serve.validation`). So the spec
cannot drift from the routes: there is no second copy of either.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, request

from serve.validation import parse_json_body, parse_parameters

# Schemas marked with these keys get the served model's method names / reason codes as `enum` in the
# document /openapi.json answers with (:func:`with_methods`); the static document leaves them open, so
# that a new method changes neither web/openapi.json nor the page's generated types.
METHODS_MARK = "x-movierec-methods"
REASONS_MARK = "x-movierec-reason-codes"

ERROR_TEXT = {
    "400": "Malformed or invalid request; the message names the field",
    "403": "Not allowed from this address without the admin token",
    "404": "Unknown user",
    "413": "Request body over the size limit",
    "503": "No model loaded yet, or too busy (then with Retry-After)",
}


def _openapi_path(rule: str) -> str:
    """`/users/<user_id>/top-rated` -> `/users/{user_id}/top-rated`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    """A query parameter; an array is one comma-separated value (`genres=Comedy,Drama`)."""
    param = {"name": name, "in": "query", "required": required, "description": description, "schema": schema}
    if schema.get("type") == "array":
        param.update(style="form", explode=False)
    return param


def path(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


class ApiSpec:
    """Operations and component schemas of one API, in the order they were declared."""

    def __init__(self, title: str, version: str, description: str) -> None:
        self.info = {"title": title, "version": version, "description": description}
        self.schemas: dict[str, dict] = {"Error": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "string", "description": "What is wrong, naming the field"}},
        }}
        self.paths: dict[str, dict] = {}

    def schema(self, name: str, schema: dict) -> dict:
        """Register a component schema; returns it for use in validation and in other schemas."""
        self.schemas[name] = schema
        return schema

    @staticmethod
    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def route(self, blueprint: Blueprint, rule: str, method: str, *, summary: str, response: str,
              description: str = "", tags: tuple[str, ...] = (), parameters: tuple[dict, ...] = (),
              body: str | None = None, errors: tuple[str, ...] = ("400",),
              media_type: str = "application/json") -> Callable:
        """Declare `method rule`: the view gets validated parameters as keyword arguments
        (and the validated JSON body as `body`); `response` names the 200 schema.

        Every operation may answer 503 (no model yet, or too busy: see :mod:`serve.operations`), and 413 (a
        request body over the limit, whatever the route).
        """

        def decorate(view: Callable) -> Callable:
            # 400: an unknown query parameter, even with none declared; 413: a body over the limit on any route
            # (serve/buffering.py reads every body before routing)
            codes = sorted(set(errors) | {"400", "413", "503"})
            operation: dict[str, Any] = {
                "operationId": f"{view.__name__}", "summary": summary, "tags": list(tags),
                "responses": {"200": {"description": "OK", "content": {
                    media_type: {"schema": self.ref(response)}}}},
            }
            if description:
                operation["description"] = description
            if parameters:
                operation["parameters"] = list(parameters)
            if body:
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": self.ref(body)}}}
            for code in codes:
                operation["responses"][code] = {"description": ERROR_TEXT[code], "content": {
                    "application/json": {"schema": self.ref("Error")}}}
            self.paths.setdefault(_openapi_path(rule), {})[method.lower()] = operation

            @wraps(view)
            def handle(**path_values):
                args = parse_parameters(list(parameters), request.args.to_dict(flat=False), "query")
                args.update(parse_parameters(list(parameters), {k: [v] for k, v in path_values.items()}, "path"))
                if body:
                    args["body"] = parse_json_body(request.get_data(cache=False), self.schemas[body])
                return view(**args)

            blueprint.add_url_rule(rule, view.__name__, handle, methods=[method])
            return view

        return decorate

    def document(self) -> dict:
        return {"openapi": "3.1.0", "info": self.info, "paths": self.paths,
                "components": {"schemas": self.schemas}}


def _walk(node: Any, visit: Callable[[dict], None]) -> None:
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def with_methods(document: dict, methods: list[str], reason_codes: list[str]) -> dict:
    """A copy of `document` whose method and reason-code schemas list these values as `enum`."""
    doc = json.loads(json.dumps(document))

    def visit(node: dict) -> None:
        if node.get(METHODS_MARK):
            node["enum"] = list(methods)
        if node.get(REASONS_MARK):
            node["enum"] = list(reason_codes)

    _walk(doc, visit)
    return doc


def without_methods(document: dict) -> dict:
    """The static document back from :func:`with_methods`' result (what web/openapi.json holds)."""
    doc = json.loads(json.dumps(document))

    def visit(node: dict) -> None:
        if node.get(METHODS_MARK) or node.get(REASONS_MARK):
            node.pop("enum", None)

    _walk(doc, visit)
    return doc
