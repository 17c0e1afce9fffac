"""Code uploads on PostgreSQL: concurrent uploads stay contiguous, unique and in order."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.catalog import get_reward
from core.errors import RewardNotFound
from core.inputs import CodeUpload
from core.inventory import upload_codes
from core.models import Inventory, RewardCode
from core.runtime import Runtime
from core.schemas import CodeUploadResult
from tests.api.conftest import codes_in_seq_order
from tests.support.claims import new_reward
from tests.support.tenants import TestTenant

UPLOADERS = 8
BATCH = 500
STRIDE = 250  # each batch overlaps half of the next one


def test_concurrent_overlapping_uploads_add_each_code_once_with_contiguous_positions(
    runtime: Runtime, tenant: TestTenant
) -> None:
    reward_id = new_reward(runtime.db, tenant)
    batches = [
        [f"C-{n:06d}" for n in range(start * STRIDE, start * STRIDE + BATCH)]
        for start in range(UPLOADERS)
    ]
    go = threading.Event()

    def upload(codes: list[str]) -> CodeUploadResult:
        go.wait(timeout=30)
        with runtime.db.transaction() as session:
            return upload_codes(
                session,
                principal=tenant.principal(),
                reward_id=reward_id,
                upload=CodeUpload(codes=codes),
            )

    with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
        futures = [pool.submit(upload, batch) for batch in batches]
        go.set()
        results = [future.result() for future in futures]

    distinct = {code for batch in batches for code in batch}
    rows = codes_in_seq_order(runtime, reward_id)
    assert sum(result.added for result in results) == len(distinct) == len(rows)
    assert sum(result.duplicates for result in results) == UPLOADERS * BATCH - len(distinct)
    assert [seq for seq, _ in rows] == list(range(1, len(distinct) + 1))
    assert {value for _, value in rows} == distinct
    with runtime.db.transaction() as session:
        inventory = session.get(Inventory, reward_id)
        assert inventory is not None
        assert (inventory.uploaded_count, inventory.allocated_count) == (len(distinct), 0)
        entry = get_reward(session, principal=tenant.principal(), reward_id=reward_id)
    assert entry.available_codes == len(distinct)
    # Uploads were serialized: each one's new codes are the run of positions just below
    # the available count it reported, in the order it gave them, and the runs tile 1..N.
    runs = []
    for batch, result in zip(batches, results, strict=True):
        first, last = result.available_codes - result.added, result.available_codes
        run = [value for _, value in rows[first:last]]
        assert set(run) <= set(batch)
        assert run == [code for code in batch if code in set(run)]
        runs.append((first, last))
    assert sorted(runs)[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(sorted(runs), sorted(runs)[1:], strict=False))
    assert sorted(runs)[-1][1] == len(distinct)


def test_an_upload_to_another_tenants_reward_is_not_found_and_adds_nothing(
    runtime: Runtime, tenant: TestTenant, other_tenant: TestTenant
) -> None:
    reward_id = new_reward(runtime.db, other_tenant, codes=2)

    with pytest.raises(RewardNotFound), runtime.db.transaction() as session:
        upload_codes(
            session,
            principal=tenant.principal(),
            reward_id=reward_id,
            upload=CodeUpload(codes=[f"X-{uuid.uuid4().hex}"]),
        )
    with pytest.raises(RewardNotFound), runtime.db.transaction() as session:
        upload_codes(
            session,
            principal=other_tenant.principal("test"),
            reward_id=reward_id,
            upload=CodeUpload(codes=[f"X-{uuid.uuid4().hex}"]),
        )

    assert len(codes_in_seq_order(runtime, reward_id)) == 2


def test_the_database_refuses_a_code_twice_for_one_reward(
    runtime: Runtime, tenant: TestTenant
) -> None:
    reward_id = new_reward(runtime.db, tenant, codes=1)
    ((seq, value),) = codes_in_seq_order(runtime, reward_id)

    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(
            RewardCode(
                tenant_id=tenant.id, mode="live", reward_id=reward_id, value=value, seq=seq + 1
            )
        )

    with runtime.db.transaction() as session:
        count = session.scalar(
            select(func.count()).select_from(RewardCode).where(RewardCode.reward_id == reward_id)
        )
    assert count == 1
