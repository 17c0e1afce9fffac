"""Coffer's own processes stopped under a steady claim load (issue 10, items 2 and 6): the
Celery worker's warm shutdown (SIGTERM) and its death (SIGKILL), gunicorn's graceful
shutdown with requests in flight, and two beat processes at once. In each, every claim
the storefront saw accepted is decided exactly once."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import datetime

import pytest
import redis
from sqlalchemy import func, select

from core.clock import utcnow
from core.models import Claim, Fact, WebhookAttempt, WebhookDelivery
from tests.chaos.environment import (
    Chaos,
    Scenario,
    assert_each_accepted_claim_decided_once,
    assert_no_errors_but_503,
    pending,
    wait_for_pending_below,
)
from tests.support.receiver import Receiver
from tests.support.stack import BIN

pytestmark = pytest.mark.slow
BACKLOG = 300  # claims for the worker to be in the middle of when it is stopped


def _signal_main_process(chaos: Chaos, name: str, sig: int, timeout_s: float = 90) -> float:
    """Send `sig` to the process itself (as `docker stop` or systemd's main-process kill
    does, not to its children) and wait for it to exit; seconds it took."""
    process = chaos.stack.processes.pop(name)
    sent = time.monotonic()
    process.send_signal(sig)
    process.wait(timeout=timeout_s)
    return time.monotonic() - sent


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["warm", "kill"])
def test_worker_stopped_mid_batch_then_restarted_decides_every_claim_once(
    chaos: Chaos, sig: int
) -> None:
    """SIGTERM (warm shutdown: the batch in hand is finished) or SIGKILL (it is rolled back)
    while the worker drains a backlog; a new worker decides the rest, each claim once."""
    scenario = chaos.seed()
    worker = chaos.stack.processes["worker"]
    with scenario.load(chaos.stack.base_url) as load:
        load.wait_for_decided(time.monotonic(), count=30, explain=chaos.diagnose)
        os.killpg(worker.pid, signal.SIGSTOP)  # hold the worker while a backlog builds
        load.burst(BACKLOG)
        backlog = pending(chaos, scenario.reward_id)
        os.killpg(worker.pid, signal.SIGCONT)
        wait_for_pending_below(chaos, scenario.reward_id, backlog - 10)  # draining it now
        stopping_at = utcnow()
        if sig == signal.SIGKILL:
            chaos.stack.kill("worker")  # the whole process group: pool children die too
        else:
            took = _signal_main_process(chaos, "worker", sig)
            assert took < 60, f"warm shutdown took {took:.1f}s"
        stopped_at = utcnow()
        chaos.db.dispose()  # the test's own connections may have been cut
        left = pending(chaos, scenario.reward_id)
        time.sleep(2)  # claims accepted meanwhile wait in PostgreSQL and the broker
        chaos.stack.start_worker()
        load.wait_for_decided(time.monotonic(), count=20, explain=chaos.diagnose)

    assert left > 0, "the worker had nothing left to do: the stop came too late"
    if sig == signal.SIGTERM:  # it was mid-batch, and finished what it had taken
        assert _decided_between(chaos, scenario.reward_id, stopping_at, stopped_at) > 0
    assert_no_errors_but_503(load)
    assert 503 not in load.statuses_between(0)
    assert_each_accepted_claim_decided_once(chaos, scenario, load)


def _decided_between(chaos: Chaos, reward_id: str, start: datetime, end: datetime) -> int:
    with chaos.db.transaction() as session:
        query = select(func.count()).where(
            Claim.reward_id == reward_id, Claim.decided_at >= start, Claim.decided_at <= end
        )
        return session.scalar(query) or 0


def test_gunicorn_sigterm_finishes_requests_in_flight_and_loses_no_claim(chaos: Chaos) -> None:
    """A graceful shutdown answers every request it has started, even claims waiting for
    their outcome; a storefront whose connection was refused or cut in between sends the
    same key again to the new server and gets one claim."""
    scenario = chaos.seed()
    worker = chaos.stack.processes["worker"]
    with scenario.load(chaos.stack.base_url, threads=6) as load:
        load.wait_for_decided(time.monotonic(), count=30, explain=chaos.diagnose)
        os.killpg(worker.pid, signal.SIGSTOP)  # a busy worker: claims wait out their 2 s
        try:
            time.sleep(0.5)
            stopping_at = time.monotonic()
            took = _signal_main_process(chaos, "api", signal.SIGTERM)
        finally:
            os.killpg(worker.pid, signal.SIGCONT)
        chaos.stack.start_api()
        load.wait_for_decided(time.monotonic(), count=20, explain=chaos.diagnose)

    in_flight = [a for a in load.all() if a.sent < stopping_at - 0.2 and a.at >= stopping_at]
    assert len(in_flight) >= 3, f"too few requests in flight to prove anything: {in_flight}"
    assert {a.status for a in in_flight} <= {201, 202}, f"a request in flight was cut: {in_flight}"
    assert took < 30, f"graceful shutdown took {took:.1f}s"
    assert_no_errors_but_503(load)
    assert_each_accepted_claim_decided_once(chaos, scenario, load)


def test_two_beats_at_once_double_no_claim_delivery_or_attempt(chaos: Chaos) -> None:
    """An operator starts a second `celery -A workers beat`: every periodic job now runs
    twice as often, and nothing is done twice (claims, facts, webhook attempts)."""
    scenario = chaos.seed(codes=200, participants=5)
    with Receiver() as receiver:
        register_endpoint(scenario, receiver)
        chaos.stack._spawn(  # a second beat is exactly what this test is about
            "beat2", [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "WARNING"], {}
        )
        try:
            chaos.stack.kill("worker")
            claim_ids = accept_without_a_worker(scenario, count=60)
            _forget_broker_messages(chaos)  # only the two beats' sweeps can bring them back
            time.sleep(3)  # both beats sweep and queue relays and due deliveries meanwhile
            chaos.stack.start_worker()
            delivered = receiver.wait_for(60, timeout_s=90)
            time.sleep(3)  # room for a doubled attempt to show up
            assert chaos.stack.processes["beat2"].poll() is None, "the second beat died"
            assert chaos.stack.processes["beat"].poll() is None, "the first beat died"
        finally:
            chaos.stack.kill("beat2", signal.SIGTERM)

        chaos.db.dispose()
        with chaos.db.transaction() as session:
            claims = session.execute(
                select(Claim.status, Claim.attempts).where(Claim.claim_id.in_(claim_ids))
            ).all()
            facts = session.scalars(
                select(Fact.event_id).where(
                    Fact.type == "reward.reward_claimed", Fact.tenant_id == scenario.api.tenant_id
                )
            ).all()
            attempts = session.execute(
                select(WebhookAttempt.delivery_pk, WebhookAttempt.status_code, WebhookAttempt.error)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_pk)
                .where(
                    WebhookDelivery.fact_id.in_(
                        select(Fact.id).where(Fact.event_id.in_(list(delivered)))
                    )
                )
            ).all()
        assert Counter(status for status, _ in claims) == {"succeeded": 60}
        assert all(count == 0 for _, count in claims), "a claim counted a failed attempt"
        assert len(facts) == len(set(facts)) == 60
        assert set(delivered) == set(facts)
        requests_per_event = Counter(r.webhook_id for r in receiver.received)
        assert set(requests_per_event.values()) == {1}, "a webhook was sent twice"
        # Each delivery succeeded in exactly one attempt. An extra attempt is only ever a
        # failed one that never reached the receiver (a connection refused or timed out on
        # a loaded machine, then retried on schedule): the receiver saw each event once.
        succeeded = Counter(pk for pk, code, _ in attempts if code is not None and code < 300)
        assert len(succeeded) == 60 and set(succeeded.values()) == {1}, attempts
        extra = [(pk, code, error) for pk, code, error in attempts if code is None or code >= 300]
        assert all(error for _, _, error in extra), extra
    checked = chaos.coffer_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def register_endpoint(scenario: Scenario, receiver: Receiver) -> None:
    body = {"url": receiver.url, "event_types": ["reward.reward_claimed"]}
    response = scenario.api.post("/webhook-endpoints", body)
    assert response.status_code == 201, response.text
    receiver.secrets.append(response.json()["secret"])


def accept_without_a_worker(scenario: Scenario, *, count: int) -> list[str]:
    claim_ids = []
    for n in range(count):
        participant = scenario.participants[n % len(scenario.participants)]
        response = scenario.api.claim(scenario.reward_id, participant, prefer="respond-async")
        assert response.status_code == 202, response.text
        claim_ids.append(response.json()["claim_id"])
    return claim_ids


def _forget_broker_messages(chaos: Chaos) -> None:
    broker = redis.Redis.from_url(chaos.broker.url)
    broker.delete("coffer")
    broker.close()
