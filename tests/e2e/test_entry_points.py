"""Every entry point started as users start it, configured only through the environment
(CONTRACT §1): `coffer ...`, gunicorn, `celery -A workers worker` and `celery -A workers beat`.

Each documented setting in its documented form starts them; an unusable value, an
un-migrated or unreachable database, or a port in use stops them with one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from core.migrate import upgrade
from tests.support.client import Api
from tests.support.contract import contract_settings
from tests.support.processes import die_with_parent
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, free_port

UNREACHABLE_DB = "postgresql+psycopg://postgres@127.0.0.1:1/coffer"
GUNICORN_CONF = ["-c", "python:api.gunicorn_conf"]

# The contract's defaults, written out in the documented form (CONTRACT §1).
DOCUMENTED = {
    "COFFER_CLAIM_WAIT_MS": "5000",
    "COFFER_WEBHOOK_ALLOW_PRIVATE": "0",
    "COFFER_WEBHOOK_RETRY_SCHEDULE": "5,300,1800,7200,18000,36000,36000",
    "COFFER_WEBHOOK_TIMEOUT_S": "10",
    "COFFER_SWEEP_INTERVAL_S": "30",
    "COFFER_RATE_LIMIT": "100/second",
    "COFFER_MAX_BODY_BYTES": "10485760",
    "COFFER_CLAIM_BATCH_SIZE": "200",
    "COFFER_CLAIM_MAX_ATTEMPTS": "10",
    "COFFER_LOG_LEVEL": "INFO",
    "COFFER_CORS_ORIGINS": "https://shop.example.com,http://localhost:3000",
}

# One unusable value of each kind of setting.
BAD_VALUES = {
    "list": ("COFFER_WEBHOOK_RETRY_SCHEDULE", "[5, 300, 1800]"),
    "flag": ("COFFER_WEBHOOK_ALLOW_PRIVATE", "yes"),
    "int": ("COFFER_CLAIM_WAIT_MS", "5s"),
    "bounded-int": ("COFFER_CLAIM_MAX_ATTEMPTS", "0"),
    "rate": ("COFFER_RATE_LIMIT", "100 per second"),
    "url": ("COFFER_BROKER_URL", "127.0.0.1:6379"),
    "database-url": ("COFFER_DATABASE_URL", "mysql://coffer:secret@db/coffer"),
    "origin": ("COFFER_CORS_ORIGINS", "https://shop.example.com/"),
}


def clean_env(**settings: str) -> dict[str, str]:
    """This environment minus every COFFER_* variable, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    return {**env, **settings}


@pytest.fixture(scope="module")
def migrated_db() -> Iterator[str]:
    with fresh_database("entry") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def bare_db() -> Iterator[str]:
    with fresh_database("entrybare") as url:
        yield url


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with private_redis_db() as url:
        yield url


@pytest.fixture(scope="module")
def documented_env(migrated_db: str, redis_url: str) -> dict[str, str]:
    """Every setting of CONTRACT §1, each in its documented form."""
    return clean_env(
        COFFER_DATABASE_URL=migrated_db,
        COFFER_BROKER_URL=redis_url,
        COFFER_REDIS_URL=redis_url,
        **DOCUMENTED,
    )


def test_the_documented_environment_names_every_contract_setting(
    documented_env: dict[str, str],
) -> None:
    given = {name for name in documented_env if name.startswith("COFFER_")}
    assert given == set(contract_settings())


# Each entry point as argv (PORT is replaced by a free port); cwd is a scratch folder,
# so nothing depends on running from the repository.
ENTRY_POINTS: dict[str, list[str]] = {
    "coffer serve": [str(BIN / "coffer"), "serve", "--port", "PORT"],
    "gunicorn -c": [
        str(BIN / "gunicorn"), *GUNICORN_CONF, "-b", "127.0.0.1:PORT", "api:create_app()"
    ],
    "gunicorn bare": [str(BIN / "gunicorn"), "-b", "127.0.0.1:PORT", "api:create_app()"],
    "celery worker": [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "1"],
    "celery beat": [str(BIN / "celery"), "-A", "workers", "beat"],
    "coffer worker": [str(BIN / "coffer"), "worker", "--concurrency", "1", "--loglevel", "INFO"],
    "coffer beat": [str(BIN / "coffer"), "beat", "--loglevel", "INFO"],
}  # fmt: skip


def argv(name: str, port: int) -> list[str]:
    return [part.replace("PORT", str(port)) for part in ENTRY_POINTS[name]]


class Running:
    """A started process whose merged output is collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
        )  # fmt: skip
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def wait_for(self, ready: Callable[[], bool], timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "exited early:\n" + "".join(self.output)
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("not ready in time:\n" + "".join(self.output))

    def said(self, pattern: str) -> bool:
        return re.search(pattern, "".join(self.output)) is not None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
def test_every_documented_setting_in_its_documented_form_starts_each_entry_point(
    entry_point: str, documented_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    running = Running(argv(entry_point, port), documented_env, tmp_path)
    try:
        if "serve" in entry_point or "gunicorn" in entry_point:
            url = f"http://127.0.0.1:{port}/healthz"
            running.wait_for(lambda: requests.get(url, timeout=1).status_code == 200)
            assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        elif "worker" in entry_point:
            running.wait_for(lambda: running.said(r"celery@\S+ ready"))
        else:  # beat: its database check runs right after "Starting..."; then it keeps going
            running.wait_for(lambda: running.said("beat: Starting"))
            time.sleep(1.5)
            assert running.process.poll() is None, "".join(running.output)
        assert "Traceback" not in "".join(running.output)
    finally:
        running.stop()


def test_coffer_db_upgrade_runs_with_every_documented_setting(
    documented_env: dict[str, str], tmp_path: Path
) -> None:
    result = run([str(BIN / "coffer"), "db", "upgrade"], documented_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"database is at revision \w+", result.stdout)


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


# Entry points that must stop on a bad setting, with the database fine otherwise.
REFUSING = {
    "coffer db upgrade": [str(BIN / "coffer"), "db", "upgrade"],
    "coffer tenants create": [str(BIN / "coffer"), "tenants", "create", "Acme"],
    **{name: ENTRY_POINTS[name] for name in ("coffer serve", "gunicorn -c", "gunicorn bare")},
    **{name: ENTRY_POINTS[name] for name in ("celery worker", "celery beat", "coffer worker")},
}


@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("entry_point", list(REFUSING))
def test_an_unusable_setting_stops_each_entry_point_with_one_line(
    entry_point: str, kind: str, documented_env: dict[str, str], tmp_path: Path
) -> None:
    name, value = BAD_VALUES[kind]
    args = [part.replace("PORT", str(free_port())) for part in REFUSING[entry_point]]
    result = run(args, {**documented_env, name: value}, tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    naming = [line for line in result.stderr.splitlines() if name in line]
    assert len(naming) == 1, result.stderr
    assert re.fullmatch(rf"coffer: {name}='[^']*': .+ \(expected: .+\)", naming[0])
    assert "secret" not in result.stderr  # a password in a URL is not printed
    if entry_point != "gunicorn bare":  # gunicorn's own lines come before its worker's
        assert result.stderr.strip().splitlines() == naming


@pytest.mark.parametrize("database", ["un-migrated", "unreachable"])
@pytest.mark.parametrize(
    "entry_point",
    ["coffer serve", "gunicorn -c", "gunicorn bare", "celery worker", "celery beat"],
)
def test_an_unready_database_stops_each_entry_point_with_one_clear_line(
    entry_point: str, database: str, bare_db: str, documented_env: dict[str, str], tmp_path: Path
) -> None:
    url = bare_db if database == "un-migrated" else UNREACHABLE_DB
    result = run(
        argv(entry_point, free_port()), {**documented_env, "COFFER_DATABASE_URL": url}, tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    expected = (
        r"coffer: The database at \S+ is at schema revision none, but this Coffer needs \w+\. "
        r"Run `coffer db upgrade` first\."
        if database == "un-migrated"
        else r"coffer: cannot reach the database at \S+: .*Connection refused"
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("coffer:")]
    assert len(lines) == 1 and re.fullmatch(expected, lines[0]), result.stderr


def test_any_coffer_command_on_an_unreachable_database_says_so_in_one_line(
    documented_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**documented_env, "COFFER_DATABASE_URL": UNREACHABLE_DB}
    for args in (["db", "upgrade"], ["tenants", "create", "Acme"], ["demo"]):
        result = run([str(BIN / "coffer"), *args], env, tmp_path)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            "coffer: cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:1/coffer:"
            ' connection failed: connection to server at "127.0.0.1", port 1 failed:'
            " Connection refused"
        ], result.stderr


def test_coffer_serve_on_a_port_in_use_says_so_in_one_line(
    documented_env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(argv("coffer serve", port), documented_env, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"coffer: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_settings_are_read_from_a_dotenv_file_in_the_working_directory(
    migrated_db: str, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(f"COFFER_DATABASE_URL={migrated_db}\n")
    upgraded = run([str(BIN / "coffer"), "db", "upgrade"], clean_env(), tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert not (tmp_path / "coffer.db").exists()  # PostgreSQL from .env, not the SQLite default

    (tmp_path / ".env").write_text("COFFER_RATE_LIMIT=often\n")
    refused = run([str(BIN / "coffer"), "db", "upgrade"], clean_env(), tmp_path)
    assert refused.returncode != 0
    assert refused.stderr.startswith("coffer: COFFER_RATE_LIMIT='often': ")


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_coffer_worker_and_beat_help_say_celery_options_pass_through(command: str) -> None:
    result = run([str(BIN / "coffer"), command, "--help"], clean_env(), Path.cwd())
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "passes through to Celery" in text
    assert f"celery -A workers {command} --help" in text
    assert f"coffer {command} --" in text  # an example with a Celery option


def test_coffer_serve_under_load_keeps_its_log_free_of_queue_warnings(tmp_path: Path) -> None:
    env = clean_env(COFFER_RATE_LIMIT="100000/second")
    demo = run([str(BIN / "coffer"), "demo", "--json"], env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    key = json.loads(demo.stdout)["keys"]["live"]["admin"]
    port = free_port()
    # Two HTTP threads and sixteen clients: most requests wait in waitress's queue.
    running = Running(
        [str(BIN / "coffer"), "serve", "--port", str(port), "--threads", "2"], env, tmp_path
    )
    try:
        running.wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok)
        api = Api(f"http://127.0.0.1:{port}", key)
        reward = api.create_reward(
            code_generation={"prefix": "L-", "length": 8}, max_claims_per_user=1000
        )

        def claim(i: int) -> int:
            return api.claim(reward["id"], f"load-{i % 10}").status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(claim, range(200)))
        assert statuses.count(201) == 200
    finally:
        running.stop()
    warnings = [line for line in running.output if '"level": "warning"' in line]
    assert not [line for line in warnings if "queue depth" in line]
    assert len(warnings) <= 2, "".join(warnings)
