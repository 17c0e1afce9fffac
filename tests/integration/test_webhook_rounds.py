"""Rounds of deliveries per endpoint over pooled connections, on real PostgreSQL and real
HTTP servers on 127.0.0.1 (no Celery here; the worker task is a thin call of these).

The resolver seam (`Sender(getaddrinfo=...)`) stands in for DNS: a name answers
with the address a test chooses, so a changing DNS answer (rebinding) is played
out against two real servers on 127.0.0.1 and 127.0.0.2 at the same port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, update

from core.clock import utcnow
from core.db import Database
from core.facts import append, fact
from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.runtime import Runtime
from core.webhooks.deliveries import Sent, finish_round, lease_round
from core.webhooks.dispatch import DeliveryPolicy, deliver_endpoint, endpoint_of
from core.webhooks.relay import relay
from core.webhooks.sender import AttemptResult, Sender
from tests.support.receiver import Answer, Receiver, new_delivery, register
from tests.support.tenants import TestTenant

POLICY = DeliveryPolicy(
    timeout_s=3, allow_private=True, schedule=(60, 60), per_endpoint=4, round_size=8
)


class KeepAliveServer:
    """An HTTP/1.1 server (keeps connections open) on one address: answers 204 and records,
    per request, the client's port (one per TCP connection) and the Host header."""

    def __init__(self, address: str, port: int) -> None:
        self.seen: list[tuple[int, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.seen.append((self.client_address[1], self.headers.get("Host", "")))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def two_addresses() -> Iterator[tuple[KeepAliveServer, KeepAliveServer]]:
    """Servers on 127.0.0.1:P and 127.0.0.2:P (a name's two possible DNS answers)."""
    for _ in range(20):
        first = KeepAliveServer("127.0.0.1", 0)
        try:
            second = KeepAliveServer("127.0.0.2", first.port)
        except OSError:  # that port is taken on 127.0.0.2: another pair
            first.close()
            continue
        yield first, second
        first.close()
        second.close()
        return
    pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")


class Dns:
    """A resolver answering every name with `address` (getaddrinfo's shape)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lookups = 0

    def __call__(self, host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        self.lookups += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.address, port))]


def attempts(db: Database, endpoint_pk: int) -> int:
    with db.transaction() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(WebhookAttempt)
                .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_pk)
                .where(WebhookDelivery.endpoint_pk == endpoint_pk)
            )
            or 0
        )


def test_a_pooled_connection_is_reused_for_the_checked_address_only(
    runtime: Runtime, tenant: TestTenant, two_addresses: tuple[KeepAliveServer, KeepAliveServer]
) -> None:
    old, new = two_addresses
    dns = Dns("127.0.0.1")
    sender = Sender(getaddrinfo=dns)
    register(runtime.db, tenant, f"http://hooks.example.test:{old.port}/hook")
    try:
        endpoint_pk = endpoint_of(runtime.db, new_delivery(runtime.db, tenant))
        assert endpoint_pk is not None
        first = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, sender=sender)
        new_delivery(runtime.db, tenant)
        second = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, sender=sender)
        assert first.outcomes["delivered"] == second.outcomes["delivered"] == 1
        # Same checked address: the second attempt rode the first one's kept-alive connection.
        assert len(old.seen) == 2 and old.seen[0][0] == old.seen[1][0]
        assert old.seen[0][1] == f"hooks.example.test:{old.port}"  # named by host, sent by address

        dns.address = "127.0.0.2"  # the name now answers elsewhere (rebinding)
        new_delivery(runtime.db, tenant)
        third = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, sender=sender)
        assert third.outcomes["delivered"] == 1
        # The open connection to the old address was not reused: the attempt went to the
        # address checked for it, over a connection of its own.
        assert len(old.seen) == 2
        assert len(new.seen) == 1 and new.seen[0][1] == f"hooks.example.test:{old.port}"
        assert dns.lookups == 3  # checked again for every round
        assert sender.pooled() == 2  # one client per checked address
    finally:
        sender.close()


def test_a_changed_answer_to_a_private_address_is_refused_before_any_connection(
    runtime: Runtime, tenant: TestTenant, two_addresses: tuple[KeepAliveServer, KeepAliveServer]
) -> None:
    old, _ = two_addresses
    dns = Dns("127.0.0.1")
    sender = Sender(getaddrinfo=dns)
    strict = DeliveryPolicy(timeout_s=3, allow_private=False, schedule=(60,), per_endpoint=8)
    register(runtime.db, tenant, f"http://hooks.example.test:{old.port}/hook")
    try:
        endpoint_pk = endpoint_of(runtime.db, new_delivery(runtime.db, tenant))
        assert endpoint_pk is not None
        deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, sender=sender)
        assert len(old.seen) == 1  # a pooled connection to it is now open
        new_delivery(runtime.db, tenant)
        done = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=strict, sender=sender)
        assert done.outcomes["retrying"] == 1 and not done.outcomes["delivered"]
        assert len(old.seen) == 1  # the open connection carried nothing
        with runtime.db.transaction() as session:
            error = session.scalar(
                select(WebhookAttempt.error).order_by(WebhookAttempt.id.desc()).limit(1)
            )
        assert error is not None and error.startswith("refused: url resolves to 127.0.0.1")
    finally:
        sender.close()


def test_due_deliveries_go_out_in_rounds_each_verified_and_logged(
    runtime: Runtime, tenant: TestTenant
) -> None:
    with Receiver() as receiver:
        register(runtime.db, tenant, receiver.url, receiver)
        pks = [new_delivery(runtime.db, tenant, {"claim_id": f"clm_{n}"}) for n in range(20)]
        endpoint_pk = endpoint_of(runtime.db, pks[0])
        assert endpoint_pk is not None
        done = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY)
        assert done.outcomes == {"delivered": 20}
        assert done.rounds == 3  # 8 + 8 + 4
        assert not done.more and not done.busy
        got = receiver.delivered()
        assert len(got) == 20
        assert {r.payload["data"]["claim_id"] for r in got.values()} == {
            f"clm_{n}" for n in range(20)
        }
    assert attempts(runtime.db, endpoint_pk) == 20
    with runtime.db.transaction() as session:
        statuses = session.execute(
            select(WebhookDelivery.status, WebhookDelivery.attempt_count, func.count())
            .where(WebhookDelivery.id.in_(pks))
            .group_by(WebhookDelivery.status, WebhookDelivery.attempt_count)
        ).all()
        leased = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.id.in_(pks), WebhookDelivery.sending_until.is_not(None))
        )
    assert statuses == [("delivered", 1, 20)]
    assert leased == 0


def test_a_round_starts_only_attempts_whose_timeout_fits_its_window(
    runtime: Runtime, tenant: TestTenant
) -> None:
    # Answers take 1 s, the timeout is 1.5 s, 2 connections: after the first two attempts
    # a third would end past the round's window, so the round gives the rest back.
    policy = DeliveryPolicy(
        timeout_s=1.5, allow_private=True, schedule=(60,), per_endpoint=2, round_size=6
    )
    with Receiver() as receiver:
        receiver.default = Answer(204, delay_s=1.0)
        register(runtime.db, tenant, receiver.url, receiver)
        pks = [new_delivery(runtime.db, tenant) for _ in range(6)]
        endpoint_pk = endpoint_of(runtime.db, pks[0])
        assert endpoint_pk is not None
        done = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=policy, budget_s=30)
        assert done.outcomes == {"delivered": 6}  # none cut short by the round
        assert done.rounds == 3  # two per round
        assert len(receiver.delivered()) == 6
    assert attempts(runtime.db, endpoint_pk) == 6  # the ones given back left no attempt row


def test_a_spent_budget_leaves_the_rest_to_a_successor(
    runtime: Runtime, tenant: TestTenant
) -> None:
    with Receiver() as receiver:
        register(runtime.db, tenant, receiver.url, receiver)
        pks = [new_delivery(runtime.db, tenant) for _ in range(10)]
        endpoint_pk = endpoint_of(runtime.db, pks[0])
        assert endpoint_pk is not None
        first = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, budget_s=0)
        assert first.outcomes == {"delivered": 8} and first.rounds == 1 and first.more
        rest = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY, budget_s=0)
        assert rest.outcomes == {"delivered": 2} and not rest.more
        assert len(receiver.delivered()) == 10


def test_one_task_holds_an_endpoint_and_a_slow_one_holds_up_nobody_else(
    runtime: Runtime, tenant: TestTenant
) -> None:
    with Receiver() as slow, Receiver() as fast:
        slow.default = Answer(204, delay_s=1.5)
        register(runtime.db, tenant, slow.url, slow)
        register(runtime.db, tenant, fast.url, fast)
        relay_facts(runtime.db, tenant, 3)  # each fact: a delivery to both endpoints
        slow_pk, fast_pk = endpoint_pk(runtime.db, slow.url), endpoint_pk(runtime.db, fast.url)
        results: dict[str, Any] = {}
        holder = threading.Thread(
            target=lambda: results.update(
                slow=deliver_endpoint(runtime.db, endpoint_pk=slow_pk, policy=POLICY)
            )
        )
        holder.start()
        _wait_for_lease(runtime.db, slow_pk)
        second = deliver_endpoint(runtime.db, endpoint_pk=slow_pk, policy=POLICY)
        assert second.busy and not second.outcomes  # one task per endpoint: it backs off
        fast_done = deliver_endpoint(runtime.db, endpoint_pk=fast_pk, policy=POLICY)
        assert fast_done.outcomes == {"delivered": 3}
        assert holder.is_alive()  # the slow round was still under way meanwhile
        holder.join(30)
        assert results["slow"].outcomes == {"delivered": 3}
        assert results["slow"].rounds == 1  # all three at once, not one after another
        assert len(slow.delivered()) == len(fast.delivered()) == 3


def test_failures_in_a_round_are_scheduled_one_by_one(runtime: Runtime, tenant: TestTenant) -> None:
    with Receiver() as receiver:
        receiver.default = Answer(503, headers={"Retry-After": "600"})
        register(runtime.db, tenant, receiver.url, receiver)
        pks = [new_delivery(runtime.db, tenant) for _ in range(3)]
        endpoint_pk = endpoint_of(runtime.db, pks[0])
        assert endpoint_pk is not None
        before = utcnow()
        done = deliver_endpoint(runtime.db, endpoint_pk=endpoint_pk, policy=POLICY)
        assert done.outcomes == {"retrying": 3} and done.rounds == 1
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(WebhookDelivery.status, WebhookDelivery.next_attempt_at).where(
                WebhookDelivery.id.in_(pks)
            )
        ).all()
    assert [status for status, _ in rows] == ["pending"] * 3
    assert all(at is not None and at >= before + timedelta(seconds=590) for _, at in rows)


def relay_facts(db: Database, tenant: TestTenant, count: int) -> None:
    rows = [
        fact(
            tenant_id=tenant.id,
            mode="live",
            type_="reward.reward_claimed",
            data={"claim_id": f"clm_{n}"},
            at=utcnow(),
        )
        for n in range(count)
    ]
    with db.transaction() as session:
        append(session, rows)
    relay(db)


def endpoint_pk(db: Database, url: str) -> int:
    with db.transaction() as session:
        return session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.url == url, WebhookEndpoint.deleted_at.is_(None)
            )
        ).one()


def _wait_for_lease(db: Database, endpoint_pk: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.transaction() as session:
            if session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.endpoint_pk == endpoint_pk,
                    WebhookDelivery.sending_until.is_not(None),
                )
            ):
                return
        time.sleep(0.02)
    raise AssertionError("the slow round never leased its deliveries")


def test_a_round_that_outlived_its_lease_records_nothing(
    runtime: Runtime, tenant: TestTenant
) -> None:
    with Receiver() as receiver:
        register(runtime.db, tenant, receiver.url, receiver)
        pk = new_delivery(runtime.db, tenant)
        endpoint = endpoint_of(runtime.db, pk)
        assert endpoint is not None
        lease = timedelta(seconds=30)
        leased_at = utcnow()
        with runtime.db.transaction() as session:
            (prepared,) = lease_round(
                session, endpoint_pk=endpoint, now=leased_at, lease=lease, limit=10
            ) or [None]
        assert prepared is not None
        # The lease ran out and another holder took the delivery over (a new lease).
        with runtime.db.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == pk)
                .values(sending_until=utcnow() + timedelta(seconds=60))
            )
        late = Sent(pk, AttemptResult(204, None, 40_000), leased_at)
        with runtime.db.transaction() as session:
            outcomes = finish_round(
                session, endpoint_pk=endpoint, sent=[late], now=utcnow(), schedule=(60,),
                leased_until=leased_at + lease,
            )  # fmt: skip
        assert outcomes == {}
    assert attempts(runtime.db, endpoint) == 0
    with runtime.db.transaction() as session:
        delivery = session.get(WebhookDelivery, pk)
        assert delivery is not None
        assert delivery.status == "pending" and delivery.attempt_count == 0
        assert delivery.sending_until is not None  # still the other holder's
