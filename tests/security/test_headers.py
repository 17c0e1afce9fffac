"""Security headers (OWASP API8): nosniff on every response, a strict CSP on every HTML page."""

from __future__ import annotations

from flask import Flask, Response

from api.security_headers import install
from tests.security.conftest import World
from tests.security.surface import calls


def _policy(response: Response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def test_every_get_operation_answers_with_nosniff(app: Flask, world: World) -> None:
    client = app.test_client()
    auth = world.owner.auth("live", "admin")
    gets = [c for c in calls(client, world.ids) if c.method == "GET"]

    missing = [
        c.name
        for c in gets
        if c.send(client, world.ids, auth).headers.get("X-Content-Type-Options") != "nosniff"
    ]

    assert not missing
    assert len(gets) >= 15


def test_problems_and_unknown_paths_carry_nosniff_but_no_page_policy(app: Flask) -> None:
    client = app.test_client()

    for response in (
        client.get("/api/v1/gamify/rewards"),  # 401
        client.get("/nowhere"),  # 404
        client.post("/api/v1/gamify/rewards", data=b"{"),  # 401 before the body
    ):
        assert response.mimetype == "application/problem+json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in response.headers


def test_the_docs_page_gets_the_strict_policy(app: Flask) -> None:
    response = app.test_client().get("/docs")
    policy = _policy(response)

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_any_html_page_such_as_admin_gets_the_policy_whatever_its_path() -> None:
    # The dashboard (/admin) lands on another branch; the hook keys on text/html, not on paths.
    bare = Flask("pages")
    install(bare)
    bare.add_url_rule("/admin", "admin", lambda: Response("<h1>admin</h1>", mimetype="text/html"))
    bare.add_url_rule("/admin/app.js", "js", lambda: Response("1", mimetype="text/javascript"))

    page, script = bare.test_client().get("/admin"), bare.test_client().get("/admin/app.js")

    assert _policy(page)["frame-ancestors"] == ["'none'"]
    assert _policy(page)["script-src"] == ["'self'"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in script.headers
