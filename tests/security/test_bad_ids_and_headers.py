"""Bad ids, codes, CSV, query values and headers on purpose (issue 10 item 5).

Each is a clear 4xx problem (or, for a string that is merely odd, stored and
read back verbatim) and changes nothing else. Path ids and Idempotency-Key
operations come from the OpenAPI document.
"""

from __future__ import annotations

import urllib.parse
import uuid

import pytest
from flask import Flask

from core.runtime import Runtime
from tests.security.badinput import fields, nothing_changes, refused, tenant_rows
from tests.security.conftest import G, World
from tests.security.surface import calls

HOSTILE = {
    "NUL": "a\x00b",
    "newline": "a\nb",
    "carriage return": "a\rb",
    "escape": "a\x1b[31mb",
    "C1 NEL": "a\x85b",
    "right-to-left override": "a\u202eb",
    "zero-width space": "a\u200bb",
    "byte order mark": "\ufeffab",
    "line separator": "a\u2028b",
}
SQL = [
    "' OR '1'='1",
    "x'; DROP TABLE claims; --",
    '" OR 1=1 --',
    "1 UNION SELECT key_hash FROM api_keys",
]


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


@pytest.mark.parametrize("case", HOSTILE)
def test_control_and_formatting_characters_in_codes_are_refused_naming_the_code(
    app: Flask, runtime: Runtime, world: World, case: str
) -> None:
    path = f"{G}/rewards/{world.ids['reward_id']}/codes"
    client, auth = app.test_client(), world.owner.auth()

    with nothing_changes(app, runtime, world):
        as_json = client.post(path, json={"codes": ["FINE-1", f"BAD{HOSTILE[case]}"]}, headers=auth)
        # In a CSV a newline or carriage return ends the line (two good codes): not sent.
        if case not in ("newline", "carriage return"):
            csv = f"FINE-2\r\nBAD{HOSTILE[case]}\n".encode()
            as_csv = client.post(path, data=csv, headers={**auth, "Content-Type": "text/csv"})
            assert refused(as_csv)["errors"][0]["field"] in ("line 2", "codes.1")

    assert fields(refused(as_json)) == {"codes.1"}


@pytest.mark.parametrize("case", HOSTILE)
def test_control_and_formatting_characters_in_participant_ids_are_refused_everywhere(
    app: Flask, runtime: Runtime, world: World, case: str
) -> None:
    client, auth = app.test_client(), world.owner.auth()
    bad = HOSTILE[case]
    key = {"Idempotency-Key": uuid.uuid4().hex}

    with nothing_changes(app, runtime, world):
        claim = client.post(
            f"{G}/rewards/{world.ids['reward_id']}/claim",
            json={"participant_id": bad},
            headers={**auth, **key},
        )
        campaign = client.post(
            f"{G}/campaigns",
            json={"reward_id": world.ids["reward_id"], "participant_ids": ["ok", bad]},
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        in_path = client.get(f"{G}/participants/{_quote(bad)}/points", headers=auth)

    assert fields(refused(claim)) == {"participant_id"}
    assert refused(campaign)["errors"][0]["field"].startswith("participant_ids")
    if case != "byte order mark":  # at the start of an id, werkzeug keeps it: still refused
        assert refused(in_path)["errors"]


@pytest.mark.parametrize("case", [*HOSTILE, "emoji", "accented"])
def test_odd_characters_in_coffer_ids_are_not_found_at_every_operation_with_an_id(
    app: Flask, runtime: Runtime, world: World, case: str
) -> None:
    odd = {**HOSTILE, "emoji": "rwd_\U0001f600", "accented": "clm_é"}[case]
    client, auth = app.test_client(), world.owner.auth()
    failures = []

    with nothing_changes(app, runtime, world):
        for call in calls(client, world.ids):
            object_ids = [p for p in call.path_ids if p != "participant_id"]
            if not object_ids:
                continue
            ids = {**world.ids, **{p: _quote(odd) for p in object_ids}}
            response = call.send(client, ids, auth)
            if response.status_code not in (400, 404):
                failures.append(f"{call.name}: {response.status_code}")
            else:
                refused(response, response.status_code, response.get_json()["code"])

    assert not failures, failures


@pytest.mark.parametrize("sql", SQL)
def test_sql_in_path_ids_is_not_found_and_in_query_values_refused(
    app: Flask, runtime: Runtime, world: World, sql: str
) -> None:
    client, auth = app.test_client(), world.owner.auth()

    with nothing_changes(app, runtime, world):
        for call in calls(client, world.ids):
            object_ids = [p for p in call.path_ids if p != "participant_id"]
            if object_ids:
                ids = {**world.ids, **{p: _quote(sql) for p in object_ids}}
                response = call.send(client, ids, auth)
                assert refused(response, 404, response.json["code"])["code"].endswith("not_found")
        for query in ("cursor", "reward_type"):
            assert fields(
                refused(client.get(f"{G}/rewards?{query}={_quote(sql)}", headers=auth))
            ) == {query}
        for query in ("after", "type"):
            assert fields(
                refused(client.get(f"{G}/events?{query}={_quote(sql)}", headers=auth))
            ) == {query}
        status = client.get(
            f"{G}/campaigns/{world.ids['campaign_id']}/results?status={_quote(sql)}", headers=auth
        )
        assert fields(refused(status)) == {"status"}


@pytest.mark.parametrize("sql", SQL)
def test_sql_in_free_text_is_stored_and_read_back_verbatim(
    app: Flask, runtime: Runtime, world: World, sql: str
) -> None:
    client, auth = app.test_client(), world.intruder.auth()  # the intruder's own rows
    before = tenant_rows(runtime, world.owner.id), world.snapshot(app)

    made = client.post(
        f"{G}/rewards", json={"name": sql, "type": "coupon", "description": sql}, headers=auth
    )
    participant = client.get(f"{G}/participants/{_quote(sql)}/points", headers=auth)

    assert made.status_code == 201
    read = client.get(f"{G}/rewards/{made.json['id']}", headers=auth).json
    assert (read["name"], read["description"]) == (sql, sql)
    assert participant.status_code == 200 and participant.json["balance"] == 0
    assert participant.json["participant_id"] == sql
    assert (tenant_rows(runtime, world.owner.id), world.snapshot(app)) == before


def _idempotent_calls(app: Flask, world: World) -> list[object]:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    keyed = {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        and {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
    }
    found = [c for c in calls(app.test_client(), world.ids) if c.operation_id in keyed]
    assert {c.operation_id for c in found} >= {"claimReward", "creditPoints", "createCampaign"}
    return found


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "schlüssel-1", "ключ", "key\x7f", "key\x00", " ", ""],
    ids=["256 characters", "latin-1", "cyrillic", "DEL", "NUL", "space", "empty"],
)
def test_a_bad_idempotency_key_is_refused_at_every_operation_that_takes_one(
    app: Flask, runtime: Runtime, world: World, key: str
) -> None:
    client, auth = app.test_client(), world.owner.auth()
    # Non-ASCII goes out as UTF-8 bytes (read back by WSGI as latin-1), as a client would send it.
    wire = key.encode().decode("latin-1")

    with nothing_changes(app, runtime, world):
        for call in _idempotent_calls(app, world):
            response = client.open(
                call.path(world.ids), method=call.method, json=call.body,  # type: ignore[attr-defined]
                headers={**auth, "Idempotency-Key": wire},
            )  # fmt: skip
            problem = refused(response)
            assert fields(problem) == {"Idempotency-Key"}, (call, problem)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "value",
    ["%0D%0ASet-Cookie:%20a=b", "a\x0bb", "a\x00b", "x" * 65, "caf\xe9", "<script>"],
)
def test_a_request_id_that_could_inject_a_header_or_markup_is_replaced_not_echoed(
    app: Flask, value: str
) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": value})

    echoed = response.headers["X-Request-ID"]
    assert echoed != value and len(echoed) == 32 and echoed.isalnum()
    assert "Set-Cookie" not in response.headers


def test_a_prefer_header_with_injected_text_is_not_echoed(app: Flask, world: World) -> None:
    response = app.test_client().post(
        f"{G}/participants/prefer-{uuid.uuid4().hex[:6]}/points",
        json={"amount": 1},
        headers={
            **world.intruder.auth(),
            "Idempotency-Key": uuid.uuid4().hex,
            "Prefer": "wait=1%0D%0ASet-Cookie:%20a=b, respond-async",
        },
    )

    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "%0D" not in response.headers.get("Preference-Applied", "")
