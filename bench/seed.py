"""Seeding a benchmark database through core, and reading it back with plain SQL.

Tenants, rewards and code uploads go through core (create_tenant,
create_reward, upload_codes), as an operator would make them. Bulk rows that
only set the scene (participants with points and their ledger credits, pending
claim requests, claims of an already-allocated inventory) are written with
INSERT ... SELECT, which takes seconds where a million API calls would take
the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.infra import sqlalchemy_url


@dataclass(frozen=True)
class Tenant:
    id: str
    admin_key: str
    server_key: str


class Seeder:
    def __init__(self, url: str) -> None:
        from core.db import Database  # noqa: PLC0415 - imports core only when seeding

        self.url = url
        self.db = Database(sqlalchemy_url(url), pool_size=2)
        self.pg = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self.db.dispose()
        self.pg.close()

    def __enter__(self) -> Seeder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- through core -------------------------------------------------------

    def tenant(self, name: str = "bench") -> Tenant:
        from core.tenants import create_tenant  # noqa: PLC0415

        with self.db.transaction() as session:
            tenant, keys = create_tenant(session, name=name)
        return Tenant(tenant.id, keys["live"]["admin"], keys["live"]["server"])

    def reward(
        self,
        tenant: Tenant,
        *,
        name: str,
        codes: int,
        points_cost: int | None = 100,
        max_claims_per_user: int = 1,
    ) -> str:
        """A reward with `codes` uploaded codes (core.inventory.upload_codes)."""
        from core.catalog import create_reward  # noqa: PLC0415
        from core.inputs import CodeUpload, RewardDefinition  # noqa: PLC0415
        from core.inventory import upload_codes  # noqa: PLC0415

        definition = RewardDefinition.model_validate(
            {
                "name": name,
                "type": "coupon",
                "points_cost": points_cost,
                "max_claims_per_user": max_claims_per_user,
            }
        )
        principal = self.principal(tenant)
        with self.db.transaction() as session:
            reward_id = create_reward(session, principal=principal, definition=definition).id
        if codes:
            tag = reward_id[-8:].upper()
            upload = CodeUpload.model_construct(codes=[f"B{tag}-{i:08d}" for i in range(codes)])
            with self.db.transaction() as session:
                upload_codes(session, principal=principal, reward_id=reward_id, upload=upload)
        return reward_id

    @staticmethod
    def principal(tenant: Tenant) -> Any:
        from core.tenants import Principal  # noqa: PLC0415

        return Principal(key_id="bench", tenant_id=tenant.id, mode="live", scope="admin")

    # --- bulk rows ----------------------------------------------------------

    def participants(self, tenant: Tenant, *, prefix: str, count: int, balance: int) -> None:
        """Participants prefix1..prefixN with `balance` points, each with its ledger credit."""
        self.pg.execute(
            "INSERT INTO participants (tenant_id, mode, external_id, balance, created_at) "
            "SELECT %s, 'live', %s || g, %s, now() FROM generate_series(1, %s) g",
            (tenant.id, prefix, balance, count),
        )
        self.pg.execute(
            "INSERT INTO ledger_entries (entry_id, tenant_id, mode, participant_id, amount, kind,"
            " reason, balance_after, created_at) "
            "SELECT 'pte_bench_' || p.id, p.tenant_id, p.mode, p.id, p.balance, 'credit',"
            " 'bench seed', p.balance, now() FROM participants p "
            "WHERE p.tenant_id = %s AND p.external_id LIKE %s AND p.balance > 0 "
            "AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.participant_id = p.id)",
            (tenant.id, prefix.replace("_", r"\_") + "%"),
        )

    def pending_claims(
        self,
        tenant: Tenant,
        *,
        reward_ids: list[str],
        count: int,
        participant_prefix: str,
        participant_offset: int = 0,
        key_prefix: str,
    ) -> None:
        """`count` pending claim requests, as the API records them; claim i names reward
        i mod len(reward_ids) and participant prefix(offset + i)."""
        self.pg.execute(
            "INSERT INTO requests (tenant_id, mode, idempotency_key, fingerprint, kind, status,"
            " claim_id, reward_id, participant_external_id, points_deduction, created_at) "
            "SELECT %(t)s, 'live', %(k)s || g, md5(%(k)s || g), 'claim', 'pending',"
            " 'clm_' || replace(gen_random_uuid()::text, '-', ''),"
            " (%(r)s::text[])[1 + (g - 1) %% cardinality(%(r)s::text[])],"
            " %(p)s || (%(o)s + g), true, now() "
            "FROM generate_series(1, %(n)s) g ORDER BY g",
            {
                "t": tenant.id,
                "k": key_prefix,
                "r": reward_ids,
                "p": participant_prefix,
                "o": participant_offset,
                "n": count,
            },
        )

    def allocate(self, tenant: Tenant, *, reward_id: str, upto: int, fillers: int = 1000) -> int:
        """Allocate codes seq <= `upto` of a reward as an earlier drain would have: claim rows
        (with their requests) for filler participants, and the inventory counter moved.
        Returns how many claims were added."""
        self.participants(tenant, prefix="fill", count=fillers, balance=0)
        already = self.pg.execute(
            "SELECT allocated_count FROM inventories WHERE reward_id = %s", (reward_id,)
        ).fetchone()[0]  # type: ignore[index]
        params = {"t": tenant.id, "r": reward_id, "a": already, "u": upto, "f": fillers}
        self.pg.execute(
            "INSERT INTO requests (tenant_id, mode, idempotency_key, fingerprint, kind, status,"
            " claim_id, reward_id, participant_external_id, points_deduction, response_status,"
            " response_body, created_at, completed_at) "
            "SELECT %(t)s::text, 'live', 'fill-' || %(r)s::text || '-' || rc.seq, 'fill',"
            " 'claim', 'succeeded', 'clm_fill_' || rc.id, %(r)s::text,"
            " 'fill' || (1 + rc.seq %% %(f)s), false, 201, '{}'::jsonb, now(), now() "
            "FROM reward_codes rc WHERE rc.reward_id = %(r)s::text AND rc.seq > %(a)s"
            " AND rc.seq <= %(u)s ORDER BY rc.seq",
            params,
        )
        self.pg.execute(
            "INSERT INTO claims (claim_id, request_id, reward_id, participant_id,"
            " participant_external_id, code_id, code_value, reward_name, reward_type,"
            " points_deducted, new_balance, idempotency_key, claimed_at, tenant_id, mode) "
            "SELECT rq.claim_id, rq.id, %(r)s::text, p.id, p.external_id, rc.id, rc.value,"
            " 'filler', 'coupon', 0, 0, rq.idempotency_key, now(), %(t)s::text, 'live' "
            "FROM reward_codes rc "
            "JOIN requests rq ON rq.claim_id = 'clm_fill_' || rc.id "
            "JOIN participants p ON p.tenant_id = %(t)s::text AND p.mode = 'live'"
            " AND p.external_id = 'fill' || (1 + rc.seq %% %(f)s) "
            "WHERE rc.reward_id = %(r)s::text AND rc.seq > %(a)s AND rc.seq <= %(u)s"
            " ORDER BY rc.seq",
            params,
        )
        self.pg.execute(
            "UPDATE inventories SET allocated_count = %s WHERE reward_id = %s", (upto, reward_id)
        )
        self.pg.execute("ANALYZE")  # autovacuum would have, long before a live system got here
        return upto - already

    # --- reading back -------------------------------------------------------

    def pending(self) -> int:
        return self.pg.execute(
            "SELECT count(*) FROM requests WHERE status = 'pending' AND kind = 'claim'"
        ).fetchone()[0]  # type: ignore[index]

    def wait_drained(self, *, timeout_s: float, poll_s: float = 0.01) -> float:
        """Poll until no claim is pending; the monotonic time it was first seen at zero."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.pending() == 0:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.pending()} claims still pending after {timeout_s:.0f}s")
            time.sleep(poll_s)

    def outcomes(
        self, reward_ids: list[str] | None = None, *, key_prefix: str | None = None
    ) -> dict[str, int]:
        """Claim requests by outcome: `succeeded`, an error code, or `pending`."""
        query = (
            "SELECT CASE WHEN status = 'failed' THEN response_body->>'code' ELSE status END,"
            " count(*) FROM requests WHERE kind = 'claim'"
        )
        args: list[Any] = []
        if reward_ids is not None:
            query += " AND reward_id = ANY(%s)"
            args.append(reward_ids)
        if key_prefix is not None:
            query += " AND starts_with(idempotency_key, %s)"
            args.append(key_prefix)
        rows = self.pg.execute(query + " GROUP BY 1 ORDER BY 1", args).fetchall()
        return {str(label): int(count) for label, count in rows}

    def claims_per_batch(self, reward_ids: list[str]) -> float | None:
        """Mean claims a drain batch decided: a batch stamps all its claims with one
        completed_at (the time it started)."""
        value = self.scalar(
            "SELECT count(*)::float / nullif(count(DISTINCT completed_at), 0) FROM requests"
            " WHERE kind = 'claim' AND reward_id = ANY(%s) AND completed_at IS NOT NULL",
            (reward_ids,),
        )
        return None if value is None else round(float(value), 1)

    def scalar(self, query: str, args: Any = None) -> Any:
        return self.pg.execute(query, args).fetchone()[0]  # type: ignore[index]
