"""The application factory: several apps in one process, and paths no id can match."""

from __future__ import annotations

from flask import Flask

import api
from core.runtime import Runtime
from tests.support.tenants import TestTenant


def test_two_apps_in_one_process_each_authenticate_and_serve(
    runtime: Runtime, tenant: TestTenant
) -> None:
    first, second = api.create_app(runtime), api.create_app(runtime)
    for app in (first, second):
        assert isinstance(app, Flask)
        client = app.test_client()
        assert client.get("/api/v1/gamify/rewards").status_code == 401
        assert client.get("/api/v1/gamify/rewards", headers=tenant.auth()).status_code == 200


def test_a_nul_in_any_path_is_not_found_rather_than_a_server_error(
    client: object, tenant: TestTenant
) -> None:
    for path in (
        "/api/v1/gamify/rewards/%00",
        "/api/v1/gamify/claims/a%00b",
    ):
        response = client.get(path, headers=tenant.auth())  # type: ignore[attr-defined]
        assert response.status_code == 404 and response.json["code"] == "not_found"
