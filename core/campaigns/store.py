"""Creating a campaign: the campaign row and its items, written from a stream of ids.

On PostgreSQL the ids are COPYed into a temporary table as they are read and
then inserted once each, in the order first seen (INSERT ... SELECT DISTINCT
ON), so a million ids cost two statements and never sit in Python at once. On
SQLite they are inserted in batches with INSERT OR IGNORE. A bad line raises
before commit: nothing of the upload is kept (CONTRACT §8).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from core.campaigns.upload import MAX_IDS
from core.catalog import load
from core.clock import utcnow
from core.errors import ValidationFailed
from core.ids import new_id
from core.models import Campaign, CampaignItem
from core.tenants import Principal

_SQLITE_BATCH = 5_000


def create_campaign(
    session: Session,
    *,
    principal: Principal,
    reward_id: str,
    name: str | None,
    points_deduction: bool,
    ids: Iterable[tuple[int, str]],
) -> Campaign:
    """Store a running campaign and one pending item per distinct id.

    Raises RewardNotFound (404) and ValidationFailed (400: a bad line, no ids, or more
    than 1,000,000 distinct ids); the caller's transaction then keeps nothing.
    """
    load(session, principal=principal, reward_id=reward_id)  # 404 for another tenant's
    campaign = Campaign(
        id=new_id("cmp"), tenant_id=principal.tenant_id, mode=principal.mode, name=name,
        reward_id=reward_id, points_deduction=points_deduction, status="running", total=0,
        succeeded=0, failed=0, failures_by_code={}, created_at=utcnow(), advanced_at=utcnow(),
    )  # fmt: skip
    session.add(campaign)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        _copy_items(session, campaign.id, ids)
    else:
        _insert_items(session, campaign.id, ids)
    total = session.scalar(
        select(func.count())
        .select_from(CampaignItem)
        .where(CampaignItem.campaign_id == campaign.id)
    )
    if not total:
        raise ValidationFailed([{"field": "participant_ids", "message": "holds no participant id"}])
    if total > MAX_IDS:
        raise ValidationFailed(
            [{"field": "participant_ids", "message": f"holds {total} ids; at most {MAX_IDS}"}]
        )
    campaign.total = total
    session.flush()
    return campaign


def _copy_items(session: Session, campaign_id: str, ids: Iterable[tuple[int, str]]) -> None:
    connection = session.connection()
    connection.execute(
        text("CREATE TEMPORARY TABLE campaign_upload (line bigint, participant_id text)"
             " ON COMMIT DROP")
    )  # fmt: skip
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy("COPY campaign_upload FROM STDIN") as copy:
        for line, participant_id in ids:
            copy.write_row((line, participant_id))
    connection.execute(
        text(
            "INSERT INTO campaign_items (campaign_id, participant_id, status)"
            " SELECT :campaign_id, participant_id, 'pending' FROM ("
            "  SELECT DISTINCT ON (participant_id) participant_id, line FROM campaign_upload"
            "  ORDER BY participant_id, line) AS first_seen"
            " ORDER BY line"
        ),
        {"campaign_id": campaign_id},
    )
    connection.execute(text("DROP TABLE campaign_upload"))


def _insert_items(session: Session, campaign_id: str, ids: Iterable[tuple[int, str]]) -> None:
    statement = sqlite.insert(CampaignItem).on_conflict_do_nothing(
        index_elements=["campaign_id", "participant_id"]
    )
    for batch in _batches(ids, _SQLITE_BATCH):
        rows = [
            {"campaign_id": campaign_id, "participant_id": p, "status": "pending"} for p in batch
        ]
        session.connection().execute(statement, rows)


def _batches(ids: Iterable[tuple[int, str]], size: int) -> Iterator[list[str]]:
    iterator = iter(ids)
    while batch := [participant_id for _, participant_id in islice(iterator, size)]:
        yield batch
