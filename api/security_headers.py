"""Security headers on every response, set in one after_request hook (docs/security.md).

Every response gets `X-Content-Type-Options: nosniff`, so no browser reads a
JSON answer or a code upload echo as HTML or script. Every HTML page, whatever
its path (`/docs` today, `/admin` and any page added later), also gets one
strict Content-Security-Policy, `Referrer-Policy: no-referrer` and
`X-Frame-Options: DENY`: the pages load scripts, styles and data from this
origin only, run no inline script or style, and cannot be framed
(clickjacking), so an injected string cannot run and an admin key typed into
the dashboard cannot be read by another origin.

Swagger UI runs under this policy without 'unsafe-inline' (it sets styles
through the CSSOM, which CSP allows; tests/security/test_headers_browser.py
renders /docs in Chromium and fails on any CSP violation).
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI's icons are data: URLs
        "font-src 'self'",
        "connect-src 'self'",  # the OpenAPI document, "Try it out", the dashboard's API calls
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
}


def install(app: Flask) -> None:
    """Add the headers to every response the app sends, error pages included."""
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """nosniff everywhere; the page policy on every text/html response."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers.update(HTML_HEADERS)
    return response
