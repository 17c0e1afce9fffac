"""Prefer on claims (CONTRACT §6, RFC 7240) through HTTP: order, case and spacing do not
matter, and `respond-async` alone is 202 at once, even when the outcome is already known."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from werkzeug.test import TestResponse

from core.claims.drain import Drain
from core.models import IdempotencyRecord
from core.notify import PolledOutcomes
from core.runtime import Runtime
from tests.api.conftest import GAMIFY, Caller, new_id
from tests.support.tenants import TestTenant


def timed_claim(
    server: Caller, reward_id: str, prefer: str | list[str]
) -> tuple[TestResponse, float]:
    headers = [*server.headers.items(), ("Idempotency-Key", new_id("key"))]
    headers += [("Prefer", value) for value in ([prefer] if isinstance(prefer, str) else prefer)]
    started = time.monotonic()
    response = server.client.post(
        f"{GAMIFY}/rewards/{reward_id}/claim", json={"participant_id": new_id()}, headers=headers
    )
    return response, time.monotonic() - started


@contextmanager
def deciding(runtime: Runtime) -> Iterator[None]:
    """A worker stand-in deciding every pending claim as soon as it is recorded."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            if not Drain(runtime.db, runtime.publisher, batch_size=100).run().decided:
                time.sleep(0.005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@pytest.mark.parametrize(
    "prefer",
    [
        "respond-async, wait=1",
        "wait=1, respond-async",
        "  Wait = 1 ;x=y ,RESPOND-ASYNC",
        ["wait=1", "respond-async"],
        ["respond-async", "wait=1"],
    ],
)
def test_respond_async_with_wait_waits_then_answers_202_whatever_the_order(
    admin: Caller, server: Caller, prefer: str | list[str]
) -> None:
    reward = admin.create_reward()  # no worker runs here: the claim stays pending

    response, elapsed = timed_claim(server, reward["id"], prefer)

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async, wait=1"
    assert response.headers["Location"] == f"/api/v1/gamify/claims/{response.json['claim_id']}"
    assert 0.9 <= elapsed < 4


@pytest.mark.parametrize(
    "prefer",
    ["respond-async", "RESPOND-ASYNC", " respond-async ; foo", "wait=abc, respond-async"],
)
def test_respond_async_alone_answers_202_at_once(
    admin: Caller, server: Caller, prefer: str
) -> None:
    reward = admin.create_reward()

    response, elapsed = timed_claim(server, reward["id"], prefer)

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async"
    assert elapsed < 2  # the default wait is 5 s


@pytest.mark.parametrize("prefer", ["respond-async, wait=5", "wait=5, respond-async"])
def test_an_outcome_within_the_wait_is_answered_whatever_the_order(
    admin: Caller, server: Caller, runtime: Runtime, prefer: str
) -> None:
    reward = admin.create_reward(code_generation={"prefix": "P-", "length": 6})

    with deciding(runtime):
        response, _ = timed_claim(server, reward["id"], prefer)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["code_value"].startswith("P-")
    assert response.headers["Preference-Applied"] == "wait=5"


def test_twenty_respond_async_claims_are_all_202_while_a_worker_decides_them(
    admin: Caller, server: Caller, runtime: Runtime
) -> None:
    reward = admin.create_reward(code_generation={"prefix": "R-", "length": 6})

    with deciding(runtime):
        answers = [timed_claim(server, reward["id"], "respond-async")[0] for _ in range(20)]
    Drain(runtime.db, runtime.publisher, batch_size=100).run()  # any the stand-in had not reached

    assert [answer.status_code for answer in answers] == [202] * 20
    states = {admin.get(f"/claims/{answer.json['claim_id']}").json["status"] for answer in answers}
    assert states == {"succeeded"}


def test_not_waiting_means_not_reading_the_outcome_either(
    admin: Caller, server: Caller, runtime: Runtime, tenant: TestTenant
) -> None:
    """The database-polling waiter (`coffer serve` without Redis) answered 201 to
    respond-async when the outcome was already written: asked for no wait, it never reads."""
    reward, key = admin.create_reward(), new_id("key")
    server.claim(reward["id"], {"participant_id": new_id()}, key=key)
    Drain(runtime.db, runtime.publisher, batch_size=100).run()
    with runtime.db.transaction() as session:
        row = session.execute(
            select(IdempotencyRecord.id, IdempotencyRecord.resource_id.label("claim_id")).where(
                IdempotencyRecord.tenant_id == tenant.id, IdempotencyRecord.idempotency_key == key
            )
        ).one()
    poller = PolledOutcomes(runtime.db)

    assert poller.wait(claim_id=row.claim_id, record_id=row.id, timeout_s=0) is None
    decided = poller.wait(claim_id=row.claim_id, record_id=row.id, timeout_s=1)
    assert decided is not None and decided.status == 409
