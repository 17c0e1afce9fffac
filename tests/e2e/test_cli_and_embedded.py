"""The `coffer` command as users run it, and the embedded default (`coffer serve`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from core.db import Database
from tests.support.client import Api
from tests.support.pattern_one import redeem_coupon
from tests.support.processes import die_with_parent
from tests.support.services import fresh_database
from tests.support.stack import BIN, Stack, free_port


def coffer(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "coffer"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def clean_env(**settings: str) -> dict[str, str]:
    """The environment minus every COFFER_* variable: the embedded default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
    return {**env, **settings}


def test_tenants_create_prints_keys_for_both_modes_and_scopes(stack_db: Database) -> None:
    result = coffer(
        "tenants", "create", "Acme Store", "--json", env=clean_env(COFFER_DATABASE_URL=stack_db.url)
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert set(printed) == {"tenant_id", "keys"}
    for mode in ("live", "test"):
        assert set(printed["keys"][mode]) == {"admin", "server"}
        for key in printed["keys"][mode].values():
            assert re.fullmatch(rf"ck_{mode}_[A-Za-z0-9_-]{{32,}}", key)


def test_a_created_key_works_and_a_revoked_one_fails_on_its_next_request(
    stack: Stack, stack_db: Database
) -> None:
    env = clean_env(COFFER_DATABASE_URL=stack_db.url)
    tenant_id = json.loads(coffer("tenants", "create", "Keys Co", "--json", env=env).stdout)[
        "tenant_id"
    ]
    created = coffer(
        "keys",
        "create",
        "--tenant",
        tenant_id,
        "--mode",
        "test",
        "--scope",
        "server",
        "--json",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    assert set(issued) == {"key", "prefix", "tenant_id", "mode", "scope"}
    assert (issued["tenant_id"], issued["mode"], issued["scope"]) == (tenant_id, "test", "server")
    assert issued["key"].startswith(issued["prefix"]) and re.fullmatch(
        r"ck_test_.{8}", issued["prefix"]
    )

    api = Api(stack.base_url, issued["key"])
    assert [api.get("/rewards").status_code for _ in range(4)] == [200] * 4  # cached by now
    # The operator's command shares the API's settings, Redis among them: it tells every
    # API process (core/key_cache.py), so no warning.
    redis_env = {**env, "COFFER_REDIS_URL": stack.env["COFFER_REDIS_URL"]}
    revoked = coffer("keys", "revoke", issued["prefix"], env=redis_env)
    assert revoked.returncode == 0 and "warning" not in revoked.stderr, revoked.stderr
    response = api.get("/rewards")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_keys_create_for_an_unknown_tenant_fails_clearly(stack_db: Database) -> None:
    result = coffer(
        "keys", "create", "--tenant", "ten_nope", "--mode", "live", "--scope", "admin",
        env=clean_env(COFFER_DATABASE_URL=stack_db.url),
    )  # fmt: skip
    assert result.returncode != 0 and "ten_nope" in result.stderr


@pytest.fixture
def unmigrated_database() -> Iterator[str]:
    with fresh_database("bare") as url:
        yield url


def test_entry_points_refuse_an_unmigrated_database_with_a_clear_message(
    unmigrated_database: str,
) -> None:
    env = clean_env(
        COFFER_DATABASE_URL=unmigrated_database, COFFER_BROKER_URL="redis://127.0.0.1:6379/15"
    )
    served = coffer("serve", "--port", str(free_port()), env=env)
    assert served.returncode != 0 and "coffer db upgrade" in served.stderr
    gunicorn = subprocess.run(
        [str(BIN / "gunicorn"), "api:create_app()", "-b", f"127.0.0.1:{free_port()}"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert gunicorn.returncode != 0 and "coffer db upgrade" in gunicorn.stderr + gunicorn.stdout
    upgraded = coffer("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr


def test_coffer_serve_runs_the_demo_on_the_embedded_default(tmp_path: Path) -> None:
    env = clean_env()
    demo = coffer("demo", "--json", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    seeded = json.loads(demo.stdout)
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "coffer"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
    )  # fmt: skip
    try:
        api = Api(f"http://127.0.0.1:{port}", seeded["keys"]["live"]["server"])
        catalog = wait_for_catalog(api)
        assert (tmp_path / "coffer.db").exists()
        assert [r["name"] for r in catalog["rewards"]] == [
            "10% Off Coupon",
            "Free Shipping",
            "Canvas Tote Bag",
        ]
        assert catalog["total"] == 3 and catalog["rewards"][0]["available_codes"] == 50

        coupon = catalog["rewards"][0]["id"]
        redeemed = {"ok": True, "code": "SAVE10-000001", "newBalance": 1000}
        assert redeem_coupon(api, "user_42", coupon, "1001") == redeemed
        assert redeem_coupon(api, "user_42", coupon, "1001") == redeemed  # a checkout retry
        assert redeem_coupon(api, "user_42", coupon, "1002") == {"ok": False, "reason": "limit"}
        assert redeem_coupon(api, "newcomer", coupon, "1003") == {
            "ok": False,
            "reason": "low_balance",
        }
        tote = catalog["rewards"][2]["id"]
        assert redeem_coupon(api, "user_42", tote, "1004") == {"ok": False, "reason": "low_balance"}
        generated = api.claim(catalog["rewards"][1]["id"], "user_42")
        assert generated.status_code == 201 and generated.json()["code_value"].startswith("SHIP-")

        # The reference pages' files, sent as files by waitress (once a 500 here).
        for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "docs-init.js"):
            served = requests.get(f"http://127.0.0.1:{port}/docs/assets/{asset}", timeout=10)
            assert served.status_code == 200, asset
            assert len(served.content) > 100 and "Content-Type" in served.headers

        # Revoked from another process: no Redis here, so no process caches keys, and the
        # next request is refused (CONTRACT §2).
        key = seeded["keys"]["live"]["server"]
        revoked = coffer("keys", "revoke", key, env=env, cwd=tmp_path)
        assert revoked.returncode == 0 and "warning" not in revoked.stderr, revoked.stderr
        assert api.get("/rewards").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_catalog(api: Api) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            response = api.get("/rewards")
            if response.ok:
                return response.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise AssertionError("coffer serve did not answer")


def test_coffer_demo_prints_the_keys_a_first_claim_and_the_dashboard(tmp_path: Path) -> None:
    demo = coffer("demo", env=clean_env(), cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    admin_key = next(line.split()[-1] for line in out.splitlines() if "live admin key" in line)
    server_key = next(line.split()[-1] for line in out.splitlines() if "live server key" in line)
    assert admin_key.startswith("ck_live_") and server_key.startswith("ck_live_")
    assert f"Authorization: Bearer {server_key}" in out and "Idempotency-Key: order-1001" in out
    assert "http://127.0.0.1:8000/admin" in out
    # The export line makes the README's $SERVER_KEY, $ADMIN_KEY and $REWARD_ID real.
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export "))
    shell = subprocess.run(
        ["bash", "-c", f'{export}; echo "$SERVER_KEY $ADMIN_KEY $REWARD_ID"'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    given_server, given_admin, reward_id = shell.stdout.split()
    assert (given_server, given_admin) == (server_key, admin_key)
    assert reward_id.startswith("rwd_") and f"/rewards/{reward_id}/claim" in out


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_tenants_create_refuses_an_empty_name_with_one_line(stack_db: Database, name: str) -> None:
    with stack_db.transaction() as session:
        before = session.scalar(text("SELECT count(*) FROM tenants"))
    result = coffer("tenants", "create", name, env=clean_env(COFFER_DATABASE_URL=stack_db.url))
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "coffer: tenant name is empty (expected: 1 to 200 characters, not all spaces)"
    ]
    with stack_db.transaction() as session:
        assert session.scalar(text("SELECT count(*) FROM tenants")) == before


def test_keys_revoke_takes_the_full_key_and_never_prints_it(stack_db: Database) -> None:
    env = clean_env(COFFER_DATABASE_URL=stack_db.url)
    tenant_id = json.loads(coffer("tenants", "create", "Full Key Co", "--json", env=env).stdout)[
        "tenant_id"
    ]
    issued = json.loads(
        coffer(
            "keys", "create", "--tenant", tenant_id, "--mode", "live", "--scope", "server",
            "--json", env=env,
        ).stdout
    )  # fmt: skip
    mistyped = coffer("keys", "revoke", issued["key"][:-1] + "!", env=env)
    assert mistyped.returncode != 0
    assert mistyped.stderr.strip() == (
        f"coffer: No active key matches the key given (prefix {issued['prefix']})"
    )
    revoked = coffer("keys", "revoke", issued["key"], env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"revoked {issued['prefix']}"
    # PostgreSQL without COFFER_REDIS_URL: API processes with Redis were not told.
    assert "warning: COFFER_REDIS_URL is not set" in revoked.stderr
    assert issued["key"] not in revoked.stdout + revoked.stderr + mistyped.stderr
    with stack_db.transaction() as session:
        revoked_at = session.scalar(
            text("SELECT revoked_at FROM api_keys WHERE prefix = :p"), {"p": issued["prefix"]}
        )
    assert revoked_at is not None
    again = coffer("keys", "revoke", issued["key"], env=env)
    assert again.returncode != 0 and issued["key"] not in again.stderr


def test_a_quiet_coffer_serve_logs_nothing_at_info_after_start_up(tmp_path: Path) -> None:
    """`webhooks-due` runs every second: it once logged three INFO lines a second."""
    env = clean_env()
    demo = coffer("demo", "--json", env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [str(BIN / "coffer"), "serve", "--port", str(port)], env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
        )  # fmt: skip
    try:
        wait_for_catalog(
            Api(f"http://127.0.0.1:{port}", json.loads(demo.stdout)["keys"]["live"]["server"])
        )
        deadline = time.monotonic() + 30
        while "beat: Starting" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # the start-up lines land
        started = len(log.read_text().splitlines())
        time.sleep(5)
        assert server.poll() is None
        window = [json.loads(line) for line in log.read_text().splitlines()[started:]]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [line for line in window if line["level"] != "debug"] == []
    assert "beat: Starting" in log.read_text()  # beat ran, so its periodic jobs did
