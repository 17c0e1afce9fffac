"""GET /docs: an interactive rendering of the OpenAPI document that works offline (§9).

Every script and stylesheet the page names is served by Coffer itself, with
the right content type, under a Content-Security-Policy that allows scripts
from this origin only (so no inline script runs, and none from a CDN).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from flask.testing import FlaskClient

from api.openapi import DOCUMENT_PATH
from api.reference import render

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class Page(HTMLParser):
    """The page's asset references, and the text inside its script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline_script = ""
        self.inline_style = False
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            self._in_script = True
            self.assets.append(named.get("src") or "")
        elif tag == "link":
            self.assets.append(named.get("href") or "")
        elif tag == "style" or "style" in named:
            self.inline_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_script += data.strip()


def parse(client: FlaskClient) -> Page:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = Page()
    page.feed(response.get_data(as_text=True))
    return page


def test_docs_needs_no_key_and_names_only_same_origin_assets(client: FlaskClient) -> None:
    page = parse(client)

    assert page.assets, "the page loads the UI's files"
    assert all(src.startswith("/") and not src.startswith("//") for src in page.assets)
    assert page.inline_script == ""
    assert not page.inline_style


def test_every_asset_of_the_page_is_served_with_its_content_type(client: FlaskClient) -> None:
    for src in parse(client).assets:
        with client.get(src) as response:  # a file response: close it
            assert response.status_code == 200, src
            suffix = src[src.rindex(".") :]
            assert response.mimetype == CONTENT_TYPES[suffix], src
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert len(response.get_data()) > 0


def test_the_ui_is_swagger_ui_started_on_the_served_document(client: FlaskClient) -> None:
    assets = parse(client).assets
    bundle = next(src for src in assets if src.endswith("swagger-ui-bundle.js"))
    init = next(src for src in assets if src.endswith("docs-init.js"))

    with client.get(bundle) as ui, client.get(init) as start:
        assert b"SwaggerUIBundle" in ui.get_data()
        assert DOCUMENT_PATH.encode() in start.get_data()
    assert client.get(DOCUMENT_PATH).status_code == 200


def test_the_page_forbids_inline_scripts_other_origins_and_framing(client: FlaskClient) -> None:
    response = client.get("/docs")
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in response.headers["Content-Security-Policy"].split(";")
    }

    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_file_the_page_does_not_use_is_not_served(client: FlaskClient) -> None:
    for name in ("oauth2-redirect.html", "../static/docs-init.js", "LICENSE", "nope.js"):
        response = client.get(f"/docs/assets/{name}")

        assert response.status_code == 404, name
        assert response.get_json()["code"] == "not_found"


def test_the_api_reference_in_docs_is_the_one_rendered_from_the_served_document(
    client: FlaskClient,
) -> None:
    committed = Path(__file__).parents[2].joinpath("docs", "api.md").read_text(encoding="utf-8")
    rendered = render(client.get(DOCUMENT_PATH).get_json())

    assert committed == rendered, "run: python -m api.reference > docs/api.md"
    assert "### `POST /api/v1/gamify/participants/{participant_id}/points`" in committed
