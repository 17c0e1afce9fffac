"""GET /admin: the admin dashboard (CONTRACT §11), a static page over the public API.

The page and its files are plain ES modules and CSS in api/static/admin/, shipped
as package data: no build step, no Node.js, nothing from another origin. The
browser keeps the admin key in sessionStorage and calls the same endpoints an
admin key can call with curl, so the dashboard can do nothing the key cannot.
No key is needed to load the files themselves; they hold no data.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request

from core.errors import NotFound

bp = Blueprint("admin", __name__)

STATIC = Path(__file__).parent.parent / "static" / "admin"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# Until the security branch's shared headers hook lands: the page needs nothing but
# scripts, styles and fetch() calls to this origin (no inline script or style anywhere).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


PAGE = (STATIC / "index.html").read_text(encoding="utf-8")


@bp.get("/admin")
def page() -> Response:
    """The dashboard's single HTML page; its views are chosen by the URL fragment."""
    return Response(PAGE, mimetype="text/html")


@bp.get("/admin/assets/<name>")
def asset(name: str) -> Response:
    """One of the dashboard's scripts or styles (api/static/admin/); anything else is 404."""
    path = STATIC / name
    content_type = _TYPES.get(path.suffix)
    if content_type is None or "/" in name or not path.is_file():
        raise NotFound(f"No dashboard asset {name}")
    # The bytes, not send_from_directory: a file-wrapper response is passed through by
    # waitress (`coffer serve`) and cannot be read by the app's after_request hooks. The
    # files are small (~60 kB in all). An ETag lets the browser revalidate cheaply, so an
    # upgrade never runs stale modules (no-cache below).
    response = Response(path.read_bytes(), mimetype=content_type)
    response.add_etag()
    return response.make_conditional(request)


@bp.after_request
def _lock_down(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-cache"
    return response
