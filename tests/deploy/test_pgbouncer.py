"""Coffer through PgBouncer in transaction mode (docs/scaling.md, issue 10 item 7).

Each test starts a private PgBouncer (the Debian binary, `pgbouncer` in
scripts/test's APT_PACKAGES) on a free port in front of a fresh test database, with
pool_mode = transaction and a small server pool, so client connections really share
server connections between transactions.

What they establish for this PgBouncer version (1.18, no protocol-level prepared
statement support, which came in 1.21 with max_prepared_statements):

- psycopg's default (prepare_threshold 5: a statement run 5 times on a connection is
  prepared server-side as `_pg3_N`) breaks: a second client lands on the server
  connection that already holds `_pg3_0` and fails with DuplicatePreparedStatement;
- `?prepare_threshold=none` on COFFER_DATABASE_URL (core.db.psycopg_options) turns
  server-side preparing off, and then migrations, the API (gunicorn) and the worker
  (Celery) run claims through the bouncer with every invariant held.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from pydantic import ValidationError
from sqlalchemy import text

from core.db import Database, psycopg_options
from core.migrate import upgrade
from core.settings import Settings
from tests.support.client import Api
from tests.support.processes import die_with_parent
from tests.support.services import PG_ADMIN_URL, fresh_database, private_redis_db
from tests.support.stack import BIN, Stack, free_port
from tests.support.tenants import make_tenant

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_POOL = 3  # server connections per database/user pair: fewer than the clients

pytestmark = pytest.mark.skipif(
    not Path(PGBOUNCER).exists(), reason="pgbouncer is installed by scripts/test (APT_PACKAGES)"
)


class Bouncer:
    """A private PgBouncer in transaction mode in front of one database."""

    def __init__(self, database: str, workdir: Path) -> None:
        self.database = database
        self.port = free_port()
        admin = PG_ADMIN_URL.split("://", 1)[1].split("/", 1)[0]  # postgres@127.0.0.1:5432
        user, _, hostport = admin.rpartition("@")
        host, _, port = hostport.partition(":")
        self.user = user or "postgres"
        (workdir / "users.txt").write_text(f'"{self.user}" ""\n')
        (workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{database} = host={host} port={port or 5432} dbname={database} user={self.user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
            f"admin_users = {self.user}\n"
            f"pool_mode = transaction\ndefault_pool_size = {SERVER_POOL}\n"
            "max_client_conn = 500\nmin_pool_size = 0\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        for path in (workdir, workdir / "users.txt", workdir / "pgbouncer.ini"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the user it runs as
        args = [PGBOUNCER, str(workdir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            args[1:1] = ["-u", pwd.getpwnam("postgres").pw_name]
        with open(workdir / "pgbouncer.log", "wb") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )  # fmt: skip
        self.log = workdir / "pgbouncer.log"
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pgbouncer did not start: {self.log.read_text()}") from None
                time.sleep(0.2)

    def conninfo(self, database: str | None = None) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database or self.database}"

    def url(self, **query: str) -> str:
        tail = "&".join(f"{k}={v}" for k, v in query.items())
        base = f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"
        return base + (f"?{tail}" if tail else "")

    def stats(self) -> dict[str, int]:
        """SHOW STATS / SHOW POOLS of the admin console, for this database."""
        with psycopg.connect(self.conninfo("pgbouncer"), autocommit=True) as admin:
            stats = admin.execute("SHOW STATS")
            names = [c.name for c in stats.description or ()]
            row = next(dict(zip(names, r, strict=True)) for r in stats if r[0] == self.database)
            pools = admin.execute("SHOW POOLS")
            names = [c.name for c in pools.description or ()]
            pool = next(dict(zip(names, r, strict=True)) for r in pools if r[0] == self.database)
        return {
            "transactions": int(row["total_xact_count"]),
            "servers": int(pool["sv_active"]) + int(pool["sv_idle"]) + int(pool["sv_used"]),
        }

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


@pytest.fixture
def bouncer() -> Iterator[Callable[[], tuple[Bouncer, str]]]:
    """Starts, on demand, a fresh migrated-later database and a bouncer in front of it."""
    started: list[Bouncer] = []
    contexts = []
    workdirs: list[str] = []

    def make() -> tuple[Bouncer, str]:
        context = fresh_database("bouncer")
        contexts.append(context)
        direct_url = context.__enter__()
        workdirs.append(tempfile.mkdtemp(prefix="coffer-pgbouncer-"))
        started.append(Bouncer(direct_url.rsplit("/", 1)[1], Path(workdirs[-1])))
        return started[-1], direct_url

    yield make
    for running in started:
        running.stop()
    for context in reversed(contexts):
        context.__exit__(None, None, None)
    for workdir in workdirs:
        shutil.rmtree(workdir, ignore_errors=True)


def run_same_query(conninfo: str, times: int, **options: object) -> None:
    with psycopg.connect(conninfo, autocommit=True, **options) as conn:  # type: ignore[arg-type]
        for n in range(times):
            conn.execute("SELECT %s::int + 1", (n,))


def test_psycopg_default_prepared_statements_collide_in_transaction_mode(
    bouncer: Callable[[], tuple[Bouncer, str]],
) -> None:
    running, _ = bouncer()
    # Client 1 prepares `_pg3_0` on a server connection; once the pool hands that
    # server connection to client 2, its own `_pg3_0` collides (or, the other way
    # round, a statement is missing). Enough clients make sure they meet.
    with pytest.raises(
        (psycopg.errors.DuplicatePreparedStatement, psycopg.errors.InvalidSqlStatementName)
    ):
        for _ in range(SERVER_POOL + 2):
            run_same_query(running.conninfo(), times=10)


def test_prepare_threshold_none_runs_the_same_clients_cleanly(
    bouncer: Callable[[], tuple[Bouncer, str]],
) -> None:
    running, _ = bouncer()
    for _ in range(SERVER_POOL + 2):
        run_same_query(running.conninfo(), times=10, prepare_threshold=None)
    # Coffer's URL option does the same for its pooled engine.
    db = Database(running.url(prepare_threshold="none"), pool_size=2)
    try:
        for _ in range(20):
            with db.transaction() as session:
                assert session.execute(text("SELECT 41 + 1")).scalar_one() == 42
            with db.autocommit() as session:
                assert session.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        db.dispose()
    assert running.stats()["transactions"] >= 40


def test_claims_through_pgbouncer_in_transaction_mode(
    bouncer: Callable[[], tuple[Bouncer, str]], tmp_path: Path
) -> None:
    running, direct_url = bouncer()
    url = running.url(prepare_threshold="none")
    upgrade(url)  # migrations through the bouncer too
    db = Database(url, pool_size=2)
    with private_redis_db() as redis_url:
        stack = Stack(database_url=url, redis_url=redis_url, logs=tmp_path, claim_wait_ms="10000")
        try:
            stack.start_api()
            stack.start_worker(concurrency=2)
            tenant = make_tenant(db)
            api = Api(stack.base_url, tenant.key("live", "admin"))
            reward = api.create_reward(points_cost=10)
            api.upload(reward["id"], [f"B-{n}" for n in range(60)])
            people = [f"bouncer-{uuid.uuid4().hex[:8]}" for _ in range(80)]
            for person in people:
                api.credit(person, 10)

            def claim(n: int) -> requests.Response:
                prefer = "respond-async" if n % 2 else None
                return api.claim(reward["id"], people[n], points_deduction=True, prefer=prefer)

            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(claim, range(len(people))))
            assert {a.status_code for a in answers} <= {201, 202, 409}, [a.text for a in answers]

            # 201: decided while waiting; 409: refused while waiting; 202: look it up.
            refused = [a.json()["code"] for a in answers if a.status_code == 409]
            ids = [a.json()["claim_id"] for a in answers if a.status_code in (201, 202)]

            def decided() -> list[dict[str, object]]:
                return [api.get(f"/claims/{claim_id}").json() for claim_id in ids]

            deadline = time.monotonic() + 60
            views = decided()
            while any(view["status"] == "pending" for view in views):
                assert time.monotonic() < deadline, "claims still pending through the bouncer"
                time.sleep(0.5)
                views = decided()
        finally:
            stack.stop()
            db.dispose()

    succeeded = [v for v in views if v["status"] == "succeeded"]
    assert len(succeeded) == 60  # every code, once
    failed = [v["error"]["code"] for v in views if v["status"] == "failed"]  # type: ignore[index]
    assert set(refused + failed) == {"inventory_exhausted"}
    assert len(refused) + len(failed) == 20
    stats = running.stats()
    # Every claim went through it (recorded, then decided: two transactions at least; the
    # API's key lookups no longer do, served from the key cache), on few server connections.
    assert stats["transactions"] >= 2 * len(people) and stats["servers"] <= SERVER_POOL
    check = subprocess.run(
        [str(BIN / "coffer"), "check"], env={**stack.env}, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    # The same totals straight from PostgreSQL, not through the bouncer.
    with psycopg.connect(direct_url.replace("+psycopg", "")) as conn:
        balances = conn.execute("SELECT count(*) FROM participants WHERE balance = 0").fetchone()
    assert balances is not None and balances[0] == 60


@pytest.mark.parametrize(
    ("query", "expected"),
    [("?prepare_threshold=none", None), ("?prepare_threshold=None", None),
     ("?prepare_threshold=0", 0), ("?prepare_threshold=12&sslmode=disable", 12)],
)  # fmt: skip
def test_the_url_option_becomes_psycopg_prepare_threshold(query: str, expected: int | None) -> None:
    target, connect_args = psycopg_options(f"postgresql+psycopg://u@h/db{query}")
    assert connect_args == {"prepare_threshold": expected}
    assert "prepare_threshold" not in str(target)  # libpq would refuse it


@pytest.mark.parametrize("value", ["-1", "five", "1.5"])
def test_a_bad_prepare_threshold_is_a_settings_error(value: str) -> None:
    url = f"postgresql+psycopg://u@h/db?prepare_threshold={value}"
    with pytest.raises(ValidationError, match="prepare_threshold must be none or a whole number"):
        Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
