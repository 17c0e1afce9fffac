"""Coffer as production runs it, on services the test owns and may break.

A private PostgreSQL, a private Redis as the Celery broker and a second private Redis
as COFFER_REDIS_URL (rate limits, claim notices), so a test can take away the broker
and the notices together or the notices alone. gunicorn (2 workers), one Celery
worker and one beat run against them as real processes.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
from sqlalchemy import func, select, text

from core.db import Database
from core.migrate import upgrade
from core.models import Claim, IdempotencyRecord
from tests.chaos.load import ClaimLoad
from tests.support.client import Api
from tests.support.private_services import PrivatePostgres, PrivateRedis
from tests.support.stack import BIN, Stack
from tests.support.tenants import make_tenant
from workers.celery_app import QUEUE

ACCEPTED = (200, 201, 202)
SWEEP_INTERVAL_S = 2


@dataclass
class Scenario:
    """One tenant's reward with plenty of codes and participants with plenty of points."""

    api: Api
    key: str
    reward_id: str
    participants: list[str]

    def load(self, base_url: str, **options: float) -> ClaimLoad:
        return ClaimLoad(base_url, self.key, self.reward_id, self.participants, **options)  # type: ignore[arg-type]


class Chaos:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.pg = PrivatePostgres()
        self.broker = PrivateRedis(root, "broker")
        self.notices = PrivateRedis(root, "notices")
        upgrade(self.pg.url)
        self.db = Database(self.pg.url, pool_size=2)
        # Outside pytest's temporary tree: a concurrent pytest run on the machine prunes
        # old numbered directories there, and these logs are what explains a failure.
        logs = Path(tempfile.mkdtemp(prefix="coffer-chaos-logs-"))
        self.stack = Stack(
            database_url=self.pg.url,
            redis_url=self.broker.url,
            logs=logs,
            sweep_interval_s=str(SWEEP_INTERVAL_S),
            claim_wait_ms="2000",
            claim_batch_size="50",
            webhook_allow_private="1",  # the two-beats test's receiver is on loopback
        )
        self.stack.env["COFFER_REDIS_URL"] = self.notices.url  # not the broker's Redis

    def ensure_running(self) -> None:
        """Bring back whatever an earlier test left stopped, so each test starts whole."""
        for service in (self.pg, self.broker, self.notices):
            if not service.running:
                service.start()
        started = False
        # Beat first: it checks the database once at start and exits if it cannot reach
        # it (CONTRACT §1), so it must be past that check before a test breaks anything.
        for name, start in (
            ("beat", self.stack.start_beat),
            ("worker", self.stack.start_worker),
            ("api", self.stack.start_api),
        ):
            process = self.stack.processes.get(name)
            if process is None or process.poll() is not None:
                self.stack.processes.pop(name, None)
                start()
                started = True
        if started:
            time.sleep(1)  # beat has no readiness probe: give it its database check
        assert self.alive(), f"a Coffer process did not start; see {self.stack.logs}"
        self.db.dispose()  # connections from before a restart are dead

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.stack.processes.items()}

    def alive(self) -> bool:
        return all(process.poll() is None for process in self.stack.processes.values())

    def seed(self, *, codes: int = 3000, participants: int = 20) -> Scenario:
        tenant = make_tenant(self.db)
        key = tenant.key("live", "admin")
        api = Api(self.stack.base_url, key, tenant.id)
        reward = api.create_reward(points_cost=1, max_claims_per_user=1_000_000)
        api.upload(reward["id"], [f"X-{uuid.uuid4().hex[:12]}" for _ in range(codes)])
        people = [f"shopper-{n}-{uuid.uuid4().hex[:6]}" for n in range(participants)]
        for person in people:
            api.credit(person, 1_000_000)
        return Scenario(api, key, reward["id"], people)

    def diagnose(self) -> str:
        """What the services and processes are doing, for a failure message: a recovery
        that did not happen must say where it stuck (the broker queue, a lock, a process)."""
        lines = [f"logs: {self.stack.logs}"]
        try:
            broker = redis.Redis.from_url(self.broker.url, socket_timeout=2)
            lines.append(
                f"broker: queue={broker.llen(QUEUE)} unacked={broker.hlen('unacked')} "
                f"keys={broker.dbsize()}"
            )
        except Exception as error:  # a diagnosis must not hide the failure it explains
            lines.append(f"broker: {error!r}")
        try:
            self.db.dispose()
            with self.db.transaction() as session:
                activity = session.execute(
                    text(
                        "SELECT pid, state, wait_event_type, wait_event,"
                        " round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s,"
                        " left(query, 80) AS query FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            lines += [f"pg: {tuple(row)}" for row in activity]
        except Exception as error:
            lines.append(f"pg: {error!r}")
        for name, process in self.stack.processes.items():
            tree = subprocess.run(
                [
                    "ps",
                    "-o",
                    "pid,stat,etime,pcpu,args",
                    "--ppid",
                    str(process.pid),
                    "-p",
                    str(process.pid),
                ],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            lines.append(f"{name}: exit={process.poll()}\n{tree.rstrip()}")
        return "\n".join(lines)

    def readyz(self) -> requests.Response:
        return requests.get(f"{self.stack.base_url}/readyz", timeout=10)

    def coffer_check(self) -> subprocess.CompletedProcess[str]:
        env = {**self.stack.env, "COFFER_LOG_LEVEL": "ERROR"}
        return subprocess.run(
            [str(BIN / "coffer"), "check"], env=env, capture_output=True, text=True, check=False
        )

    def stop(self) -> None:
        self.stack.stop()
        self.db.dispose()
        self.broker.stop()
        self.notices.stop()
        self.pg.remove()


def assert_no_errors_but_503(load: ClaimLoad) -> None:
    """Never a 500 (or other 5xx), never a traceback: only 503 service_unavailable problems
    with Retry-After while a dependency is down (CONTRACT §3)."""
    for answer in load.all():
        if answer.status is None or answer.status < 500:
            continue
        assert answer.status == 503, answer
        assert answer.content_type.startswith("application/problem+json"), answer
        assert answer.code == "service_unavailable", answer
        assert (answer.retry_after or "").isdigit() and int(answer.retry_after or 0) >= 1, answer
        assert "Traceback" not in answer.body and "psycopg" not in answer.body, answer


def assert_each_accepted_claim_decided_once(
    chaos: Chaos, scenario: Scenario, load: ClaimLoad
) -> None:
    """Every key the storefront saw accepted has exactly one claim, decided (succeeded:
    codes and points are plentiful), each with its own code; and `coffer check` passes."""
    final = load.final()
    undecided = {key: a for key, a in final.items() if a.status not in ACCEPTED}
    assert not undecided, f"keys without an accepted answer: {list(undecided.values())[:5]}"
    rows = _wait_until_final(chaos, scenario.reward_id)
    by_key: dict[str, list[tuple[str, str, int | None]]] = {}
    for key, claim_id, status, code_id in rows:
        by_key.setdefault(key, []).append((claim_id, status, code_id))
    assert set(by_key) == set(final), "a claim without a key the storefront holds, or lost"
    assert all(len(claims) == 1 for claims in by_key.values()), "a key recorded twice"
    assert {s for claims in by_key.values() for _, s, _ in claims} == {"succeeded"}
    codes = [code for claims in by_key.values() for _, _, code in claims]
    assert len(set(codes)) == len(codes) == len(final), "a code allocated twice"
    for key, answer in final.items():  # the storefront's claim id is the stored one
        if answer.claim_id is not None:
            assert answer.claim_id == by_key[key][0][0], answer
    checked = chaos.coffer_check()
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _wait_until_final(
    chaos: Chaos, reward_id: str, timeout_s: float = 90
) -> list[tuple[str, str, str, int | None]]:
    deadline = time.monotonic() + timeout_s
    while True:
        chaos.db.dispose()
        with chaos.db.transaction() as session:
            rows = session.execute(
                select(
                    IdempotencyRecord.idempotency_key, Claim.claim_id, Claim.status, Claim.code_id
                )
                .join(IdempotencyRecord, IdempotencyRecord.id == Claim.idempotency_record_id)
                .where(Claim.reward_id == reward_id)
            ).all()
        waiting = sum(1 for row in rows if row.status == "pending")
        if waiting == 0:
            return [tuple(row) for row in rows]  # type: ignore[misc]
        assert time.monotonic() < deadline, f"{waiting} claims still pending after {timeout_s}s"
        time.sleep(0.5)


def wait_for_pending_below(chaos: Chaos, reward_id: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while pending(chaos, reward_id) >= count:
        assert time.monotonic() < deadline, "the worker did not start on the backlog"
        time.sleep(0.01)


def pending(chaos: Chaos, reward_id: str) -> int:
    with chaos.db.transaction() as session:
        query = select(func.count()).where(Claim.reward_id == reward_id, Claim.status == "pending")
        return session.scalar(query) or 0
