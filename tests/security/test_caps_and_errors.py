"""Page-size caps from the document (OWASP API4); errors that leak nothing (API8, CONTRACT §3)."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from api.errors import register_error_handlers
from api.security_headers import install
from tests.security.badinput import fields, refused
from tests.security.conftest import World
from tests.security.surface import calls


def _paged(app: Flask) -> dict[str, int]:
    """operationId -> the largest `limit` the document allows."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    caps = {}
    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("name") == "limit":
                    caps[operation["operationId"]] = parameter["schema"]["maximum"]
    return caps


def test_every_paged_operation_caps_its_page_size_as_documented(app: Flask, world: World) -> None:
    client, auth = app.test_client(), world.owner.auth()
    caps = _paged(app)
    paged = [c for c in calls(client, world.ids) if c.operation_id in caps]

    for call in paged:
        cap, path = caps[call.operation_id], call.path(world.ids)
        assert client.get(f"{path}?limit={cap}", headers=auth).status_code == 200, call.name
        for bad in (cap + 1, 0, -1, 10**30):
            response = client.get(f"{path}?limit={bad}", headers=auth)
            assert fields(refused(response)) == {"limit"}, (call.name, bad)
    assert len(paged) >= 6 and max(caps.values()) <= 1000


def _failing_app(error: Exception) -> Flask:
    bare = Flask("failing")
    register_error_handlers(bare)
    install(bare)

    def boom() -> str:
        raise error

    bare.add_url_rule("/boom", "boom", boom)
    return bare


SECRET_SQL = "SELECT key_hash FROM api_keys WHERE tenant_id = 'ten_victim'"


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(SECRET_SQL),
        IntegrityError(SECRET_SQL, {"value": "CODE-SECRET"}, Exception("duplicate key")),
        OperationalError(SECRET_SQL, {}, Exception("server closed the connection")),
        KeyError("ck_live_leaked"),
    ],
    ids=["runtime", "integrity", "operational", "key"],
)
def test_an_unexpected_error_answers_a_plain_problem_with_nothing_of_its_cause(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="coffer.api"):
        response = _failing_app(error).test_client().get("/boom")

    body = response.get_data(as_text=True)
    assert response.status_code in (500, 503) and response.mimetype == "application/problem+json"
    for leaked in ("SELECT", "api_keys", "ten_victim", "CODE-SECRET", "ck_live", "Traceback"):
        assert leaked not in body, body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert caplog.records, "the cause goes to the operator's log instead"


def test_a_database_error_inside_a_real_request_leaks_no_sql(app: Flask, world: World) -> None:
    # A real statement error from PostgreSQL, answered by the mapping every route uses.
    runtime = app.extensions["coffer"].runtime
    with pytest.raises(Exception) as raised, runtime.db.transaction() as session:
        session.execute(text("SELECT nothing FROM no_such_table WHERE secret = 'whsec_x'"))

    response = _failing_app(raised.value).test_client().get("/boom")

    assert "no_such_table" in str(raised.value)  # the cause was there to leak
    body = response.get_data(as_text=True)
    assert "no_such_table" not in body and "whsec_x" not in body and "SELECT" not in body
