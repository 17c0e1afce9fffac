"""The claim timeline (core/timeline.py): hop times logged at DEBUG, nothing otherwise.

The API's line and the worker's batch line must carry the same request id, with
every hop marked in the order the claim crosses them: bench/breakdown.py joins
them on that id to split a claim's time.
"""

from __future__ import annotations

import logging

import pytest

from core.claims.drain import Drain
from core.notify import PolledOutcomes
from core.runtime import Runtime
from tests.api.conftest import Caller, new_id

API_HOPS = ["received", "committed", "enqueued", "outcome", "responded"]
BATCH_HOPS = ["task_started", "batch_started", "locked", "decided", "committed", "notified"]


def _timeline(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "coffer.timeline" and r.msg == message]


def test_a_claim_logs_its_hops_on_both_sides_under_one_request_id(
    admin: Caller, server: Caller, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    reward = admin.create_reward(name="Timed", type="coupon")
    admin.upload(reward["id"], [new_id("code")])
    caplog.set_level(logging.DEBUG, logger="coffer.timeline")
    request_id = new_id("req")

    response = server.post(
        f"/rewards/{reward['id']}/claim",
        {"participant_id": new_id()},
        headers={
            "Idempotency-Key": new_id("key"),
            "Prefer": "respond-async",
            "X-Request-ID": request_id,
        },
    )
    assert response.status_code == 202
    Drain(runtime.db, PolledOutcomes(runtime.db), batch_size=50).run()

    [api_line] = [r for r in _timeline(caplog, "claim request") if r.request_id == request_id]
    assert list(api_line.hops) == API_HOPS
    assert sorted(api_line.hops.values()) == list(api_line.hops.values())
    assert api_line.status == 202
    assert api_line.claim_id == response.get_json()["claim_id"]

    batches = [r for r in _timeline(caplog, "claim batch") if request_id in r.request_ids]
    assert len(batches) == 1, "one batch decided the claim"
    assert list(batches[0].hops) == BATCH_HOPS
    assert sorted(batches[0].hops.values()) == list(batches[0].hops.values())
    # The claim was recorded before the batch that decided it took its locks.
    assert api_line.hops["committed"] <= batches[0].hops["locked"]


def test_nothing_is_recorded_above_debug(
    admin: Caller, server: Caller, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    reward = admin.create_reward(name="Untimed", type="coupon")
    admin.upload(reward["id"], [new_id("code")])
    caplog.set_level(logging.INFO, logger="coffer.timeline")

    response = server.post(
        f"/rewards/{reward['id']}/claim",
        {"participant_id": new_id()},
        headers={"Idempotency-Key": new_id("key"), "Prefer": "respond-async"},
    )
    assert response.status_code == 202
    Drain(runtime.db, PolledOutcomes(runtime.db), batch_size=50).run()

    assert [r for r in caplog.records if r.name == "coffer.timeline"] == []
