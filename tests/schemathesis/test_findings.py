"""Regression tests for what the full-stack schemathesis run found (issue 10 item 4).

Each finding keeps one test here, on the real database, through the API where the
finding was an HTTP one:

1. A webhook endpoint URL with a long host (valid: up to 2,048 characters) made the
   worker's delivery task crash: the attempt's error quotes the host and overflowed
   webhook_attempts.error (VARCHAR 500), so the attempt was never recorded.
2. Idempotency-Key was documented as any 1-257 characters; the API takes printable
   ASCII only (1-255, or a quoted structured-field string of that).
3. PATCH /webhook-endpoints/{id} documented `null` for url, event_types and enabled;
   the API refuses null there (400), as it does for a reward's name, type and limit.
4. A webhook URL was documented as any string; the API takes http(s) URLs with a host.
5. `cursor` / `after` were documented as any string, `?cursor=` included; the API
   answers 400 to anything that is not a cursor it issued (base64url text).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api.openapi import DOCUMENT_PATH
from core.models import WebhookAttempt
from core.runtime import Runtime
from core.webhooks.dispatch import DeliveryPolicy, attempt
from core.webhooks.sender import ERROR_CAP
from tests.support.receiver import new_delivery, register
from tests.support.tenants import TestTenant

API = "/api/v1/gamify"
POLICY = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(60,))


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    served: dict[str, Any] = app.test_client().get(DOCUMENT_PATH).get_json()
    return served


def test_a_refused_url_longer_than_the_error_column_is_recorded_not_crashed(
    runtime: Runtime, tenant: TestTenant
) -> None:
    # Finding 1: an unresolvable host of 1,900 characters, as schemathesis registered one.
    url = f"http://{'0' * 1900}/hooks"
    register(runtime.db, tenant, url)
    pk = new_delivery(runtime.db, tenant)

    done = attempt(runtime.db, delivery_pk=pk, policy=POLICY)

    assert done is not None and done.outcome == "retrying"
    with runtime.db.transaction() as session:
        (recorded,) = session.scalars(
            select(WebhookAttempt).where(WebhookAttempt.delivery_pk == pk)
        )
        assert recorded.status_code is None and recorded.error is not None
        assert recorded.error.startswith("refused: url") and recorded.error.endswith("...")
        assert len(recorded.error) == ERROR_CAP
