"""HTTP rules every endpoint keeps: paths, body limits, empty responses (docs/inputs.md).

- Paths are taken as sent: no slash merging, no trailing-slash or defaults redirects,
  so nothing is ever redirected to another participant (CONTRACT §5). A participant id
  may start or end with `/` or hold `//`: every ordinary client sends those as written.
- A path that is not valid UTF-8 is a 400; so is a participant id the contract refuses,
  at every endpoint, before any handler reads it.
- A body without a Content-Length (chunked) is held to COFFER_MAX_BODY_BYTES like one
  with: refused whole with 413, never cut at the limit.
- A response without content (204, or an empty body) carries no Content-Type.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Flask, Request, Response, request
from pydantic import TypeAdapter, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import PathConverter
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from core.errors import NotFound, ValidationFailed
from core.inputs import ParticipantId

_PARTICIPANT_ID = TypeAdapter(ParticipantId)
_NO_CONTENT_STATUSES = frozenset({204, 304})  # RFC 9110 §15.3.5, §15.4.5: never a body


class SlashedPathConverter(PathConverter):
    """`<path:...>` that also matches a value starting with `/` or holding any character.

    Werkzeug's own path converter refuses a leading `/` and (with `.`) a line feed, so
    `/participants//acct-7/rewards` would match no route (or, with slash merging, the
    route of `acct-7`). Refusing such ids is the handler's job, with a 400 that says why.
    """

    regex = r"[\s\S]+?"
    part_isolating = False  # werkzeug would infer True from a regex without a "/"


class BodyLimitedRequest(Request):
    """A request whose streamed body is refused whole when over the limit, not truncated."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        streamed = self.content_length is None and "wsgi.input_terminated" in self.environ
        if limit is None or not streamed:
            return get_input_stream(self.environ, max_content_length=limit)
        # Werkzeug stops a streamed body at the limit and hands on what it read as if it
        # were all; read one byte further instead, so that an over-limit body is a 413.
        body = get_input_stream(self.environ, max_content_length=limit + 1).read()
        if len(body) > limit:
            raise RequestEntityTooLarge()
        return io.BytesIO(body)


def install(app: Flask) -> None:
    """Apply these rules to `app`; call before registering any blueprint."""
    app.request_class = BodyLimitedRequest
    url_map = app.url_map
    url_map.merge_slashes = False
    url_map.strict_slashes = False  # a rule ending in "/" also matches without, unredirected
    url_map.redirect_defaults = False
    url_map.converters["path"] = SlashedPathConverter
    app.before_request(check_path)
    app.after_request(drop_content_type_without_content)


def check_path() -> None:
    """before_request: a path Coffer can read, holding a participant id it accepts."""
    try:
        request.environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError as error:  # PEP 3333: PATH_INFO carries the bytes as latin-1
        raise ValidationFailed([{"field": "path", "message": "is not valid UTF-8"}]) from error
    participant_id = (request.view_args or {}).get("participant_id")
    if participant_id is not None:
        try:
            _PARTICIPANT_ID.validate_python(participant_id)
        except ValidationError as error:
            message = error.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            raise ValidationFailed([{"field": "participant_id", "message": message}]) from error
    if "\x00" in request.path:
        # No other id holds NUL, and PostgreSQL refuses it in any query: answer before one.
        raise NotFound("No such resource")


def drop_content_type_without_content(response: Response) -> Response:
    """after_request: 204 and 304 have no body; no empty response claims a media type."""
    if response.status_code in _NO_CONTENT_STATUSES:
        response.set_data(b"")
        response.headers.pop("Content-Length", None)
        response.headers.pop("Content-Type", None)
    elif (
        not response.direct_passthrough  # a file sent as is (waitress): its body stays unread
        and not response.is_streamed
        and request.method != "HEAD"
        and not response.get_data()
    ):
        response.headers.pop("Content-Type", None)
    return response
