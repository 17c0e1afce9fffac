"""PostgreSQL and Redis restarted under a steady claim load (issue 10, item 2).

In each: nothing accepted is lost or decided twice, the API answers 503
service_unavailable (never 500) while the database is down, and Coffer's processes
find their way back by themselves once it is up again: none of them is restarted.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.environment import (
    Chaos,
    assert_each_accepted_claim_decided_once,
    assert_no_errors_but_503,
)

pytestmark = pytest.mark.slow


def test_postgres_restarted_mid_load_answers_503_then_recovers_losing_nothing(
    chaos: Chaos,
) -> None:
    scenario = chaos.seed()
    pids = chaos.pids()
    with scenario.load(chaos.stack.base_url) as load:
        load.wait_for_decided(time.monotonic(), count=20)
        chaos.pg.stop()  # fast shutdown: open transactions roll back, clients cut off
        down_at = time.monotonic()
        time.sleep(2)
        ready = chaos.readyz()
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == {"status": "down", "required": True}
        chaos.pg.start()
        up_at = time.monotonic()
        load.wait_for_decided(up_at, count=20)

    assert 503 in load.statuses_between(down_at, up_at), load.summary(down_at)
    assert_no_errors_but_503(load)
    assert chaos.readyz().status_code == 200
    assert chaos.pids() == pids and chaos.alive(), "a Coffer process was restarted or died"
    assert_each_accepted_claim_decided_once(chaos, scenario, load)
