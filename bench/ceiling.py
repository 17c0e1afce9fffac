"""1. The ceiling: the raw SQL of one claim, through pgbench, at 1..16 clients.

A claim is the API's one recording statement (autocommit: a data-modifying CTE
journalling the key and inserting the pending claim) and one transaction: lock
the pending claim, read the reward, find the participant and count the claims
it holds of the reward, debit points conditionally with a ledger entry,
allocate a code, mark the claim succeeded with its allocation, append its fact,
store the journal's response (bench/pgbench/*.sql). Two allocations are measured:

- classic: the oldest unallocated code, `FOR UPDATE SKIP LOCKED`, flagged allocated;
- coffer: lock the inventories row, take the next position by equality on
  reward_codes(reward_id, seq), as Coffer does.

The best claims/s of any row is "the ceiling" other scripts are read against.
Each client count's baseline is the bare commit rate (a one-row INSERT,
autocommit) at the same client count, measured just before it.

The database is its own, migrated with Coffer's schema, plus an `allocated`
flag and a partial index for the classic allocation.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.config import Context
from bench.infra import fresh_database, libpq_args, libpq_env, log, migrate, server_settings
from bench.report import Result

SQL = Path(__file__).resolve().parent / "pgbench"
VARIANTS = ("classic", "coffer")
_HEADROOM = 1.6  # codes per expected claim, so a run never exhausts its reward


def run(ctx: Context) -> Result:
    result = Result("ceiling")
    sizes = ctx.sizes
    best = measure(ctx, clients=sizes.ceiling_clients, secs=sizes.ceiling_secs, result=result)
    ctx.ceiling = best
    result.extra["ceiling"] = best
    result.notes.append(
        f"the ceiling is {best['claims_per_s']:,.0f} claims/s "
        f"({best['variant']}, {best['clients']} clients); per claim: 2 commits, "
        "13 statements, pgbench -M prepared"
    )
    return result


def baseline(ctx: Context, result: Result) -> dict[str, Any]:
    """The ceiling for a script run on its own: this run's, or a reduced sweep taken now."""
    if ctx.ceiling is not None:
        return ctx.ceiling
    sizes = ctx.sizes
    log(f"no ceiling in this run yet: reduced sweep at {sizes.baseline_clients} clients")
    best = measure(ctx, clients=sizes.baseline_clients, secs=sizes.baseline_secs, result=None)
    best["reduced"] = True
    ctx.ceiling = best
    result.notes.append(
        f"ceiling from a reduced sweep ({best['variant']}, clients {sizes.baseline_clients}, "
        f"{sizes.baseline_secs:g} s each): {best['claims_per_s']:,.0f} claims/s"
    )
    return best


def measure(
    ctx: Context, *, clients: tuple[int, ...], secs: float, result: Result | None
) -> dict[str, Any]:
    sizes = ctx.sizes
    rows: list[dict[str, Any]] = []
    with fresh_database("ceiling") as url, tempfile.TemporaryDirectory() as tmp:
        migrate(url)
        scripts = _write_scripts(Path(tmp))
        with psycopg.connect(url, autocommit=True) as conn:
            tenant = _prepare(conn, participants=sizes.ceiling_participants)
            if result is not None:
                result.extra["server"] = server_settings(url)
            for n in clients:
                commit = _pgbench(url, scripts["commit"], clients=n, secs=sizes.commit_secs, env={})
                for variant in VARIANTS:
                    # A claim (2 commits, 13 statements) is slower than a bare commit; sized on
                    # the commit rate itself, a noisy commit measurement cannot leave a run
                    # short of codes (pgbench aborts when the inventory runs out).
                    expected = max(5000, commit["tps"] * secs)
                    reward = _reward(conn, tenant, codes=int(expected * _HEADROOM))
                    variables = {
                        "tenant": tenant,
                        "reward": reward,
                        "participants": str(sizes.ceiling_participants),
                        "fingerprint": "bench",
                    }
                    run_ = _pgbench(url, scripts[variant], clients=n, secs=secs, env=variables)
                    _check(conn, reward, run_)
                    row = {
                        "variant": variant,
                        "clients": n,
                        "claims_per_s": run_["tps"],
                        "latency_ms": run_["latency_ms"],
                        "commits_per_s": commit["tps"],
                        "claims": run_["transactions"],
                    }
                    rows.append(row)
                    log(
                        f"ceiling {variant} c={n}: {run_['tps']:,.0f} claims/s "
                        f"(bare commits {commit['tps']:,.0f}/s)"
                    )
                    if result is not None:
                        result.add(
                            f"{variant} claims, {n} client(s)",
                            run_["tps"],
                            "claims/s",
                            baseline_name=f"bare commits, {n} client(s)",
                            baseline=commit["tps"],
                            baseline_unit="commits/s",
                        )
    best = max(rows, key=lambda r: r["claims_per_s"])
    if result is not None:
        result.extra["rows"] = rows
        _scaling_figures(result, rows)
    return {**best, "rows": rows}


def _scaling_figures(result: Result, rows: list[dict[str, Any]]) -> None:
    """Coffer's allocation against the classic one at each client count."""
    by = {(r["variant"], r["clients"]): r["claims_per_s"] for r in rows}
    for (variant, n), value in sorted(by.items(), key=lambda x: x[0][1]):
        if variant == "coffer" and ("classic", n) in by:
            result.add(
                f"coffer vs classic allocation, {n} client(s)",
                value,
                "claims/s",
                baseline_name="classic",
                baseline=by[("classic", n)],
            )


def _write_scripts(folder: Path) -> dict[str, Path]:
    head, tail = (SQL / "claim_head.sql").read_text(), (SQL / "claim_tail.sql").read_text()
    scripts = {"commit": SQL / "commit.sql"}
    for variant in VARIANTS:
        path = folder / f"claim_{variant}.sql"
        path.write_text(head + (SQL / f"alloc_{variant}.sql").read_text() + tail)
        scripts[variant] = path
    return scripts


def _prepare(conn: psycopg.Connection, *, participants: int) -> str:
    conn.execute("ALTER TABLE reward_codes ADD COLUMN allocated boolean NOT NULL DEFAULT false")
    conn.execute(
        "CREATE INDEX ix_bench_unallocated ON reward_codes (reward_id, id) WHERE NOT allocated"
    )
    conn.execute("CREATE TABLE bench_commits (id bigserial PRIMARY KEY, v int NOT NULL)")
    tenant = "ten_bench"
    conn.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES (%s, 'bench', now())", (tenant,)
    )
    conn.execute(
        "INSERT INTO participants (tenant_id, mode, external_id, balance, created_at) "
        "SELECT %s, 'live', 'p' || g, 1000000000000, now() FROM generate_series(1, %s) g",
        (tenant, participants),
    )
    conn.execute("VACUUM ANALYZE")
    return tenant


def _reward(conn: psycopg.Connection, tenant: str, *, codes: int) -> str:
    reward = f"rwd_bench_{time.monotonic_ns()}"
    conn.execute(
        "INSERT INTO rewards (id, tenant_id, mode, name, type, points_cost, max_claims_per_user,"
        " created_at, updated_at) VALUES (%s, %s, 'live', 'Bench coupon', 'coupon', 10,"
        " 1000000, now(), now())",
        (reward, tenant),
    )
    conn.execute(
        "INSERT INTO inventories (reward_id, tenant_id, mode, uploaded_count, allocated_count,"
        " low_stock_notified) VALUES (%s, %s, 'live', %s, 0, false)",
        (reward, tenant, codes),
    )
    conn.execute(
        "INSERT INTO reward_codes (tenant_id, mode, reward_id, value, seq, created_at) "
        "SELECT %s, 'live', %s, 'CODE-' || g, g, now() FROM generate_series(1, %s) g",
        (tenant, reward, codes),
    )
    conn.execute("ANALYZE reward_codes")
    return reward


def _pgbench(
    url: str, script: Path, *, clients: int, secs: float, env: dict[str, str]
) -> dict[str, Any]:
    args = ["pgbench", "-n", "-M", "prepared", "-f", str(script)]
    args += ["-c", str(clients), "-j", str(clients), "-T", str(max(1, round(secs)))]
    for name, value in env.items():
        args += ["-D", f"{name}={value}"]
    # Every statement of the claim is a point lookup or insert by index. Without this,
    # the generic plans pgbench -M prepared settles on after five executions are costed
    # on the near-empty tables of the run's start (a seq scan of `claims` for the
    # per-user count), and slow down as the run fills them.
    env_ = {**libpq_env(url), "PGOPTIONS": "-c enable_seqscan=off"}
    out = subprocess.run(
        [*args, *libpq_args(url)], capture_output=True, text=True, env=env_, check=False
    )
    text = out.stdout + out.stderr
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    if out.returncode != 0 or tps is None or "aborted" in text:
        raise RuntimeError(f"pgbench failed ({out.returncode}):\n{text[-2000:]}")
    latency = re.search(r"latency average = ([\d.]+) ms", text)
    done = re.search(r"number of transactions actually processed: (\d+)", text)
    return {
        "tps": float(tps.group(1)),
        "latency_ms": float(latency.group(1)) if latency else None,
        "transactions": int(done.group(1)) if done else None,
    }


def _check(conn: psycopg.Connection, reward: str, run_: dict[str, Any]) -> None:
    """Every transaction made one succeeded claim with its own code and its stored response;
    a claim recorded by a transaction pgbench cut off at the end of the run may stay pending."""
    claims, codes, answered = conn.execute(
        "SELECT count(*), count(DISTINCT c.code_id), count(j.response_status) FROM claims c"
        " JOIN idempotency_keys j ON j.id = c.idempotency_record_id"
        " WHERE c.reward_id = %s AND c.status = 'succeeded'",
        (reward,),
    ).fetchone()  # type: ignore[misc]
    if (
        claims != codes
        or claims != answered
        or (run_["transactions"] and claims < run_["transactions"])
    ):
        raise RuntimeError(
            f"ceiling run made {claims} claims with {codes} distinct codes, {answered} answered"
        )


def target_note(ceiling: dict[str, Any]) -> str:
    return f"{ceiling['variant']}, {ceiling['clients']} clients"
