"""Two beats at once do no harm (issue 10 item 6): an operator's mistake is not a double sweep.

A private stack (its own database and Redis database) with a 1-second sweep and
*two* `celery -A workers beat` processes. Claims are accepted while no worker runs,
so they stay pending past the sweep interval and both beats' sweeps re-enqueue them
again and again, beside both beats' fact relays and due-delivery jobs; then the
worker starts and drains everything. Each claim must be decided exactly once, each
code held once, each fact relayed to one delivery and each delivery arrive at the
receiver once (one webhook-id, one request), and `coffer check` must hold.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psycopg
import redis

from core.db import Database
from core.migrate import upgrade
from tests.support.client import Api
from tests.support.receiver import Receiver
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, Stack
from tests.support.tenants import make_tenant
from workers.celery_app import QUEUE, SWEEP_TASK

CLAIMS, CODES = 40, 30


def queued_tasks(redis_url: str) -> list[tuple[str, str]]:
    """(task name, sending process) of each message waiting in Coffer's Celery queue."""
    client = redis.Redis.from_url(redis_url)
    try:
        messages = client.lrange(QUEUE, 0, -1)
    finally:
        client.close()
    headers = [json.loads(message)["headers"] for message in messages]
    return [(header["task"], header["origin"]) for header in headers]


def count(url: str, sql: str) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_two_beats_decide_every_claim_once_and_deliver_every_fact_once(tmp_path: Path) -> None:
    with (
        fresh_database("beats") as url,
        private_redis_db() as redis_url,
        Receiver() as receiver,
    ):
        upgrade(url)
        db = Database(url, pool_size=2)
        stack = Stack(
            database_url=url, redis_url=redis_url, logs=tmp_path, sweep_interval_s="1",
            webhook_allow_private="1", claim_wait_ms="0",
        )  # fmt: skip
        try:
            stack.start_api()
            beat = [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "WARNING"]
            stack.start_beat()
            stack._spawn("second-beat", beat, {})  # the operator's mistake
            api = Api(stack.base_url, make_tenant(db).key("live", "admin"))
            hook = api.post("/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]})
            assert hook.status_code == 201, hook.text
            receiver.secrets.append(hook.json()["secret"])
            reward = api.create_reward()
            api.upload(reward["id"], [f"TB-{n}" for n in range(CODES)])
            answers = [api.claim(reward["id"], f"two-beats-{n}") for n in range(CLAIMS)]
            assert {a.status_code for a in answers} == {202}  # no worker: all pending

            # Both beats schedule sweeps of the stale claims, over and over (a beat takes a
            # few seconds to start on a loaded machine: wait for both, within a bound).
            deadline = time.monotonic() + 30
            senders: set[str] = set()
            while len(senders) < 2 and time.monotonic() < deadline:
                time.sleep(0.5)
                senders = {o for task, o in queued_tasks(redis_url) if task == SWEEP_TASK}
            assert stack.processes["beat"].poll() is None
            assert stack.processes["second-beat"].poll() is None
            assert len(senders) == 2, senders  # each beat has scheduled sweeps
            stack.start_worker(concurrency=2)

            deadline = time.monotonic() + 60
            while count(url, "SELECT count(*) FROM claims WHERE status = 'pending'"):
                assert time.monotonic() < deadline, "claims still pending"
                time.sleep(0.3)
            facts = count(url, "SELECT count(*) FROM facts")
            receiver.wait_for(facts, timeout_s=60)
            time.sleep(2)  # room for a duplicate to arrive, if one were coming
        finally:
            stack.stop()
            db.dispose()

        succeeded = count(url, "SELECT count(*) FROM claims WHERE status = 'succeeded'")
        assert succeeded == CODES
        assert count(url, "SELECT count(*) FROM claims WHERE status = 'failed'") == CLAIMS - CODES
        held = "SELECT count(DISTINCT code_id) FROM claims WHERE status = 'succeeded'"
        assert count(url, held) == CODES
        one_delivery_per_fact = (
            "SELECT count(*) FROM (SELECT fact_id FROM webhook_deliveries"
            " GROUP BY fact_id HAVING count(*) > 1) AS doubled"
        )
        assert count(url, one_delivery_per_fact) == 0
        assert count(url, "SELECT count(*) FROM webhook_deliveries") == facts
        ids = [r.webhook_id for r in receiver.received]
        assert len(ids) == len(set(ids)) == facts, "a delivery was sent twice"
        check = subprocess.run(
            [str(BIN / "coffer"), "check"], env=stack.env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
