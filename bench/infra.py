"""What a benchmark starts and cleans up: a database, a Redis database number, processes.

Everything here is private to one benchmark run: a PostgreSQL database created
for it and dropped afterwards, a Redis database number locked with the same
lock files the test suite uses (so a bench and a test run never share one) and
flushed before and after, and gunicorn / Celery processes started in their
own process groups and killed by group id.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tests.support.services import private_redis_db as shared_private_redis_db

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get(
    "COFFER_BENCH_PG",
    os.environ.get("COFFER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
)
REDIS_BASE_URL = os.environ.get(
    "COFFER_BENCH_REDIS", os.environ.get("COFFER_TEST_REDIS", "redis://127.0.0.1:6379")
)
DRAIN_TASK = "coffer.claims.drain"  # workers/celery_app.py
CELERY_QUEUE = "coffer"


def log(message: str) -> None:
    print(f"  . {message}", flush=True)


# ---------------------------------------------------------------- PostgreSQL


@contextmanager
def fresh_database(label: str) -> Iterator[str]:
    """A new empty database; yields its plain libpq URL; dropped (WITH FORCE) afterwards."""
    name = f"coffer_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def migrate(url: str) -> None:
    """`coffer db upgrade`, in process."""
    from core.migrate import upgrade  # noqa: PLC0415 - keeps `--help` light

    upgrade(sqlalchemy_url(url))


def libpq_args(url: str) -> list[str]:
    """-h/-p/-U and the database name, for pgbench and psql."""
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", parts.username]
    return [*args, parts.path.lstrip("/")]


def libpq_env(url: str) -> dict[str, str]:
    password = urlsplit(url).password
    return {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)


def server_settings(url: str) -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
    with psycopg.connect(url, autocommit=True) as conn:
        return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}  # type: ignore[index]


# --------------------------------------------------------------------- Redis


@contextmanager
def private_redis_db() -> Iterator[str]:
    """A Redis database number nobody else holds, shared with the test suite's allocator."""
    with shared_private_redis_db(REDIS_BASE_URL, descending=True) as url:
        yield url


# ----------------------------------------------------------------- processes


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the bench process dies, however it dies
    (a killed bench must not leave a worker behind that would eat the next run's drain
    tasks from the same Redis database number). gunicorn workers and Celery prefork
    children exit on their own when their parent goes."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """gunicorn and Celery workers as real processes on one database and Redis db.

    Processes run from the repository root with COFFER_* settings only from
    here (the caller's COFFER_* variables are dropped), each in its own
    process group, and are killed by group id.
    """

    def __init__(self, *, database_url: str, redis_url: str, logs: Path, **settings: str) -> None:
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
        self.env = {
            **base,
            "COFFER_DATABASE_URL": sqlalchemy_url(database_url),
            "COFFER_BROKER_URL": redis_url,
            "COFFER_REDIS_URL": redis_url,
            "COFFER_RATE_LIMIT": "100000000/second",
            "COFFER_LOG_LEVEL": "WARNING",
            **{f"COFFER_{k.upper()}": v for k, v in settings.items()},
        }
        self.redis_url = redis_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._celery: Any = None

    def configure(self, **settings: str) -> None:
        """COFFER_* settings for the processes started after this call."""
        self.env.update({f"COFFER_{k.upper()}": v for k, v in settings.items()})

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as out:  # the child keeps its own copy
            process = subprocess.Popen(
                args,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        self.processes[name] = process
        return process

    def start_api(
        self, *, workers: int = 0, threads: int = 0, worker_class: str = "", server: str = ""
    ) -> None:
        """gunicorn as production runs it: the repository's gunicorn.conf.py (gthread) when
        present, with `workers` / `threads` / `worker_class` overriding it when given.
        `server="granian"`: the same app under granian's WSGI interface instead (issue 11
        item 3, another WSGI server), `workers` x `threads` blocking threads (2 x 16)."""
        if server == "granian":
            args = [sys.executable, "-m", "granian", "--interface", "wsgi", "--factory"]
            args += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
            args += ["--workers", str(workers or 2), "--blocking-threads", str(threads or 16)]
            args += ["--no-ws", "api:create_app"]
            self._spawn("api", args)
            self._wait_for("api", self._api_ready)
            for _ in range(8):
                self._api_ready()
            return
        args = [sys.executable, "-m", "gunicorn", "api:create_app()"]
        args += ["-b", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        if not (ROOT / "gunicorn.conf.py").exists():
            args += ["-k", "gthread"]
            workers, threads = workers or 2, threads or 16
        if worker_class:
            args += ["-k", worker_class]
        if workers:
            args += ["-w", str(workers)]
        if threads:
            args += ["--threads", str(threads)]
        self._spawn("api", args)
        self._wait_for("api", self._api_ready)
        # Every gunicorn worker answers before we measure (the kernel spreads connections).
        for _ in range(8):
            self._api_ready()

    def start_worker(self, *, concurrency: int = 2) -> None:
        args = [sys.executable, "-m", "celery", "-A", "workers", "worker"]
        args += ["--concurrency", str(concurrency), "--loglevel", "WARNING"]
        args += ["--without-mingle", "--without-gossip", "-n", f"bench{uuid.uuid4().hex[:6]}@%h"]
        self._spawn("worker", args)
        self._wait_for("worker", lambda: self._worker_children() >= concurrency)
        self._wait_for("worker", self._worker_ready)

    def _worker_children(self) -> int:
        from bench.procmem import process_tree  # noqa: PLC0415

        return len(process_tree(self.processes["worker"].pid)) - 1

    def stop(self, name: str | None = None) -> None:
        for each in [name] if name else list(self.processes):
            process = self.processes.pop(each, None)
            if process is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # Prefork children left behind by a graceful stop: the group is ours.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        if self._celery is not None:
            with contextlib.suppress(Exception):
                self._celery.close()

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    # Celery from the bench process: send drain tasks, ping the worker.
    @property
    def celery(self) -> Any:
        if self._celery is None:
            from celery import Celery  # noqa: PLC0415

            self._celery = Celery("coffer-bench", broker=self.redis_url)
            self._celery.conf.update(
                task_default_queue=CELERY_QUEUE, task_serializer="json", accept_content=["json"]
            )
        return self._celery

    def wake_drains(self, count: int = 1) -> None:
        """What the API's doorbell does: send drain tasks (one per worker process to use)."""
        for _ in range(count):
            self.celery.send_task(DRAIN_TASK, queue=CELERY_QUEUE)

    def _api_ready(self) -> bool:
        url = f"{self.base_url}/healthz"  # http://127.0.0.1:<port>, built here
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status == 200

    def _worker_ready(self) -> bool:
        return bool(self.celery.control.ping(timeout=0.5))

    def _wait_for(self, name: str, ready: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.logs / (name + '.log')}")
            with contextlib.suppress(OSError):
                if ready():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready; see {self.logs / (name + '.log')}")


@contextmanager
def environment(label: str, logs: Path, **settings: str) -> Iterator[tuple[str, str, Stack]]:
    """A fresh migrated database, a private Redis db and an (unstarted) Stack on them."""
    with fresh_database(label) as url, private_redis_db() as redis_url:
        migrate(url)
        stack = Stack(database_url=url, redis_url=redis_url, logs=logs / label, **settings)
        try:
            yield url, redis_url, stack
        finally:
            stack.close()


def git_revision() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    rev = result.stdout.strip() or "unknown"
    return f"{rev}+dirty" if dirty.stdout.strip() else rev
