"""GET /docs: Swagger UI over the OpenAPI document, served from this origin only.

The UI's files come from the flask-swagger-ui package (its `dist/` folder, the
upstream swagger-ui build) and the start-up script from api/static/, so the
page works without internet access and runs under the strict Content-Security-Policy
that api/security_headers.py gives every HTML page. No key needed (CONTRACT §9).
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

from api.openapi import DOCUMENT_PATH
from core.errors import NotFound

bp = Blueprint("docs", __name__)

_UI = Path(flask_swagger_ui.__file__).parent / "dist"
_OWN = Path(__file__).parent.parent / "static"
ASSETS: dict[str, tuple[Path, str]] = {  # name -> (folder, content type)
    "swagger-ui.css": (_UI, "text/css"),
    "index.css": (_UI, "text/css"),
    "swagger-ui-bundle.js": (_UI, "text/javascript"),
    "favicon-32x32.png": (_UI, "image/png"),
    "docs-init.js": (_OWN, "text/javascript"),
}
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Coffer API</title>
  <link rel="stylesheet" href="/docs/assets/index.css">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <noscript>The interactive reference needs JavaScript; the document itself is
  <a href="{DOCUMENT_PATH}">{DOCUMENT_PATH}</a>.</noscript>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/docs-init.js"></script>
</body>
</html>
"""


@bp.get("/docs")
def docs() -> Response:
    """The interactive rendering of the OpenAPI document."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """One of the page's files; anything else is 404."""
    if name not in ASSETS:
        raise NotFound(f"No asset {name}")
    folder, content_type = ASSETS[name]
    return send_from_directory(folder, name, mimetype=content_type, max_age=3600)
