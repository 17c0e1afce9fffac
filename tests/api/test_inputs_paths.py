"""Participant ids and paths (CONTRACT §5): every claimable id is addressable as sent,
every other id is a 400 everywhere, and nothing is ever redirected (docs/inputs.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from core.runtime import Runtime
from tests.api.conftest import Caller, assert_problem, error_fields, ledger_sum, new_id
from tests.support.tenants import TestTenant

# Each a case of the kind "an id no ordinary client can address, or that displays as
# another": C0, DEL, C1 (U+0085, U+009B), Cf (bidi, zero-width, BOM, soft hyphen),
# surrounding whitespace, and dot segments, which clients remove from URLs.
REFUSED_IDS = [
    "nel\u0085here",
    "csi\u009bhere",
    "user\n42",
    "bell\x07",
    "del\x7f",
    "evil\u202etxt.exe",
    "zero\u200bwidth",
    "\ufeffbom",
    "soft\u00adhyphen",
    "lrm\u200e",
    " leading",
    "trailing ",
    "\u00a0nbsp",
    "tab\t",
    ".",
    "..",
    "./x",
    "x/.",
    "a/../b",
    "a/./b",
    "../acct-7",
    "acct-7/..",
]
# Ids every ordinary client sends as written (requests, curl and browsers keep empty
# segments): each is its own participant.
SLASHED_IDS = ["/acct-7", "acct-7/", "a//b", "/", "//", "team/alice", "...", ".hidden", "a.b/c.."]


def path_of(participant: str) -> str:
    """The id as a client percent-encodes it in a path (Python's quote keeps "/")."""
    return quote(participant)


@pytest.mark.parametrize("participant", REFUSED_IDS)
def test_a_claim_for_an_unaddressable_participant_id_is_refused_and_not_recorded(
    admin: Caller, server: Caller, participant: str, recorded: Callable[[str], int]
) -> None:
    reward, key = admin.create_reward(), new_id("key")

    response = server.claim(reward["id"], {"participant_id": participant}, key=key)

    assert error_fields(response) == {"participant_id"}
    assert recorded(key) == 0


@pytest.mark.parametrize("participant", REFUSED_IDS)
def test_an_unaddressable_participant_id_in_a_path_is_refused_at_every_endpoint(
    admin: Caller,
    tenant: TestTenant,
    runtime: Runtime,
    participant: str,
    recorded: Callable[[str], int],
) -> None:
    key, path = new_id("key"), path_of(participant)

    for response in (
        admin.credit(path, 5, key=key),
        admin.get(f"/participants/{path}/points"),
        admin.get(f"/participants/{path}/rewards"),
    ):
        assert error_fields(response) == {"participant_id"}
    assert recorded(key) == 0
    assert ledger_sum(runtime, tenant, participant) == 0


def test_dot_segments_percent_encoded_are_refused_too(admin: Caller) -> None:
    for path in ("%2E%2E", "%2e", "a/%2E%2E/b", "x/%2e"):
        assert error_fields(admin.get(f"/participants/{path}/points")) == {"participant_id"}


def test_the_refusal_says_which_character_is_refused(server: Caller, admin: Caller) -> None:
    reward = admin.create_reward()
    response = server.claim(reward["id"], {"participant_id": "a\u0085b"}, key=new_id("key"))
    problem = assert_problem(response, 400, "validation_error")
    assert "U+0085" in problem["errors"][0]["message"]


@pytest.mark.parametrize("participant", SLASHED_IDS)
def test_an_id_with_slashes_is_its_own_participant_at_every_endpoint(
    admin: Caller, server: Caller, participant: str
) -> None:
    path = path_of(participant)
    credit = admin.credit(path, 7)
    assert credit.status_code == 201, credit.get_data(as_text=True)
    assert credit.json["participant_id"] == participant

    points = admin.get(f"/participants/{path}/points")
    rewards = admin.get(f"/participants/{path}/rewards")
    assert (points.status_code, rewards.status_code) == (200, 200)
    assert points.json["participant_id"] == rewards.json["participant_id"] == participant
    assert points.json["balance"] == 7

    reward = admin.create_reward()
    accepted = server.claim(reward["id"], {"participant_id": participant}, key=new_id("key"))
    assert accepted.status_code == 202


def test_a_double_slash_path_reaches_the_slashed_participant_not_another(
    admin: Caller,
) -> None:
    plain = new_id("acct")
    admin.credit(plain, 100)

    credit = admin.credit(f"/{plain}", 5)  # POST /participants//acct-.../points
    rewards = admin.get(f"/participants//{plain}/rewards")

    assert credit.status_code == 201 and credit.json["participant_id"] == f"/{plain}"
    assert rewards.status_code == 200 and "Location" not in rewards.headers
    assert rewards.json["participant_id"] == f"/{plain}"
    assert admin.balance(plain) == 100  # the credit did not land on the other participant
    assert admin.balance(f"/{plain}") == 5


def test_an_encoded_slash_means_the_same_participant_as_a_plain_one(admin: Caller) -> None:
    participant = f"/{new_id('acct')}"
    admin.credit(quote(participant, safe=""), 9)  # as encodeURIComponent sends it
    assert admin.balance(participant) == 9


NO_REDIRECT_PATHS = [
    "/api/v1/gamify/participants//acct-7/rewards",
    "/api/v1/gamify/participants//acct-7/points",
    "/api/v1/gamify/participants/acct-7//rewards",
    "/api/v1/gamify/participants/acct-7/rewards/",
    "/api/v1/gamify/rewards/",
    "/api/v1/gamify//rewards",
    "/api/v1//gamify/rewards",
    "//api/v1/gamify/rewards",
    "/api/v1/gamify/rewards/rwd_nope/",
    "/api/v1/gamify/rewards//rwd_nope",
    "/api/v1/gamify/claims/clm_nope/",
    "/api/v1/gamify/claims//clm_nope",
    "/healthz/",
    "//healthz",
    "/metrics/",
    "/api/v1/openapi.json/",
]


@pytest.mark.parametrize("path", NO_REDIRECT_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_no_path_is_ever_redirected(app: Flask, tenant: TestTenant, path: str, method: str) -> None:
    response = app.test_client().open(path, method=method, headers=tenant.auth())
    assert not 300 <= response.status_code < 400, (response.status_code, response.location)


def test_no_route_can_redirect_for_a_missing_or_extra_slash(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        assert rule.merge_slashes is False, rule
        assert rule.strict_slashes is False, rule  # "/x/" would otherwise redirect "/x"
        assert rule.redirect_to is None, rule


def raw_path(client: FlaskClient, method: str, path: bytes, **kwargs: Any) -> TestResponse:
    """A request for exactly these path bytes (the test client would replace invalid UTF-8);
    PEP 3333 carries them in PATH_INFO as latin-1, as gunicorn and waitress do."""
    return client.open(
        "/", method=method, environ_overrides={"PATH_INFO": path.decode("latin-1")}, **kwargs
    )


@pytest.mark.parametrize("segment", [b"\xff", b"\xc3(", b"a\x80b", b"\xed\xa0\x80"])
def test_a_participant_path_that_is_not_utf8_is_refused_and_stores_nothing(
    client: FlaskClient, admin: Caller, segment: bytes, recorded: Callable[[str], int]
) -> None:
    key, base = new_id("key"), b"/api/v1/gamify/participants/" + segment
    credit_headers = {**admin.headers, "Idempotency-Key": key}
    for response in (
        raw_path(client, "POST", base + b"/points", json={"amount": 5}, headers=credit_headers),
        raw_path(client, "GET", base + b"/points", headers=admin.headers),
        raw_path(client, "GET", base + b"/rewards", headers=admin.headers),
    ):
        assert error_fields(response) == {"path"}
    assert recorded(key) == 0
    assert admin.balance("\ufffd") == 0  # not stored under the replacement character


def test_any_path_that_is_not_utf8_is_refused(client: FlaskClient, admin: Caller) -> None:
    for path in (b"/api/v1/gamify/rewards/rwd_\xff", b"/api/v1/gamify/claims/\xff", b"/\xff"):
        assert error_fields(raw_path(client, "GET", path, headers=admin.headers)) == {"path"}


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "clé-1", "ключ", "emoji-\U0001f600", "", "tab\tkey", '"' + "k" * 256 + '"'],
)
def test_a_malformed_idempotency_key_is_a_validation_error_and_changes_nothing(
    admin: Caller, server: Caller, key: str, tenant: TestTenant, runtime: Runtime
) -> None:
    reward, participant = admin.create_reward(), new_id()
    # Header values travel as latin-1 in WSGI: send what a client's UTF-8 bytes become.
    wire_key = key.encode().decode("latin-1")

    claim = server.claim(reward["id"], {"participant_id": participant}, key=wire_key)
    credit = admin.credit(participant, 5, key=wire_key)

    assert error_fields(claim) == {"Idempotency-Key"}
    assert error_fields(credit) == {"Idempotency-Key"}
    assert ledger_sum(runtime, tenant, participant) == 0


def test_a_key_of_255_printable_characters_is_accepted(admin: Caller) -> None:
    response = admin.credit(new_id(), 5, key="k" * 255)
    assert response.status_code == 201
