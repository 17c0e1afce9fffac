"""Bad bodies on purpose (issue 10 item 5): each a clear 400/413 problem that changes nothing.

Every operation that takes a body comes from the OpenAPI document, so a new one
is tried too. "Nothing changed" is the owner's rows in every tenant table and
everything it can read (balances, claims, endpoints, campaigns).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from flask import Flask

from core.runtime import Runtime
from tests.security.badinput import fields, nothing_changes, refused
from tests.security.conftest import G, World
from tests.security.surface import Call, calls

MALFORMED = {
    "unclosed": b'{"amount": 5',
    "trailing comma": b'{"amount": 5,}',
    "single quotes": b"{'amount': 5}",
    "trailing garbage": b'{"amount": 5} x',
    "two documents": b'{"amount": 5}{"amount": 6}',
    "not UTF-8": b'{"reason": "caf\xe9"}',
    "UTF-16": '{"amount": 5}'.encode("utf-16"),
    "byte order mark": b'\xef\xbb\xbf{"amount": 5}',  # RFC 8259 §8.1: senders must not add one
    "lone surrogate": b'{"reason": "\\ud800"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "bare value": b"5",
    "empty": b"",
}
NOT_NUMBERS = {
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
    "1e400": b"1e400",
    "float": b"5.0",
    "exponent": b"5e0",
}
OUT_OF_RANGE = {
    "negative": b"-1",
    "zero": b"0",
    "minus zero": b"-0",
    "2^63": str(2**63).encode(),
    "2^64": str(2**64).encode(),
    "5000 digits": b"9" * 5000,
    "-5000 digits": b"-" + b"9" * 5000,
}


def _body_calls(app: Flask, world: World) -> list[Call]:
    found = [c for c in calls(app.test_client(), world.ids) if c.body is not None]
    assert len(found) >= 10
    return found


def _send(app: Flask, world: World, call: Call, data: bytes, **environ: Any) -> Any:
    key = f"bad-{uuid.uuid4().hex}"  # a fresh key: a refusal must not be a replay
    headers = {**world.owner.auth(), "Content-Type": "application/json", "Idempotency-Key": key}
    return app.test_client().open(
        call.path(world.ids), method=call.method, data=data, headers=headers, **environ
    )


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_json_is_refused_naming_the_body_at_every_body_operation(
    app: Flask, runtime: Runtime, world: World, case: str
) -> None:
    with nothing_changes(app, runtime, world):
        for call in _body_calls(app, world):
            problem = refused(_send(app, world, call, MALFORMED[case]))
            assert fields(problem) == {"body"}, (call.name, problem)


def _wrong_type(value: Any) -> Any:
    """A JSON value of another type than `value`'s."""
    if isinstance(value, bool):
        return "true"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return {"0": value[0]}
    return [value]


def test_each_member_of_each_body_with_the_wrong_type_is_refused_naming_it(
    app: Flask, runtime: Runtime, world: World
) -> None:
    with nothing_changes(app, runtime, world):
        for call in _body_calls(app, world):
            for name, value in call.body.items():
                body = {**call.body, name: _wrong_type(value)}
                problem = refused(_send(app, world, call, json.dumps(body).encode()))
                assert name in {f.split(".")[0] for f in fields(problem)}, (call.name, problem)
            for wrong in ([call.body], "body", 5, None, True):  # not an object at all
                refused(_send(app, world, call, json.dumps(wrong).encode()))


# Integer members: (operation path suffix, body template with NUMBER standing for the value).
INTEGER_MEMBERS = {
    "points amount": ("/points", b'{"amount": NUMBER}', "amount"),
    "reward points_cost": ("/rewards", b'{"name": "x", "type": "coupon", "points_cost": NUMBER}', "points_cost"),  # noqa: E501
    "reward max_claims_per_user": ("/rewards", b'{"name": "x", "type": "coupon", "max_claims_per_user": NUMBER}', "max_claims_per_user"),  # noqa: E501
}  # fmt: skip


def _post(app: Flask, world: World, suffix: str, data: bytes) -> Any:
    path = (
        f"/api/v1/gamify/participants/{world.ids['participant_id']}/points"
        if suffix == "/points"
        else "/api/v1/gamify/rewards"
    )
    key = f"num-{uuid.uuid4().hex}"
    headers = {**world.owner.auth(), "Content-Type": "application/json", "Idempotency-Key": key}
    return app.test_client().post(path, data=data, headers=headers)


@pytest.mark.parametrize("member", INTEGER_MEMBERS)
@pytest.mark.parametrize("number", NOT_NUMBERS)
def test_nan_infinity_and_non_integers_are_refused_in_integer_members(
    app: Flask, runtime: Runtime, world: World, member: str, number: str
) -> None:
    suffix, template, name = INTEGER_MEMBERS[member]

    with nothing_changes(app, runtime, world):
        problem = refused(
            _post(app, world, suffix, template.replace(b"NUMBER", NOT_NUMBERS[number]))
        )

    assert fields(problem) == {name}


@pytest.mark.parametrize("member", INTEGER_MEMBERS)
@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_huge_and_negative_numbers_are_refused_in_integer_members(
    app: Flask, runtime: Runtime, world: World, member: str, number: str
) -> None:
    suffix, template, name = INTEGER_MEMBERS[member]
    data = template.replace(b"NUMBER", OUT_OF_RANGE[number])

    with nothing_changes(app, runtime, world):
        problem = refused(_post(app, world, suffix, data))

    # Past what the parser reads (thousands of digits) the body itself is named, with why.
    assert fields(problem) in ({name}, {"body"})
    if fields(problem) == {"body"}:
        assert "number out of range" in problem["errors"][0]["message"]


TEN_MIB = 10 * 1024 * 1024


def _oversized(call: Call) -> bytes:
    """A body of the operation's own shape, one byte over COFFER_MAX_BODY_BYTES (10 MiB)."""
    raw = json.dumps(call.body).encode()
    return raw + b" " * (TEN_MIB + 1 - len(raw))  # valid JSON, only too long


def test_a_10_mib_body_with_a_content_length_is_413_at_every_body_operation(
    app: Flask, runtime: Runtime, world: World
) -> None:
    with nothing_changes(app, runtime, world):
        for call in _body_calls(app, world):
            refused(_send(app, world, call, _oversized(call)), 413, "payload_too_large")


def test_a_10_mib_body_streamed_without_a_length_is_413_at_every_body_operation(
    app: Flask, runtime: Runtime, world: World
) -> None:
    # As a chunked request reaches the app under gunicorn: no Content-Length, a terminated stream.
    # Through real gunicorn and waitress: tests/e2e/test_inputs_http.py (chunked uploads).
    with nothing_changes(app, runtime, world):
        for call in _body_calls(app, world):
            headers = {
                **world.owner.auth(),
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
                "Idempotency-Key": f"chunk-{uuid.uuid4().hex}",
            }
            response = app.test_client().open(
                call.path(world.ids),
                method=call.method,
                input_stream=io.BytesIO(_oversized(call)),
                headers=headers,
                environ_overrides={"wsgi.input_terminated": True},
            )
            refused(response, 413, "payload_too_large")


_B = "coffer-boundary-7c1e"


def _multipart(content: bytes) -> bytes:
    head = (
        f'--{_B}\r\nContent-Disposition: form-data; name="file"; filename="ids.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{_B}--\r\n".encode()


def _upload_requests(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each upload media type the document lists beside JSON, 10 MiB + 1 byte of it."""
    csv = b"CODE\n" * (TEN_MIB // 5) + b"X\n"
    rid = world.ids["reward_id"]
    return {
        "codes as text/csv": (
            f"{G}/rewards/{rid}/codes",
            {"data": csv, "content_type": "text/csv"},
        ),
        "campaign as text/csv": (
            f"{G}/campaigns?reward_id={rid}",
            {"data": csv, "content_type": "text/csv"},
        ),
        "campaign as multipart/form-data": (
            f"{G}/campaigns?reward_id={rid}",
            # Encoded here: the test client spools a large form to a file it never closes.
            {"data": _multipart(csv), "content_type": f"multipart/form-data; boundary={_B}"},
        ),
    }


@pytest.mark.parametrize(
    "upload", ["codes as text/csv", "campaign as text/csv", "campaign as multipart/form-data"]
)
def test_a_10_mib_upload_in_every_media_type_is_413(
    app: Flask, runtime: Runtime, world: World, upload: str
) -> None:
    path, body = _upload_requests(world)[upload]
    headers = {**world.owner.auth(), "Idempotency-Key": f"upload-{uuid.uuid4().hex}"}

    with nothing_changes(app, runtime, world):
        response = app.test_client().post(path, headers=headers, **body)

    refused(response, 413, "payload_too_large")
