"""Beat's health check (docker-compose.yml) reads a real liveness signal.

A real `celery -A workers beat` on its own database and Redis database number, with a
private TMPDIR (where its heartbeat file lives): the check passes while beat ticks,
fails once beat is frozen (SIGSTOP: alive but hung, what a restart should cure) for
longer than --max-age, and passes again when it runs on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.migrate import upgrade
from tests.support.contract import REPO
from tests.support.processes import die_with_parent
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
MAX_AGE = "2"


@pytest.fixture
def beat(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, str]]]:
    with fresh_database("beat") as url, private_redis_db() as redis_url:
        upgrade(url)
        env = {
            **os.environ,
            "COFFER_DATABASE_URL": url,
            "COFFER_BROKER_URL": redis_url,
            "COFFER_REDIS_URL": redis_url,
            "COFFER_LOG_LEVEL": "WARNING",
            "TMPDIR": str(tmp_path),
        }
        with open(tmp_path / "beat.log", "wb") as log:
            process = subprocess.Popen(
                [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "WARNING"],
                env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )  # fmt: skip
        try:
            yield process, env
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The compose file's beat health check, with a short --max-age for the test."""
    test = COMPOSE["services"]["beat"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    args = [*test[1:-1], MAX_AGE] if test[-2] == "--max-age" else test[1:]
    args[0] = str(BIN / "python")
    return subprocess.run(
        args, env=env, cwd=env["TMPDIR"], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip


def wait_until(predicate: object, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_the_beat_health_check_follows_the_scheduler_loop(
    beat: tuple[subprocess.Popen[bytes], dict[str, str]],
) -> None:
    process, env = beat
    assert health(env).returncode == 1  # nothing ticked yet
    assert wait_until(lambda: health(env).returncode == 0), "beat never ticked"
    heartbeat = Path(env["TMPDIR"]) / "coffer-beat.heartbeat"
    first = heartbeat.stat().st_mtime
    assert wait_until(lambda: heartbeat.stat().st_mtime > first, timeout=5)  # it keeps ticking

    os.killpg(process.pid, signal.SIGSTOP)  # hung, not dead: only the heartbeat tells
    try:
        time.sleep(float(MAX_AGE) + 1.5)
        stale = health(env)
        assert stale.returncode == 1 and "last tick" in stale.stderr
    finally:
        os.killpg(process.pid, signal.SIGCONT)
    assert wait_until(lambda: health(env).returncode == 0, timeout=10)
    assert process.poll() is None
