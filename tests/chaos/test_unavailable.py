"""Without its database the API answers 503 service_unavailable problems with Retry-After
(CONTRACT §3), on every endpoint that needs it: never 500, never a traceback. Fast: the
database URL points where nothing listens (the chaos tests stop a real one under load)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from api import create_app
from core.runtime import build_runtime
from core.settings import Settings

NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1


@pytest.fixture
def app_without_database(settings: Settings) -> Iterator[Flask]:
    changed = {**settings.model_dump(), "database_url": NOWHERE}
    runtime = build_runtime(Settings(**changed, _env_file=None))  # type: ignore[call-arg]
    yield create_app(runtime, check_schema=False)
    runtime.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/gamify/rewards"),
        ("POST", "/api/v1/gamify/rewards/rwd_x/claim"),
        ("GET", "/api/v1/gamify/claims/clm_x"),
        ("GET", "/metrics"),
    ],
)
def test_every_endpoint_needing_the_database_answers_503_with_retry_after(
    app_without_database: Flask, method: str, path: str
) -> None:
    response = app_without_database.test_client().open(
        path,
        method=method,
        headers={"Authorization": "Bearer ck_live_" + "a" * 40, "Idempotency-Key": "k-1"},
        json={"participant_id": "p-1"} if method == "POST" else None,
    )

    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == problem["type"] == "service_unavailable"
    assert problem["status"] == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "psycopg" not in response.get_data(as_text=True)


def test_readiness_names_the_dependency_that_is_down(app_without_database: Flask) -> None:
    response = app_without_database.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"status": "down", "required": True}
    assert body["checks"]["broker"] == {"status": "up", "required": True}
    assert body["checks"]["redis"] == {"status": "up", "required": False}
