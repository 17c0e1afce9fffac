"""Participant tokens over real HTTP: gunicorn with two worker processes, Redis, the CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import requests
from sqlalchemy import func, select

from core.db import Database
from core.models import InstanceSecret
from tests.support.processes import die_with_parent
from tests.support.stack import BIN, Stack
from tests.support.tenants import make_tenant

SHOP = "http://localhost:5173"
GAMIFY = "/api/v1/gamify"


def test_tokens_work_across_workers_from_the_shop_origin_until_the_key_is_revoked(
    private_stack: Callable[..., tuple[Stack, Database]],
) -> None:
    stack, db = private_stack(cors_origins=SHOP)
    stack.start_api()  # two gunicorn workers; no secret exists yet: they race to make one
    tenant = make_tenant(db)
    server = {"Authorization": f"Bearer {tenant.key('live', 'server')}"}
    people = [f"shopper/{n}" for n in range(16)]

    def issue(participant: str) -> str:
        url = f"{stack.base_url}{GAMIFY}/participants/{quote(participant, safe='')}/tokens"
        response = requests.post(url, json={"ttl_seconds": 300}, headers=server, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["token"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(8) as pool:
        tokens = dict(zip(people, pool.map(issue, people), strict=True))
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == 1

    def read(participant: str, token: str, what: str = "points") -> requests.Response:
        url = f"{stack.base_url}{GAMIFY}/participants/{quote(participant, safe='')}/{what}"
        headers = {"Authorization": f"Bearer {token}", "Origin": SHOP}
        return requests.get(url, headers=headers, timeout=10)

    # Every token reads in every worker (fresh connections spread over both processes).
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: read(p, tokens[p]), people * 4))
    assert {r.status_code for r in answers} == {200}
    assert {r.headers["Access-Control-Allow-Origin"] for r in answers} == {SHOP}
    assert read(people[0], tokens[people[1]]).status_code == 403  # someone else's token

    preflight = requests.options(
        f"{stack.base_url}{GAMIFY}/participants/{quote(people[0], safe='')}/rewards",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()

    revoked = subprocess.run(
        [str(BIN / "coffer"), "keys", "revoke", tenant.key("live", "server")[:16]],
        env=stack.env, capture_output=True, text=True, timeout=60, check=False,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr

    # At once, in both workers (through the Redis mark, not the cache's 10 s bound).
    with ThreadPoolExecutor(8) as pool:
        after = list(pool.map(lambda p: read(p, tokens[p], "rewards"), people))
    assert {r.status_code for r in after} == {401}
    assert {r.json()["code"] for r in after} == {"unauthorized"}
    assert {r.headers["Access-Control-Allow-Origin"] for r in after} == {SHOP}
