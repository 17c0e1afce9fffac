"""Run a bench command on a private PostgreSQL cluster with production-like settings.

    python -m bench.private_pg -- python -m bench e2e
    python -m bench.private_pg --keep -- python -m bench ceiling e2e   # leave it running

The shared development cluster runs with autovacuum off and small buffers, so a long
run measures dead tuples piling up (every claim updates its inventory and participant
rows) more than it measures Coffer. This starts `initdb` + `postgres` on a free port,
as the `postgres` user when run as root, with the settings below (autovacuum on, as
production has it; buffers sized for this 24 GiB machine; durable commits), sets
COFFER_BENCH_PG for the command, and removes the cluster afterwards.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.infra import free_port

PG_BIN = Path(os.environ.get("COFFER_PG_BIN", "/usr/lib/postgresql/15/bin"))

# Production-like for a 2-core, 24 GiB host running PostgreSQL beside the app. Durable
# (fsync, synchronous_commit on: the defaults); autovacuum on with its default
# thresholds and a 15 s naptime, as busy OLTP installations commonly set it.
SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "12GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "512MB",
    "wal_buffers": "16MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "max_connections": "200",
    "autovacuum": "on",
    "autovacuum_naptime": "15s",
    "synchronous_commit": "on",
    "fsync": "on",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")

    root = Path(tempfile.mkdtemp(prefix="coffer-bench-pg-"))
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data, port = root / "data", free_port()
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "-E", "UTF8", "--locale", "C.UTF-8"],
        user=user, check=True, capture_output=True,
    )  # fmt: skip
    flags = [p for k, v in {**SETTINGS, "port": str(port)}.items() for p in ("-c", f"{k}={v}")]
    flags += ["-c", f"unix_socket_directories={root}"]
    server = subprocess.Popen(
        [str(PG_BIN / "postgres"), "-D", str(data), *flags],
        user=user, stdout=subprocess.DEVNULL, stderr=open(root / "log", "wb"),  # noqa: SIM115
    )  # fmt: skip
    admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(100):
        try:
            with psycopg.connect(admin, connect_timeout=1) as connection:
                connection.execute("SELECT 1")
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    print(f"private PostgreSQL on port {port} ({root}); settings: {SETTINGS}", flush=True)
    try:
        return subprocess.call(command, env={**os.environ, "COFFER_BENCH_PG": admin})
    finally:
        if not args.keep:
            server.terminate()
            server.wait(timeout=60)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
