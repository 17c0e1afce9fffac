"""Coffer as users run it: gunicorn, a Celery worker and beat, as real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support.processes import die_with_parent

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """Processes sharing one database and one Redis database, started on demand."""

    def __init__(self, *, database_url: str, redis_url: str, logs: Path, **settings: str) -> None:
        self.logs = logs
        self.env = {
            **os.environ,
            "COFFER_DATABASE_URL": database_url,
            "COFFER_BROKER_URL": redis_url,
            "COFFER_REDIS_URL": redis_url,
            "COFFER_RATE_LIMIT": "100000/second",
            "COFFER_LOG_LEVEL": "WARNING",
            **{f"COFFER_{name.upper()}": value for name, value in settings.items()},
        }
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                args,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        self.processes[name] = process
        return process

    def start_api(self, **env: str) -> None:
        """gunicorn on this stack's port; `env` overrides settings for the API alone."""
        bind = f"127.0.0.1:{self.port}"
        args = ["api:create_app()", "-b", bind, "-k", "gthread", "-w", "2", "--threads", "32"]
        self._spawn("api", [str(BIN / "gunicorn"), *args], env)
        self._wait_for(lambda: requests.get(f"{self.base_url}/healthz", timeout=1).ok, "api")

    def start_worker(self, *, concurrency: int = 2) -> None:
        args = [
            "-A",
            "workers",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
        ]
        self._spawn(
            "worker", [str(BIN / "celery"), *args, "--without-mingle", "--without-gossip"], {}
        )
        self._wait_for(self._worker_ready, "worker")

    def start_beat(self) -> None:
        args = ["-A", "workers", "beat", "--loglevel", "WARNING"]
        self._spawn("beat", [str(BIN / "celery"), *args], {})

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a process and its children (kill -9 of a prefork worker kills them all)."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM if name != "worker" else signal.SIGKILL)

    def _worker_ready(self) -> bool:
        result = subprocess.run(
            [str(BIN / "celery"), "-A", "workers", "inspect", "ping", "--timeout", "1"],
            env=self.env,
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def _wait_for(self, ready: object, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.logs / (name + '.log')}")
            try:
                if ready():  # type: ignore[operator]
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not become ready; see {self.logs / (name + '.log')}")
