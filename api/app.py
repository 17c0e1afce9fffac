"""The application factory: `create_app()` for gunicorn, `create_app(...)` for tests."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, request

from api.errors import register_error_handlers
from api.ratelimit import RateLimiter
from api.routes import claims, events, metrics, ops, participants, rewards, webhooks
from api.services import Services
from core.errors import NotFound
from core.logs import configure_logging, request_id
from core.migrate import require_migrated
from core.runtime import Runtime, get_runtime

API_PREFIX = "/api/v1/gamify"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def create_app(runtime: Runtime | None = None, *, check_schema: bool = True) -> Flask:
    """Build the API on this process's runtime (or the one given, in tests)."""
    runtime = runtime or get_runtime()
    settings = runtime.settings
    configure_logging(settings.log_level)
    if check_schema:
        require_migrated(runtime.db.engine)
    app = Flask("coffer")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["coffer"] = Services(
        runtime=runtime,
        limiter=RateLimiter(settings.rate_limit, settings.redis_url),
    )
    app.before_request(_assign_request_id)
    app.before_request(_refuse_nul_in_path)
    app.after_request(_echo_request_id)
    register_error_handlers(app)
    for blueprint in (rewards.bp, claims.bp, participants.bp, webhooks.bp, events.bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(ops.bp)
    app.register_blueprint(metrics.blueprint(runtime))
    return app


def _refuse_nul_in_path() -> None:
    # No id contains NUL, and PostgreSQL refuses it in any query: answer before one is made.
    if "\x00" in request.path:
        raise NotFound("No such resource")


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    request_id.set(given if _REQUEST_ID.match(given) else uuid.uuid4().hex)


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = request_id.get() or ""
    return response
