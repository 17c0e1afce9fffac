"""Delivery attempts on real PostgreSQL to a real receiver on 127.0.0.1 (no Celery here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.clock import utcnow
from core.db import Database
from core.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from core.runtime import Runtime
from core.webhooks.deliveries import begin_attempt
from core.webhooks.dispatch import DeliveryPolicy, attempt, queue_due
from core.webhooks.endpoints import rotate_secret
from core.webhooks.sender import RESPONSE_BODY_CAP
from tests.support.receiver import Answer, Receiver, new_delivery, register
from tests.support.tenants import TestTenant

POLICY = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0, 0, 0))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def state(
    db: Database, delivery_pk: int
) -> tuple[WebhookDelivery, WebhookEndpoint, list[WebhookAttempt]]:
    with db.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_pk)
        assert delivery is not None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_pk)
        assert endpoint is not None
        attempts = list(
            session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_pk == delivery_pk))
        )
        return delivery, endpoint, attempts


def test_a_delivery_is_signed_over_the_exact_bytes_and_verifies(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    pk = new_delivery(runtime.db, tenant, {"claim_id": "clm_1", "code_value": "SAVE-ü"})
    done = attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    assert done is not None and done.outcome == "delivered"
    (got,) = receiver.received
    assert got.verified_by == (0,)
    assert got.payload["type"] == "reward.reward_claimed"
    assert got.payload["data"] == {"claim_id": "clm_1", "code_value": "SAVE-ü"}
    delivery, _, attempts = state(runtime.db, pk)
    assert delivery.status == "delivered" and delivery.next_attempt_at is None
    assert [a.status_code for a in attempts] == [204]
    assert got.webhook_id.startswith("evt_")


def test_failures_retry_with_the_same_id_until_delivered(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(500), Answer(502))
    pk = new_delivery(runtime.db, tenant)
    outcomes = [attempt(runtime.db, delivery_pk=pk, policy=POLICY) for _ in range(3)]
    assert [o.outcome for o in outcomes if o] == ["retrying", "retrying", "delivered"]
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert all(r.verified_by == (0,) for r in receiver.received)
    _, endpoint, attempts = state(runtime.db, pk)
    assert [a.status_code for a in attempts] == [500, 502, 204]
    assert attempts[0].error == "HTTP 500"
    assert endpoint.failing_since is None  # a success ends the failure streak


def test_the_schedule_running_out_fails_the_delivery_and_a_retry_gives_one_more_attempt(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.default = Answer(500)
    pk = new_delivery(runtime.db, tenant)
    outcomes = [attempt(runtime.db, delivery_pk=pk, policy=POLICY) for _ in range(4)]
    assert [o.outcome for o in outcomes if o] == ["retrying"] * 3 + ["failed"]
    assert attempt(runtime.db, delivery_pk=pk, policy=POLICY) is None  # nothing more to do
    assert state(runtime.db, pk)[0].status == "failed"


def test_a_slow_answer_is_a_timeout_and_the_schedule_waits(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(204, delay_s=1.5))
    pk = new_delivery(runtime.db, tenant)
    policy = DeliveryPolicy(timeout_s=0.5, allow_private=True, schedule=(60,))
    done = attempt(runtime.db, delivery_pk=pk, policy=policy)
    assert done is not None and done.outcome == "retrying"
    delivery, _, attempts = state(runtime.db, pk)
    assert attempts[0].error is not None and "timed out" in attempts[0].error
    assert delivery.next_attempt_at is not None
    wait = delivery.next_attempt_at - utcnow()
    assert timedelta(seconds=50) < wait <= timedelta(seconds=66)  # 60 s +/- 10 % jitter


def test_retry_after_on_429_postpones_the_next_attempt(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(429, {"Retry-After": "120"}))
    pk = new_delivery(runtime.db, tenant)
    attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    delivery, _, _ = state(runtime.db, pk)
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at - utcnow() > timedelta(seconds=110)
    assert attempt(runtime.db, delivery_pk=pk, policy=POLICY) is None  # not due yet


def test_410_disables_the_endpoint_and_says_so(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(410))
    pk = new_delivery(runtime.db, tenant)
    attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    _, endpoint, _ = state(runtime.db, pk)
    assert endpoint.enabled is False
    assert endpoint.disabled_reason is not None and "410" in endpoint.disabled_reason
    assert attempt(runtime.db, delivery_pk=pk, policy=POLICY) is None  # disabled: not attempted
    assert len(receiver.received) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(302, {"Location": receiver.url + "/elsewhere"}))
    pk = new_delivery(runtime.db, tenant)
    done = attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    assert done is not None and done.outcome == "retrying"
    assert [r.path for r in receiver.received] == ["/hooks"]
    _, _, attempts = state(runtime.db, pk)
    assert attempts[0].status_code == 302
    assert attempts[0].error is not None and "not followed" in attempts[0].error


def test_what_is_kept_of_a_response_body_is_capped(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    receiver.answer(Answer(500, body=b"x" * 100_000))
    pk = new_delivery(runtime.db, tenant)
    attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    _, _, attempts = state(runtime.db, pk)
    assert attempts[0].response_body == "x" * RESPONSE_BODY_CAP


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "localhost", "[::ffff:127.0.0.1]"]
)
def test_private_addresses_are_refused_at_attempt_time_when_not_allowed(
    runtime: Runtime, tenant: TestTenant, host: str
) -> None:
    """Registered while private addresses were allowed; the setting is off at attempt time."""
    register(runtime.db, tenant, f"http://{host}:9/hooks")
    pk = new_delivery(runtime.db, tenant)
    strict = DeliveryPolicy(timeout_s=2, allow_private=False, schedule=(0,))
    done = attempt(runtime.db, delivery_pk=pk, policy=strict)
    assert done is not None and done.outcome == "retrying"
    _, _, attempts = state(runtime.db, pk)
    assert attempts[0].status_code is None
    assert attempts[0].error is not None and attempts[0].error.startswith("refused:")


def test_after_a_rotation_both_secrets_sign_for_a_day(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    endpoint_id = register(runtime.db, tenant, receiver.url, receiver)
    with runtime.db.transaction() as session:
        rotated = rotate_secret(session, principal=tenant.principal(), endpoint_id=endpoint_id)
    receiver.secrets.append(rotated["secret"])
    pk = new_delivery(runtime.db, tenant)
    attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    (got,) = receiver.received
    assert got.headers["webhook-signature"].count("v1,") == 2
    assert got.verified_by == (0, 1)  # the old and the new secret each verify it
    with runtime.db.transaction() as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.endpoint_id == endpoint_id)
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    attempt(runtime.db, delivery_pk=new_delivery(runtime.db, tenant), policy=POLICY)
    assert receiver.received[-1].verified_by == (1,)  # the overlap is over: the new one only


def test_an_endpoint_failing_for_five_days_is_disabled_and_says_so(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    endpoint_id = register(runtime.db, tenant, receiver.url, receiver)
    receiver.default = Answer(500)
    with runtime.db.transaction() as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.endpoint_id == endpoint_id)
            .values(failing_since=utcnow() - timedelta(days=5, minutes=1))
        )
    pk = new_delivery(runtime.db, tenant)
    attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    _, endpoint, _ = state(runtime.db, pk)
    assert endpoint.enabled is False
    assert endpoint.disabled_reason is not None and "5 days" in endpoint.disabled_reason


def test_an_endpoint_takes_at_most_its_cap_of_attempts_at_once(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    pks = [new_delivery(runtime.db, tenant) for _ in range(3)]
    lease = timedelta(seconds=30)
    with runtime.db.transaction() as session:
        taken = [
            begin_attempt(session, delivery_pk=pk, now=utcnow(), lease=lease, cap=2) for pk in pks
        ]
    assert [t is not None for t in taken] == [True, True, False]
    with runtime.db.transaction() as session:
        due = queue_due(session, now=utcnow(), per_endpoint=2)
    assert pks[0] not in due and pks[1] not in due  # in flight
    assert pks[2] in due  # handed back to the periodic job, which offers it again


def test_the_periodic_job_offers_a_due_delivery_once_until_its_queue_lease_ends(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    register(runtime.db, tenant, receiver.url, receiver)
    pk = new_delivery(runtime.db, tenant)  # the relay marked it queued for its first attempt
    with runtime.db.transaction() as session:
        assert pk not in queue_due(session, now=utcnow(), per_endpoint=2)
    later = utcnow() + timedelta(seconds=60)  # the queued task was lost
    with runtime.db.transaction() as session:
        assert pk in queue_due(session, now=later, per_endpoint=2)
    with runtime.db.transaction() as session:
        assert pk not in queue_due(session, now=later, per_endpoint=2)


def test_a_name_is_called_at_its_checked_address_with_its_own_host_header(
    runtime: Runtime, tenant: TestTenant, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    register(runtime.db, tenant, f"http://localhost:{port}/hooks", receiver)
    pk = new_delivery(runtime.db, tenant)
    done = attempt(runtime.db, delivery_pk=pk, policy=POLICY)
    assert done is not None and done.outcome == "delivered"
    (got,) = receiver.received
    assert got.headers["host"] == f"localhost:{port}"  # connected by address, named by host
    assert got.verified_by == (0,)
