"""PostgreSQL and Redis restarted under a steady claim load (issue 10, item 2).

In each: nothing accepted is lost or decided twice, the API answers 503
service_unavailable (never 500) while the database is down, and Coffer's processes
find their way back by themselves once it is up again: none of them is restarted.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.chaos.environment import (
    Chaos,
    assert_each_accepted_claim_decided_once,
    assert_no_errors_but_503,
    pending,
    wait_for_pending_below,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("how", ["shutdown", "crash"])
def test_postgres_restarted_mid_load_answers_503_then_recovers_losing_nothing(
    chaos: Chaos, how: str
) -> None:
    """A fast shutdown (open transactions roll back, clients cut off) or a crash (SIGKILL:
    crash recovery from the WAL at the next start)."""
    scenario = chaos.seed()
    pids = chaos.pids()
    with scenario.load(chaos.stack.base_url) as load:
        load.wait_for_decided(time.monotonic(), count=20, explain=chaos.diagnose)
        if how == "shutdown":
            chaos.pg.stop()
        else:
            chaos.pg.kill()
        down_at = time.monotonic()
        time.sleep(2)
        ready = chaos.readyz()
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == {"status": "down", "required": True}
        # A new claim now is refused 503 with Retry-After (the steady threads may all be in
        # claim waits begun before the outage that outlast it: they prove it only by chance).
        probe = load.probe()
        assert probe.status == 503 and probe.code == "service_unavailable", probe
        chaos.pg.start()
        up_at = time.monotonic()
        load.wait_for_decided(up_at, count=20, explain=chaos.diagnose)

    assert 503 in load.statuses_between(down_at, up_at), load.summary(down_at)
    assert_no_errors_but_503(load)
    assert chaos.readyz().status_code == 200
    assert chaos.pids() == pids and chaos.alive(), "a Coffer process was restarted or died"
    assert_each_accepted_claim_decided_once(chaos, scenario, load)


def test_redis_restarted_mid_load_claims_are_still_accepted_and_all_decided(
    chaos: Chaos,
) -> None:
    """The broker and the notices Redis both go, losing every key (no persistence): claims
    are still recorded and answered 202 (CONTRACT §3), then decided once Redis is back."""
    scenario = chaos.seed()
    pids = chaos.pids()
    worker = chaos.stack.processes["worker"]
    with scenario.load(chaos.stack.base_url) as load:
        load.wait_for_decided(time.monotonic(), count=20, explain=chaos.diagnose)
        # Redis goes while the worker is mid-drain, holding an unacknowledged message.
        os.killpg(worker.pid, signal.SIGSTOP)
        load.burst(300)
        backlog = pending(chaos, scenario.reward_id)
        os.killpg(worker.pid, signal.SIGCONT)
        wait_for_pending_below(chaos, scenario.reward_id, backlog - 10)
        chaos.broker.stop()
        chaos.notices.stop()
        down_at = time.monotonic()
        time.sleep(3)
        ready = chaos.readyz()
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"] == {"status": "down", "required": True}
        assert ready.json()["checks"]["redis"] == {"status": "down", "required": False}
        chaos.broker.start()
        chaos.notices.start()
        up_at = time.monotonic()
        load.wait_for_decided(up_at, count=20, explain=chaos.diagnose)

    assert 202 in load.statuses_between(down_at, up_at), load.summary(down_at)
    assert 503 not in load.statuses_between(0), "the database was up: nothing to refuse"
    assert_no_errors_but_503(load)
    assert chaos.readyz().status_code == 200
    assert chaos.pids() == pids and chaos.alive(), "a Coffer process was restarted or died"
    assert_each_accepted_claim_decided_once(chaos, scenario, load)


def test_with_only_the_redis_of_coffer_redis_url_down_storefront_claims_keep_getting_201(
    chaos: Chaos,
) -> None:
    """COFFER_REDIS_URL is a Redis of its own (the broker is elsewhere): while it is down,
    rate limits count per process and waits poll the database, so claims are still
    decided within the wait and answered 201; /readyz says degraded, not unavailable."""
    scenario = chaos.seed()
    pids = chaos.pids()
    with scenario.load(chaos.stack.base_url) as load:
        load.wait_for_decided(time.monotonic(), count=10, explain=chaos.diagnose)
        chaos.notices.stop()
        down_at = time.monotonic()
        load.wait_for_decided(
            down_at + 1, count=30, explain=chaos.diagnose
        )  # past the first requests that noticed
        ready = chaos.readyz()
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"] == {"status": "down", "required": False}
        chaos.notices.start()
        up_at = time.monotonic()
        load.wait_for_decided(up_at, count=10, explain=chaos.diagnose)

    during = load.statuses_between(down_at, up_at)
    assert during.count(201) >= 30 and set(during) <= {201, 202}, load.summary(down_at)
    assert_no_errors_but_503(load)
    assert chaos.readyz().json()["status"] == "ready"
    assert chaos.pids() == pids and chaos.alive(), "a Coffer process was restarted or died"
    assert_each_accepted_claim_decided_once(chaos, scenario, load)
