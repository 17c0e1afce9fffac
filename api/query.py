"""Query strings: each route declares its parameters; any other one is a 400 everywhere.

`takes_query(Model)` marks a view with the pydantic model of its query string
(core/schemas/queries.py); a view without one takes no parameters. The one
check (`check_query`, run before every request) validates the query string
against the view's model and refuses unknown parameters, and parameters given
more than once, naming each in `errors` (CONTRACT §4); the OpenAPI document
lists the same model's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, g, request
from pydantic import ValidationError

from core.errors import ValidationFailed
from core.schemas.queries import Query

Q = TypeVar("Q", bound=Query)
F = TypeVar("F", bound=Callable[..., object])


def takes_query(model: type[Query]) -> Callable[[F], F]:
    """Declare the view's query parameters (put it right under the route decorator)."""

    def mark(view: F) -> F:
        view.query_model = model  # type: ignore[attr-defined]
        return view

    return mark


def query_model(view: Callable[..., object] | None) -> type[Query]:
    """The query model a view declared, or `Query` (no parameters)."""
    return getattr(view, "query_model", Query)


def check_query() -> None:
    """before_request: validate the query string against the matched view's model."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:  # no route matched: the 404 or 405 handler answers
        return
    model = query_model(view)
    # `?limit=1&limit=2` would otherwise keep one of the two silently: refuse, naming it.
    # (An unknown parameter, repeated or not, is named as unknown by the model below.)
    declared = {field.alias or name for name, field in model.model_fields.items()}
    repeated = [
        name for name in request.args if name in declared and len(request.args.getlist(name)) > 1
    ]
    if repeated:
        raise ValidationFailed(
            [{"field": name, "message": "is given more than once"} for name in repeated]
        )
    try:
        g.query = model.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise ValidationFailed(
            [
                {
                    "field": ".".join(str(part) for part in item["loc"]) or "query",
                    "message": "is not a query parameter of this endpoint"
                    if item["type"] == "extra_forbidden"
                    else item["msg"],
                }
                for item in error.errors(include_url=False)
            ]
        ) from error


def query_args(model: type[Q]) -> Q:
    """The validated query string of this request, as the model its view declared."""
    parsed = g.query
    assert isinstance(parsed, model), f"the view declared {type(parsed).__name__}"
    return parsed
