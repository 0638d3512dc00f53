"""The web page: the Next.js static export in `web/out`, served at `/` beside the API.

API routes are matched first (these rules cover only `/`, `/icon.svg` and `/_next/static/...`);
an unknown path gets `out/404.html` when a browser asks for HTML, else the JSON 404.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_from_directory

WEB_DIR_KEY = "movierec.web_dir"
BUILD_HINT = "the web page is not built: run `cd web && npm ci && npm run build` (the API works: see /openapi.json)"
IMMUTABLE = 365 * 24 * 3600  # /_next/static names carry a content hash

web = Blueprint("web", __name__)


def web_dir() -> Path:
    return current_app.extensions[WEB_DIR_KEY]


@web.get("/")
def index():
    folder = web_dir()
    if not (folder / "index.html").is_file():
        return jsonify(error=BUILD_HINT, api="/openapi.json", health="/health"), 404
    return send_from_directory(folder, "index.html", max_age=0)


@web.get("/icon.svg")
def icon():
    return send_from_directory(web_dir(), "icon.svg", max_age=3600)


@web.get("/_next/static/<path:filename>")
def next_static(filename: str):
    return send_from_directory(web_dir() / "_next" / "static", filename, max_age=IMMUTABLE)


def html_not_found():
    """`out/404.html` (status 404) for a browser's GET of an unknown page, else None."""
    if request.method not in ("GET", "HEAD") or request.url_rule is not None:
        return None
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) != "text/html":
        return None
    page = web_dir() / "404.html"
    if not page.is_file():
        return None
    response = send_from_directory(page.parent, page.name, max_age=0)
    response.status_code = 404
    return response
