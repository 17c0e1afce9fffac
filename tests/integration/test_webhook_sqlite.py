"""The embedded default (SQLite): the same relay, periodic pick-up and attempt code runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core.clock import utcnow
from core.db import Database
from core.migrate import upgrade
from core.models import WebhookAttempt, WebhookDelivery
from core.webhooks.dispatch import (
    DeliveryPolicy,
    attempt,
    deliver_endpoint,
    endpoint_of,
    queue_due,
)
from core.webhooks.removal import ENDPOINT_DELETED, delete_endpoint
from tests.support.receiver import Answer, Receiver, new_delivery, register
from tests.support.tenants import make_tenant


def test_a_fact_is_relayed_picked_up_and_delivered_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coffer.db'}"
    upgrade(url)
    db = Database(url)
    try:
        tenant = make_tenant(db)
        with Receiver() as receiver:
            register(db, tenant, receiver.url, receiver)
            receiver.answer(Answer(500))
            pk = new_delivery(db, tenant, {"claim_id": "clm_sqlite"})
            policy = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0,))
            first = attempt(db, delivery_pk=pk, policy=policy)
            assert first is not None and first.outcome == "retrying"
            with db.transaction() as session:
                due = queue_due(session, now=utcnow() + timedelta(seconds=1), per_endpoint=2)
            assert due == [pk]
            second = attempt(db, delivery_pk=pk, policy=policy)
            assert second is not None and second.outcome == "delivered"
            (got,) = receiver.delivered().values()
            assert got.payload["data"] == {"claim_id": "clm_sqlite"}
        with db.transaction() as session:
            assert session.scalar(select(WebhookDelivery.status)) == "delivered"
    finally:
        db.dispose()


def test_rounds_lease_record_and_retry_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coffer.db'}"
    upgrade(url)
    db = Database(url)
    try:
        tenant = make_tenant(db)
        with Receiver() as receiver:
            register(db, tenant, receiver.url, receiver)
            receiver.answer(Answer(503, headers={"Retry-After": "0"}))
            pks = [new_delivery(db, tenant, {"claim_id": f"clm_{n}"}) for n in range(5)]
            endpoint_pk = endpoint_of(db, pks[0])
            assert endpoint_pk is not None
            policy = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0,), per_endpoint=2)
            first = deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=policy, budget_s=0)
            # One round of five over two connections: one 503 (due again at once), four 2xx.
            assert first.outcomes == {"delivered": 4, "retrying": 1}
            second = deliver_endpoint(db, endpoint_pk=endpoint_pk, policy=policy)
            assert second.outcomes == {"delivered": 1}
            assert len(receiver.delivered()) == 5
        with db.transaction() as session:
            statuses = list(session.scalars(select(WebhookDelivery.status)))
            leased = session.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.sending_until.is_not(None))
            )
        assert statuses == ["delivered"] * 5 and leased is None
    finally:
        db.dispose()


def test_deleting_an_endpoint_ends_its_pending_deliveries_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coffer.db'}"
    upgrade(url)
    db = Database(url)
    try:
        tenant = make_tenant(db)
        with Receiver() as receiver:
            endpoint_id = register(db, tenant, receiver.url, receiver)
            receiver.default = Answer(500)
            pk = new_delivery(db, tenant, {"claim_id": "clm_sqlite"})
            policy = DeliveryPolicy(timeout_s=2, allow_private=True, schedule=(0, 0))
            assert attempt(db, delivery_pk=pk, policy=policy) is not None
            with db.transaction() as session:
                ended = delete_endpoint(
                    session, principal=tenant.principal(), endpoint_id=endpoint_id
                )
            assert ended == 1
            assert attempt(db, delivery_pk=pk, policy=policy) is None
            assert len(receiver.received) == 1
        with db.transaction() as session:
            delivery = session.get_one(WebhookDelivery, pk)
            errors = list(
                session.scalars(
                    select(WebhookAttempt.error)
                    .where(WebhookAttempt.delivery_pk == pk)
                    .order_by(WebhookAttempt.id)
                )
            )
            assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
            assert errors == ["HTTP 500", ENDPOINT_DELETED]
    finally:
        db.dispose()
