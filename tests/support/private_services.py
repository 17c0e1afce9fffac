"""A PostgreSQL and a Redis that belong to one test, so the test may stop, kill and restart
them under load. They listen on free loopback ports and keep their files in a temporary
directory; the shared services on 5432 and 6379 are never touched.

Each service keeps its port across restarts, so the URLs a running Coffer holds stay
valid and Coffer must find its way back by itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from tests.support.processes import die_with_parent
from tests.support.stack import free_port

PG_BIN = Path(os.environ.get("COFFER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# Fast and small: a test's data need not survive the machine, only the process, so no
# fsync (written pages stay in the OS cache when PostgreSQL is killed). Commits stay
# synchronous: with synchronous_commit=off a killed server loses commits it had
# acknowledged (seen: a claim answered 202 and gone after a crash). Enough connections
# for gunicorn's two pools, the worker's and the test's own.
_PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "80",
    "shared_buffers": "32MB",
    "fsync": "off",
    "full_page_writes": "off",
}


def _wait(ready: object, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():  # type: ignore[operator]
                return
        except RuntimeError:
            raise
        except Exception:  # noqa: S110 - not answering yet; asked again below
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready in {timeout_s}s")


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class _Service:
    """A server process that can be stopped, killed and started again on the same port."""

    name = "service"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _args(self) -> list[str]:
        raise NotImplementedError

    def _user(self) -> str | None:
        return None

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start the server (after stop or kill) and wait until it answers."""
        assert not self.running, f"{self.name} is already running"
        with open(self.root / f"{self.name}.log", "ab") as log:
            self.process = subprocess.Popen(
                self._args(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self._user(),
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        _wait(self._answers, f"{self.name} on port {self.port} (see {self.root})")

    def _answers(self) -> bool:
        if not self.running:
            raise RuntimeError(f"{self.name} exited at start (see {self.root})")
        return self._ready()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """A clean shutdown: the server closes its clients' connections and exits."""
        self._signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a crash or an OOM kill."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=60)
        self.process = None
        _wait(lambda: _port_closed(self.port), f"{self.name} port {self.port} to close")


class PrivatePostgres(_Service):
    """`initdb` into a temporary directory, then `postgres -D` on a free port, trust auth.

    Run as the `postgres` user when the test runs as root (PostgreSQL refuses root), in a
    directory of its own under the system temp dir (pytest's is private to root);
    `remove()` deletes it."""

    name = "postgres"

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="coffer-chaos-pg-")))
        self.data = self.root / "pgdata"
        self.sockets = self.root / "pgsock"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/coffer"
        self._init()

    def _user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _init(self) -> None:
        self.sockets.mkdir(parents=True)
        if (user := self._user()) is not None:
            entry = pwd.getpwnam(user)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        made = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
             "--no-sync", "-E", "UTF8", "--locale", "C.UTF-8"],
            user=user, check=False, capture_output=True, text=True,
        )  # fmt: skip
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stdout}{made.stderr}")
        self.start()
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE coffer")

    def _args(self) -> list[str]:
        settings = {**_PG_SETTINGS, "port": str(self.port)}
        settings["unix_socket_directories"] = str(self.sockets)
        flags = [part for name, value in settings.items() for part in ("-c", f"{name}={value}")]
        return [str(PG_BIN / "postgres"), "-D", str(self.data), *flags]

    def _ready(self) -> bool:
        with psycopg.connect(self.admin_url, connect_timeout=1) as connection:
            connection.execute("SELECT 1")
        return True

    def start(self) -> None:
        # After a SIGKILL the old backends notice their postmaster is gone and exit within
        # a moment; until then a new postmaster refuses the data directory. Retry briefly.
        for attempt in range(20):
            try:
                super().start()
                return
            except RuntimeError:
                if self.running or attempt == 19:
                    raise
                self.process = None
                time.sleep(0.5)

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Fast shutdown (SIGINT): open transactions roll back, clients are disconnected."""
        super().stop(sig)

    def remove(self) -> None:
        """Stop the server and delete its files."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis(_Service):
    """`redis-server` on a free port with no persistence: a restart loses every key, as a
    Redis without AOF loses them, which is the harder case for Coffer."""

    name = "redis"

    def __init__(self, root: Path, label: str = "redis") -> None:
        super().__init__(root)
        self.name = label
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def _args(self) -> list[str]:
        return [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.root),
        ]  # fmt: skip

    def _ready(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
