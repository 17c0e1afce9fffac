"""What must hold in every API process: real gunicorn with two worker processes, over HTTP.

A key revoked with `coffer keys revoke` is refused on the next request by every
process (OWASP API2), though each serves a key it knows without asking the database,
and the rate limit is one counter per key shared by all processes through Redis
(API4): one key past its limit does not slow another.
Each process is shown to have answered by its own write counter
(/proc/PID/io `wchar`), so "every process" is observed, not assumed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import text

from core.db import Database
from core.key_cache import MAX_AGE_S
from core.migrate import upgrade
from core.tenants import issue_key, revoke_key
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, Stack
from tests.support.tenants import TestTenant, make_tenant

pytestmark = pytest.mark.slow  # real processes: gunicorn with two workers

RATE = 10  # per minute and key, so a test's requests all fall in one window
REWARDS = "/api/v1/gamify/rewards"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Database]]:
    with fresh_database("sec") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=2)
        stack = Stack(
            database_url=url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("sec-api"),
            rate_limit=f"{RATE}/minute",
        )
        try:
            stack.start_api()  # gunicorn -w 2
            yield stack, db
        finally:
            stack.stop()
            db.dispose()


def _workers(stack: Stack) -> list[int]:
    master = stack.processes["api"].pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 2, children
    return [int(pid) for pid in children]


def _written(pids: list[int]) -> dict[int, int]:
    """Bytes each process has written so far (its responses among them)."""
    found = {}
    for pid in pids:
        lines = Path(f"/proc/{pid}/io").read_text().splitlines()
        found[pid] = int(next(line for line in lines if line.startswith("wchar:")).split()[1])
    return found


def _get(stack: Stack, key: str, path: str = REWARDS) -> int:
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
    return requests.get(stack.base_url + path, headers=headers, timeout=10).status_code


def _each_new_connection(stack: Stack, key: str, count: int) -> list[int]:
    """`count` GETs, one after another, each on a new connection."""
    return [_get(stack, key) for _ in range(count)]


def _served_by_every_process(
    stack: Stack, key: str, at_least: int = 16, path: str = REWARDS
) -> list[int]:
    """GETs in concurrent bursts of 8 (so a busy process leaves the next to the other) until
    at least `at_least` were sent and every process has answered some."""
    pids = _workers(stack)
    before = _written(pids)
    statuses: list[int] = []
    with ThreadPoolExecutor(8) as pool:
        while len(statuses) < 400:
            statuses += pool.map(lambda _: _get(stack, key, path), range(8))
            after = _written(pids)
            if len(statuses) >= at_least and all(after[p] > before[p] for p in pids):
                return statuses
    raise AssertionError(f"400 requests and a process answered none: {before} {after}")


def _warm_every_process(stack: Stack, key: str) -> None:
    """At least three requests with the key in each process: cached by its second (the
    first may be the process's first sight of the key generation; core/key_cache.py)."""
    for _ in range(3):
        _served_by_every_process(stack, key, at_least=1)


@contextmanager
def _key_lookups_blocked(db: Database) -> Iterator[None]:
    """While inside, a process that looks a key up in the database waits (and its request
    times out): api_keys is locked against reads."""
    with db.transaction() as session:
        session.execute(text("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE"))
        yield


@pytest.mark.parametrize("revoked_with", ["cli", "core"])
def test_a_revoked_key_is_refused_on_the_next_request_by_every_api_process(
    limited: tuple[Stack, Database], revoked_with: str
) -> None:
    stack, db = limited
    tenant = make_tenant(db)
    with db.transaction() as session:
        issued = issue_key(session, tenant_id=tenant.id, mode="live", scope="admin")
    warmed_from = time.monotonic()
    _warm_every_process(stack, issued.key)

    with _key_lookups_blocked(db):  # both processes know the key without asking the database
        # 200, or 429 once past its limit: either way, authenticated.
        assert set(_served_by_every_process(stack, issued.key)) <= {200, 429}
    if revoked_with == "cli":
        _revoke(stack, issued.prefix)  # `coffer keys revoke`, as an operator does
    else:
        with (
            redis.Redis.from_url(stack.env["COFFER_REDIS_URL"]) as client,
            db.transaction() as session,
        ):
            revocation = revoke_key(session, prefix=issued.prefix, redis=client)
        assert revocation.announced

    assert set(_served_by_every_process(stack, issued.key)) == {401}
    # Refused by the key generation, not because the cached entries had aged out.
    assert time.monotonic() - warmed_from < MAX_AGE_S
    # The tenant's other keys are untouched.
    ok = requests.get(stack.base_url + REWARDS, headers=tenant.auth("live", "server"), timeout=10)
    assert ok.status_code == 200


def _revoke(stack: Stack, prefix: str) -> None:
    revoked = subprocess.run(
        [str(BIN / "coffer"), "keys", "revoke", prefix],
        env=stack.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert revoked.returncode == 0 and "warning" not in revoked.stderr, revoked.stderr


def test_a_participant_token_dies_with_its_key_in_every_api_process(
    limited: tuple[Stack, Database],
) -> None:
    stack, db = limited
    tenant = make_tenant(db)
    with db.transaction() as session:
        issued = issue_key(session, tenant_id=tenant.id, mode="live", scope="server")
    made = requests.post(
        f"{stack.base_url}/api/v1/gamify/participants/p-1/tokens",
        json={"ttl_seconds": 600},
        headers={"Authorization": f"Bearer {issued.key}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    token, path = made.json()["token"], "/api/v1/gamify/participants/p-1/points"

    assert set(_served_by_every_process(stack, token, path=path)) <= {200, 429}
    _revoke(stack, issued.prefix)

    assert set(_served_by_every_process(stack, token, path=path)) == {401}


def test_the_rate_limit_is_one_counter_per_key_across_processes(
    limited: tuple[Stack, Database],
) -> None:
    stack, db = limited
    busy, quiet = make_tenant(db), make_tenant(db)

    statuses = _served_by_every_process(stack, busy.key("live", "server"), at_least=3 * RATE)
    others = _each_new_connection(stack, quiet.key("live", "server"), RATE)
    same_tenant = _each_new_connection(stack, busy.key("live", "admin"), RATE)

    # Exactly RATE pass: with a counter per process, up to twice as many would.
    assert statuses.count(200) == RATE and statuses.count(429) == len(statuses) - RATE
    assert others == [200] * RATE  # another tenant's key is not slowed
    assert same_tenant == [200] * RATE  # nor the same tenant's other key
    limited_response = requests.get(
        stack.base_url + REWARDS, headers=busy.auth("live", "server"), timeout=10
    )
    assert limited_response.status_code == 429
    assert limited_response.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited_response.headers["Retry-After"]) <= 60


def _raw(stack: Stack, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "header",
    [
        b"X-Request-ID: abc\r\n Set-Cookie: a=b",  # obs-fold (RFC 9112 §5.2)
        b"X-Request-ID: abc\nSet-Cookie: a=b",  # a bare LF
        b"X-Request-ID: abc\rSet-Cookie: a=b",  # a bare CR
        b"X-Request-ID: abc\x00Set-Cookie: a=b",  # NUL
    ],
    ids=["obs-fold", "bare LF", "bare CR", "NUL"],
)
def test_header_injection_on_the_wire_is_refused_and_never_echoed(
    limited: tuple[Stack, Database], header: bytes
) -> None:
    stack, db = limited
    tenant: TestTenant = make_tenant(db)
    auth = f"Authorization: Bearer {tenant.key('live', 'server')}".encode()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n" + header
    answer = _raw(stack, request + b"\r\nConnection: close\r\n\r\n")

    head = answer.split(b"\r\n\r\n", 1)[0]
    status = int(head.split(b" ", 2)[1])
    assert status in (200, 400), answer[:300]  # gunicorn refuses, or reads one harmless value
    assert b"set-cookie" not in head.lower()
    assert b"Traceback" not in answer
    assert answer.count(b"HTTP/1.1 ") == 1  # one request, one response


def test_a_body_with_both_a_length_and_chunked_encoding_is_refused(
    limited: tuple[Stack, Database],
) -> None:
    # RFC 9112 §6.3: a classic request-smuggling shape; the server must not guess.
    stack, db = limited
    key = make_tenant(db).key("live", "admin")
    body = b"0\r\n\r\nPOST /api/v1/gamify/rewards HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /api/v1/gamify/rewards HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {key}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 5\r\n"
        + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + body
    )

    answer = _raw(stack, request)

    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert answer.count(b"HTTP/1.1 ") == 1
