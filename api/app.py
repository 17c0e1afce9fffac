"""The application factory: `create_app()` for gunicorn, `create_app(...)` for tests."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from api import cors, security_headers, wire
from api.errors import register_error_handlers
from api.query import check_query
from api.ratelimit import RateLimiter
from api.routes import (
    admin,
    campaigns,
    claims,
    docs,
    events,
    metrics,
    ops,
    participants,
    rewards,
    webhooks,
)
from api.services import Services
from core.logs import configure_logging, request_id
from core.migrate import require_database_or_exit, require_migrated
from core.runtime import Runtime, get_runtime
from core.timeline import begin as begin_timeline

API_PREFIX = "/api/v1/gamify"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def create_app(runtime: Runtime | None = None, *, check_schema: bool = True) -> Flask:
    """Build the API on this process's runtime (or the one given, in tests)."""
    if runtime is None and check_schema:  # an entry point (gunicorn): one line, exit 3
        require_database_or_exit(get_runtime().settings.database_url)
    runtime = runtime or get_runtime()
    settings = runtime.settings
    configure_logging(settings.log_level)
    if check_schema:
        require_migrated(runtime.db.engine)
    app = Flask("coffer", static_folder=None)  # no files to serve; its route would merge "//"
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["coffer"] = Services(
        runtime=runtime,
        limiter=RateLimiter(settings.rate_limit, settings.redis_url),
    )
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    wire.install(app)  # paths taken as sent, bodies held to the limit (docs/inputs.md)
    register_error_handlers(app)
    security_headers.install(app)  # nosniff everywhere, a strict CSP on HTML pages
    cors.install(app, settings.cors_origins)  # participant reads only (CONTRACT §10)
    for blueprint in (
        rewards.bp, claims.bp, participants.bp, campaigns.bp, webhooks.bp, events.bp,
    ):  # fmt: skip
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(ops.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(metrics.blueprint(runtime))
    app.before_request(check_query)  # unknown query parameters are a 400 on every endpoint
    return app


def _assign_request_id() -> None:
    g.hops = begin_timeline("received")  # a claim's hop times (core.timeline); off unless DEBUG
    given = request.headers.get("X-Request-ID", "")
    request_id.set(given if _REQUEST_ID.match(given) else uuid.uuid4().hex)


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id.get() or ""
    return response
