"""The static web page is served at `/` beside the API, and its absence is explained, not a 500."""

from __future__ import annotations

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_index_and_assets(client):
    index = client.get("/")
    assert index.status_code == 200 and index.mimetype == "text/html"
    assert client.get("/icon.svg").status_code == 200
    asset = client.get("/_next/static/chunks/app.js")
    assert asset.status_code == 200 and "max-age=31536000" in asset.headers["Cache-Control"]


def test_missing_asset_and_traversal_are_404(client):
    assert client.get("/_next/static/chunks/nope.js").status_code == 404
    assert client.get("/_next/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd").status_code == 404


def test_unknown_page_gets_404_html_for_browsers_json_otherwise(client):
    page = client.get("/somewhere", headers=HTML)
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/somewhere")
    assert api.status_code == 404 and api.mimetype == "application/json"


def test_api_routes_take_precedence(client):
    assert client.get("/health", headers=HTML).mimetype == "application/json"
    assert client.get("/recommend?user_id=999999", headers=HTML).mimetype == "application/json"


def test_unbuilt_page_answers_a_hint(app, tmp_path):
    from serve import create_app

    bare = create_app(store=app.extensions["movierec.store"], web_dir=tmp_path / "missing")
    client = bare.test_client()
    response = client.get("/")
    assert response.status_code == 404 and "npm run build" in response.get_json()["error"]
    assert client.get("/icon.svg").status_code == 404
    assert client.get("/nowhere", headers=HTML).mimetype == "application/json"
    assert client.get("/health").status_code == 200
