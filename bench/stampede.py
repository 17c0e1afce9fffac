"""5. Stampede: 20,000 claims on 10,000 codes, against 10,000 uncontended claims.

Both go over HTTP (`Prefer: respond-async`, wrk at `stampede_clients`
connections) to a paid reward (`points_deduction: true`, 100 points) while the
worker drains; the wall time runs from the first request until nothing is
pending.

- uncontended (the baseline): 10,000 claims, each by its own participant
  holding exactly 100 points, on a reward with 10,000 codes: all succeed.
- stampede: 20,000 claims by 5,000 participants (4 claims each, interleaved,
  so a participant's claims race each other) holding 350 points, on a reward
  with 10,000 codes and max_claims_per_user 4: each participant can afford 3,
  so 15,000 could succeed but only 10,000 codes exist.

Afterwards the invariants are checked in SQL: exactly 10,000 successes (claims
with status 'succeeded'), 10,000 distinct code ids among them, no balance below
zero, every balance equal to the sum of its ledger, exactly one
reward.reward_claimed fact per succeeded claim (and none without one), and a
stored response in the journal for every decided claim.
"""

from __future__ import annotations

from typing import Any

from bench import loadgen
from bench.common import claims_phase, start_stack
from bench.config import Context
from bench.infra import environment, log
from bench.report import Result, Target
from bench.seed import Seeder, Tenant

COST = 100


def run(ctx: Context) -> Result:
    result = Result("stampede")
    sizes = ctx.sizes
    codes, claims = sizes.stampede_codes, sizes.stampede_claims
    per = sizes.stampede_claims_per_participant
    participants = claims // per
    with environment("stampede", ctx.logs) as (url, _redis, stack), Seeder(url) as seed:
        tenant = seed.tenant()
        calm = seed.reward(tenant, name="uncontended", codes=codes, points_cost=COST)
        rush = seed.reward(
            tenant, name="stampede", codes=codes, points_cost=COST, max_claims_per_user=per
        )
        seed.participants(tenant, prefix="u", count=codes, balance=COST)
        seed.participants(tenant, prefix="s", count=participants, balance=COST * 7 // 2)
        warm = min(1000, codes)
        warmup = seed.reward(tenant, name="warm-up", codes=warm, points_cost=COST)
        seed.participants(tenant, prefix="w", count=warm, balance=COST)
        start_stack(ctx, stack)
        claims_phase(  # pools, caches and imports warm before either figure is taken
            stack,
            seed,
            tenant,
            reward_id=warmup,
            clients=sizes.stampede_clients,
            total=warm,
            key_prefix="warm-",
            participants=warm,
            pid_prefix="w",
        )
        base = claims_phase(
            stack,
            seed,
            tenant,
            reward_id=calm,
            clients=sizes.stampede_clients,
            total=codes,
            key_prefix="calm-",
            participants=codes,
            pid_prefix="u",
        )
        log(f"uncontended: {base.decided:,} claims in {base.wall_s:.2f} s {base.outcomes}")
        hit = claims_phase(
            stack,
            seed,
            tenant,
            reward_id=rush,
            clients=sizes.stampede_clients,
            total=claims,
            key_prefix="rush-",
            participants=participants,
            pid_prefix="s",
        )
        log(f"stampede: {hit.decided:,} claims in {hit.wall_s:.2f} s {hit.outcomes}")
        checks = invariants(seed, tenant, rush=rush, calm=calm, codes=codes)
    held = all(c["ok"] for c in checks.values())
    for name, check in checks.items():
        if not check["ok"]:
            result.notes.append(f"INVARIANT BROKEN: {name}: {check}")
    result.add(
        f"stampede wall time, {claims:,} claims on {codes:,} codes",
        hit.wall_s,
        "s",
        baseline_name=f"{codes:,} uncontended claims",
        baseline=base.wall_s,
    )
    result.add(
        "stampede claims/s decided",
        hit.rate,
        "claims/s",
        baseline_name="uncontended claims/s",
        baseline=base.rate,
    )
    result.targets.append(
        Target(
            "stampede wall time / uncontended",
            hit.wall_s / base.wall_s if base.wall_s else None,
            2.0,
            higher_is_better=False,
            held=held,
            detail=f"{hit.wall_s:.2f} s vs {base.wall_s:.2f} s; invariants "
            + ("held" if held else "BROKEN"),
        )
    )
    result.extra = {
        "uncontended": base.as_dict(),
        "stampede": hit.as_dict(),
        "invariants": checks,
        "loadgen": loadgen.tool(),
    }
    return result


def invariants(
    seed: Seeder, tenant: Tenant, *, rush: str, calm: str, codes: int
) -> dict[str, dict[str, Any]]:
    """The guarantees of CONTRACT §5-§7 read back in SQL. Every claim is a `claims` row
    from acceptance on; the ones that hold a code are those with status 'succeeded'."""
    one = seed.scalar
    held = "SELECT {} FROM claims WHERE reward_id = %s AND status = 'succeeded'"
    successes = one(held.format("count(*)"), (rush,))
    succeeded = seed.outcomes([rush]).get("succeeded", 0)
    distinct = one(held.format("count(DISTINCT code_id)"), (rush,))
    calm_ok = one(held.format("count(*)"), (calm,))
    negative = one("SELECT count(*) FROM participants WHERE balance < 0")
    unbalanced = one(
        "SELECT count(*) FROM participants p LEFT JOIN ("
        " SELECT participant_id, sum(amount) AS total FROM ledger_entries GROUP BY 1) l"
        " ON l.participant_id = p.id WHERE p.balance <> coalesce(l.total, 0)"
    )
    facts = (
        "WITH f AS (SELECT data->>'claim_id' AS claim_id, count(*) AS n FROM facts"
        " WHERE type = 'reward.reward_claimed' GROUP BY 1) "
    )
    not_one = one(
        facts + "SELECT count(*) FROM claims c LEFT JOIN f ON f.claim_id = c.claim_id"
        " WHERE c.status = 'succeeded' AND coalesce(f.n, 0) <> 1"
    )
    orphans = one(
        facts + "SELECT count(*) FROM f LEFT JOIN claims c ON c.claim_id = f.claim_id"
        " AND c.status = 'succeeded' WHERE c.id IS NULL"
    )
    unanswered = one(
        "SELECT count(*) FROM claims c JOIN idempotency_keys j ON j.id = c.idempotency_record_id"
        " WHERE c.status <> 'pending' AND j.response_status IS NULL"
    )
    allocated = one("SELECT allocated_count FROM inventories WHERE reward_id = %s", (rush,))
    over_limit = one(
        "SELECT count(*) FROM (SELECT participant_id FROM claims WHERE reward_id = %s"
        " AND status = 'succeeded' GROUP BY 1 HAVING count(*) > (SELECT max_claims_per_user"
        " FROM rewards WHERE id = %s)) x",
        (rush, rush),
    )
    pending = seed.pending()
    return {
        "exactly N successes": {
            "ok": successes == codes and succeeded == codes,
            "succeeded_claims": successes,
            "outcomes_succeeded": succeeded,
            "expected": codes,
        },
        "N distinct code ids": {"ok": distinct == codes, "distinct": distinct},
        "inventory counter": {"ok": allocated == codes, "allocated_count": allocated},
        "uncontended all succeeded": {"ok": calm_ok == codes, "succeeded_claims": calm_ok},
        "no balance below zero": {"ok": negative == 0, "participants": negative},
        "balance = sum of ledger": {"ok": unbalanced == 0, "participants": unbalanced},
        "one reward_claimed fact per claim": {
            "ok": not_one == 0 and orphans == 0,
            "claims_without_exactly_one": not_one,
            "facts_without_claim": orphans,
        },
        "max_claims_per_user": {"ok": over_limit == 0, "participants_over": over_limit},
        "every decided claim's key answered": {"ok": unanswered == 0, "claims": unanswered},
        "nothing pending": {"ok": pending == 0, "pending": pending},
    }
