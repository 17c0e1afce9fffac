"""The one mapping from errors to application/problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.db import is_unavailable
from core.errors import (
    CofferError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
)

log = logging.getLogger("coffer.api")
PROBLEM_JSON = "application/problem+json"


# RFC 9457's members first, in this order, then the extensions (`errors`) as given.
_PROBLEM_ORDER = ("type", "code", "title", "status", "detail")


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """The one serializer of every problem+json: error handlers, claim failures and replays.

    Written like every other JSON response (the app's provider, as jsonify) with the
    members in one order, whichever way the document was built or stored.
    """
    ordered = {name: problem[name] for name in _PROBLEM_ORDER if name in problem}
    ordered.update((name, value) for name, value in problem.items() if name not in ordered)
    response = current_app.json.response(ordered)
    response.status_code = problem["status"]
    response.mimetype = PROBLEM_JSON
    response.headers.update(headers or {})
    return response


def validation_failed(error: ValidationError) -> ValidationFailed:
    """Pydantic's errors as Coffer's `errors` list: one entry per field."""
    errors = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "json_invalid":  # the parser's reason says where and what
            reason = (item.get("ctx") or {}).get("error")
            field, message = (
                "body",
                f"is not valid JSON ({reason})" if reason else "is not valid JSON",
            )
        elif item["type"] == "extra_forbidden":
            message = "is not a field Coffer accepts here"
        elif item["type"] == "model_type":  # the body, or a nested object such as code_generation
            message = "must be a JSON object"
        errors.append({"field": field, "message": message})
    return ValidationFailed(errors)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CofferError)
    def _domain(error: CofferError) -> Response:
        headers = {}
        if isinstance(error, RateLimited | ServiceUnavailable):
            headers["Retry-After"] = str(error.retry_after_s)
        return problem_response(error.problem(), headers)

    @app.errorhandler(ValidationError)
    def _validation(error: ValidationError) -> Response:
        return problem_response(validation_failed(error).problem())

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_: RequestEntityTooLarge) -> Response:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return problem_response(PayloadTooLarge(f"The body exceeds {limit} bytes").problem())

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if error.code == 404:
            return problem_response(NotFound("No such endpoint").problem())
        problem = {
            "type": "http_error",
            "code": "http_error",
            "title": error.name,
            "status": error.code or 500,
            "detail": error.description or error.name,
        }
        headers = None
        if error.code == 405:
            problem.update(type="method_not_allowed", code="method_not_allowed")
            # Only Allow: the exception's own Content-Type (text/html) must not replace ours.
            headers = {name: value for name, value in error.get_headers() if name == "Allow"}
        return problem_response(problem, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if _dependency_down(error):  # away, not a bug: 503, never 500 (CONTRACT §3)
            log.warning("dependency unavailable: %s", type(error).__name__)
            down = ServiceUnavailable("A service Coffer needs cannot be reached; retry shortly")
            return problem_response(down.problem(), {"Retry-After": str(down.retry_after_s)})
        log.exception("unhandled error")
        return problem_response(CofferError("Something went wrong on our side").problem())


def _dependency_down(error: Exception) -> bool:
    """The database is away (or its pool saturated), or Redis is where no fallback exists."""
    return is_unavailable(error) or isinstance(error, RedisConnectionError | RedisTimeout)
