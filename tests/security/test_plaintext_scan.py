"""After a full run, no plaintext secret in any table and none (nor any code value) in any log.

A real stack (gunicorn with two processes, a Celery worker, a webhook receiver)
runs what an operator and a storefront do: tenant and keys from the CLI,
rewards, codes, points, claims, webhook deliveries before and after a secret
rotation, participant tokens used, a key revoked and tried. Then every text
column of every table is scanned for API keys, webhook secrets and participant
tokens, and every log the processes wrote (at DEBUG, the most they ever say)
for those and for every code value (CONTRACT §2, §9; OWASP API2, API8).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from core.migrate import upgrade
from tests.support.client import Api
from tests.support.receiver import Receiver
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, Stack


@dataclass
class Run:
    stack: Stack
    url: str
    logs: Path
    plain: dict[str, set[str]]  # kind -> the plaintext values used in the run


pytestmark = pytest.mark.slow  # real processes: gunicorn and a Celery worker


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    logs = tmp_path_factory.mktemp("scan-logs")
    with fresh_database("scan") as url, private_redis_db() as redis_url, Receiver() as receiver:
        upgrade(url)
        stack = Stack(
            database_url=url, redis_url=redis_url, logs=logs,
            log_level="DEBUG", webhook_allow_private="1",
        )  # fmt: skip
        stack.env["GUNICORN_LOG_LEVEL"] = "debug"
        try:
            stack.start_api()
            args = ["-A", "workers", "worker", "--concurrency", "2", "--loglevel", "DEBUG"]
            stack._spawn("worker", [str(BIN / "celery"), *args, "--without-mingle"], {})
            stack._wait_for(stack._worker_ready, "worker")
            plain = _full_run(stack, receiver)
            yield Run(stack, url, logs, plain)
        finally:
            stack.stop()


def _cli(stack: Stack, *args: str) -> Any:
    done = subprocess.run(
        [str(BIN / "coffer"), *args], env=stack.env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "--json" in args else done.stdout


def _wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _full_run(stack: Stack, receiver: Receiver) -> dict[str, set[str]]:
    """Everything a tenant does; returns the plaintext values that must not be found."""
    made = _cli(stack, "tenants", "create", "Scan Shop", "--json")
    keys = {key for scoped in made["keys"].values() for key in scoped.values()}
    extra = _cli(stack, "keys", "create", "--tenant", made["tenant_id"], "--mode", "live",
                 "--scope", "server", "--json")  # fmt: skip
    keys.add(extra["key"])
    api = Api(stack.base_url, made["keys"]["live"]["admin"])
    codes = {f"SCAN-{uuid.uuid4().hex[:12].upper()}" for _ in range(6)}
    reward = api.create_reward(points_cost=10, max_claims_per_user=10)
    api.upload(reward["id"], sorted(codes))
    hook = api.post("/webhook-endpoints", {"url": receiver.url, "event_types": ["*"]}).json()
    secrets = {hook["secret"]}
    receiver.secrets.append(hook["secret"])
    api.credit("shopper-1", 100)
    claimed = [api.claim(reward["id"], "shopper-1", prefer="wait=10").json() for _ in range(2)]
    assert all(c.get("code_value") in codes for c in claimed), claimed
    rotated = api.post(f"/webhook-endpoints/{hook['id']}/rotate-secret").json()
    secrets.add(rotated["secret"])
    receiver.secrets.append(rotated["secret"])
    api.claim(reward["id"], "shopper-1", prefer="wait=10")
    _wait_for(lambda: len([r for r in receiver.received if r.verified_by]) >= 3, "deliveries")

    tokens = set()
    for participant in ("shopper-1", "shopper-2"):
        issued = api.post(f"/participants/{participant}/tokens", {"ttl_seconds": 600}).json()
        tokens.add(issued["token"])
        read = requests.get(api.url(f"/participants/{participant}/rewards"), timeout=10,
                            headers={"Authorization": f"Bearer {issued['token']}"})  # fmt: skip
        assert read.status_code == 200
    forbidden = requests.get(
        api.url("/rewards"), headers={"Authorization": f"Bearer {issued['token']}"}, timeout=10
    )
    assert forbidden.status_code == 403
    _cli(stack, "keys", "revoke", extra["prefix"])
    refused = requests.get(
        api.url("/rewards"), headers={"Authorization": f"Bearer {extra['key']}"}, timeout=10
    )
    assert refused.status_code == 401
    return {"API key": keys, "webhook secret": secrets, "participant token": tokens, "code": codes}


def _forms(value: str) -> set[str]:
    """A value and the parts that identify it alone (a secret's base64, a token's JWT)."""
    forms = {value}
    for prefix in ("whsec_", "cpt_", "ck_live_", "ck_test_"):
        if value.startswith(prefix):
            forms.add(value[len(prefix) :])
    return forms


def _table_texts(url: str) -> Iterator[tuple[str, str]]:
    """(table.column, value) for every non-null value of every table, as text."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                for column in inspect(connection).get_columns(table):
                    name = column["name"]
                    query = text(f'SELECT "{name}"::text FROM "{table}" WHERE "{name}" IS NOT NULL')  # noqa: S608
                    for (value,) in connection.execute(query):
                        yield f"{table}.{name}", value
    finally:
        engine.dispose()


def test_no_table_holds_a_plaintext_key_secret_or_token(run: Run) -> None:
    plain = run.plain
    hidden = {kind: values for kind, values in plain.items() if kind != "code"}

    scanned, found, codes_at = 0, [], set()
    for where, value in _table_texts(run.url):
        scanned += 1
        for kind, values in hidden.items():
            found += [f"{kind} in {where}" for v in values for f in _forms(v) if f in value]
        codes_at |= {where for code in plain["code"] if code in value}

    assert not found, found
    # The scan reads where values live: the codes are stored (and must be) in plaintext.
    assert {"reward_codes.value", "claims.code_value"} <= codes_at
    assert scanned > 100 and all(len(values) >= 2 for values in plain.values())


def test_no_log_holds_a_key_secret_token_or_code_value(run: Run) -> None:
    plain = run.plain
    run.stack.stop()  # every line flushed
    texts = {path.name: path.read_text(errors="replace") for path in run.logs.glob("*.log")}

    found = [
        f"{kind} in {name}"
        for name, content in texts.items()
        for kind, values in plain.items()
        for value in values
        for form in _forms(value)
        if form in content
    ]

    assert not found, found
    assert set(texts) >= {"api.log", "worker.log"}
    assert sum(len(content) for content in texts.values()) > 10_000  # DEBUG said a lot
