"""Inputs through real HTTP (docs/inputs.md): gunicorn and `coffer serve` (waitress), with
requests, curl and raw http.client, as clients really send them."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from core.db import Database
from core.migrate import upgrade
from tests.support.client import GAMIFY, Api
from tests.support.processes import die_with_parent
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, Stack, free_port
from tests.support.tenants import TestTenant, make_tenant

LIMIT = 2048
PROBLEM_MEMBERS = ["type", "code", "title", "status", "detail"]


def new_id(prefix: str = "acct") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def raw_request(
    base_url: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Exactly this path on the wire: http.client neither normalizes nor encodes it."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def curl(*args: str) -> tuple[int, str]:
    """curl as a user runs it: it keeps "//" and removes dot segments (unless --path-as-is)."""
    result = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), body


def chunks(data: bytes, size: int = 100) -> Iterator[bytes]:
    """A generator body: requests sends it with Transfer-Encoding: chunked, no length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def codes_csv(count: int, prefix: str = "CODE") -> bytes:
    return "".join(f"{prefix}-{n:05d}\n" for n in range(count)).encode()


def assert_problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == problem["code"] == code
    return problem


def assert_canonical_problem(raw: str) -> None:
    """As the one serializer writes every problem: compact, RFC 9457 members first."""
    problem = json.loads(raw)
    assert raw == json.dumps(problem, separators=(",", ":")) + "\n", raw
    assert list(problem)[:5] == PROBLEM_MEMBERS


def available(api: Api, reward_id: str) -> int:
    response = api.get(f"/rewards/{reward_id}")
    assert response.status_code == 200, response.text
    return response.json()["available_codes"]


def balance(api: Api, participant: str) -> int:
    response = api.get(f"/participants/{participant}/points")
    assert response.status_code == 200, response.text
    return response.json()["balance"]


# gunicorn with a worker (the session stack): participant ids and paths.


def test_a_slashed_participant_is_addressed_exactly_by_requests_and_curl(
    api: Api, tenant: TestTenant
) -> None:
    plain = new_id()
    slashed = f"/{plain}"
    api.credit(plain, 100)
    reward = api.create_reward()
    api.upload(reward["id"], ["SLASH-1"])

    credit = api.post(
        f"/participants/{slashed}/points",  # requests sends /participants//acct-.../points
        {"amount": 5},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        allow_redirects=False,
    )
    claimed = api.claim(reward["id"], slashed)
    rewards = api.get(f"/participants/{slashed}/rewards", allow_redirects=False)

    assert credit.status_code == 201 and credit.json()["participant_id"] == slashed
    assert claimed.status_code == 201 and claimed.json()["participant_id"] == slashed
    assert rewards.status_code == 200 and "Location" not in rewards.headers
    assert rewards.json()["participant_id"] == slashed
    assert [r["code_value"] for r in rewards.json()["rewards"]] == ["SLASH-1"]
    assert api.get(f"/participants/{plain}/rewards").json()["rewards"] == []
    assert (balance(api, plain), balance(api, slashed)) == (100, 5)

    auth = f"Authorization: Bearer {api.session.headers['Authorization'].split()[1]}"
    status, body = curl("-H", auth, api.url(f"/participants//{plain}/rewards"))
    assert status == 200 and json.loads(body)["participant_id"] == slashed
    status, body = curl("-H", auth, api.url(f"/participants/{plain}//points"))
    assert status == 200 and json.loads(body)["participant_id"] == f"{plain}/"


def test_no_path_is_redirected_through_gunicorn(api: Api, stack: Stack) -> None:
    paths = [
        f"{GAMIFY}/participants//acct-7/rewards",
        f"{GAMIFY}/participants/acct-7/rewards/",
        f"{GAMIFY}/rewards/",
        f"{GAMIFY}//rewards",
        "/api/v1//gamify/rewards",
        f"{GAMIFY}/rewards/rwd_nope/",
        f"{GAMIFY}/claims/clm_nope/",
        "/healthz/",
        "/metrics/",
    ]
    for path in paths:
        for method in ("GET", "POST", "DELETE"):
            response = api.session.request(
                method, stack.base_url + path, allow_redirects=False, timeout=30
            )
            assert not 300 <= response.status_code < 400, (method, path, response.headers)


@pytest.mark.parametrize("participant", ["a/../b", "./x", "..", "x/."])
def test_an_id_with_dot_segments_is_refused_in_bodies_and_in_raw_paths(
    api: Api, stack: Stack, participant: str
) -> None:
    reward = api.create_reward()
    assert_problem(api.claim(reward["id"], participant), 400, "validation_error")

    auth = dict(api.session.headers)
    status, _, body = raw_request(
        stack.base_url, "GET", f"{GAMIFY}/participants/{participant}/points", auth
    )
    assert status == 400 and json.loads(body)["errors"][0]["field"] == "participant_id"
    status, body = curl(
        "--path-as-is",
        "-H",
        f"Authorization: {auth['Authorization']}",
        api.url(f"/participants/{participant}/points"),
    )
    assert status == 400 and json.loads(body)["code"] == "validation_error"


@pytest.mark.parametrize("participant", ["nel\u0085x", "rlo\u202ex", "zw\u200bx", " x"])
def test_control_and_formatting_characters_are_refused_through_http(
    api: Api, participant: str
) -> None:
    reward = api.create_reward()
    assert_problem(api.claim(reward["id"], participant), 400, "validation_error")
    credit = api.post(
        f"/participants/{participant}/points",  # requests percent-encodes it as UTF-8
        {"amount": 5},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert_problem(credit, 400, "validation_error")


def test_a_path_that_is_not_utf8_is_a_400_and_stores_nothing(api: Api, stack: Stack) -> None:
    key = uuid.uuid4().hex
    headers = {**api.session.headers, "Idempotency-Key": key, "Content-Type": "application/json"}
    status, _, body = raw_request(
        stack.base_url, "POST", f"{GAMIFY}/participants/%FF/points", headers, b'{"amount": 5}'
    )
    assert status == 400 and json.loads(body)["errors"] == [
        {"field": "path", "message": "is not valid UTF-8"}
    ]
    assert balance(api, "\ufffd") == 0
    assert api.credit("after-ff", 1)["balance"] == 1  # the key was not consumed: a new credit


@pytest.mark.parametrize("key", ["k" * 256, "clé-1", "clé-1".encode(), "ключ".encode()])
def test_a_malformed_idempotency_key_is_a_400_problem_through_http(
    api: Api, key: str | bytes
) -> None:
    participant = new_id()
    response = api.post(
        f"/participants/{participant}/points", {"amount": 5}, headers={"Idempotency-Key": key}
    )
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert balance(api, participant) == 0


def test_delete_is_204_without_content_type_through_gunicorn(api: Api) -> None:
    reward = api.create_reward()
    response = api.session.delete(api.url(f"/rewards/{reward['id']}"), timeout=30)
    assert response.status_code == 204 and response.content == b""
    assert "Content-Type" not in response.headers


def test_claim_failures_fresh_and_replayed_are_formatted_like_handler_problems(api: Api) -> None:
    reward, key = api.create_reward(), uuid.uuid4().hex  # no codes: inventory_exhausted
    fresh = api.claim(reward["id"], new_id(), key=key)
    replay = api.claim(reward["id"], new_id(), key=key)  # another body: 422 from a handler
    same = api.post(
        f"/rewards/{reward['id']}/claim",
        json.loads(fresh.request.body or b"{}"),
        headers={"Idempotency-Key": key},
    )
    missing = api.get("/rewards/rwd_nope")

    assert_problem(fresh, 409, "inventory_exhausted")
    assert_problem(same, 409, "inventory_exhausted")
    assert same.headers["Idempotent-Replayed"] == "true"
    assert_problem(replay, 422, "idempotency_key_reused")
    assert_problem(missing, 404, "reward_not_found")
    for response in (fresh, same, replay, missing):
        assert_canonical_problem(response.text)


# gunicorn alone, with a small body limit and no worker: bodies, and claims that stay pending.


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Api]]:
    with fresh_database("inputs") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=2)
        logs = tmp_path_factory.mktemp("small-stack")
        running = Stack(database_url=url, redis_url=redis_url, logs=logs, max_body_bytes=str(LIMIT))
        try:
            running.start_api()
            tenant = make_tenant(db)
            yield running, Api(running.base_url, tenant.key("live", "admin"), tenant.id)
        finally:
            running.stop()
            db.dispose()


def test_a_chunked_csv_upload_over_the_limit_is_413_and_stores_nothing(
    small: tuple[Stack, Api],
) -> None:
    _, api = small
    reward = api.create_reward()
    api.upload(reward["id"], ["FIRST"])
    body = codes_csv(300)  # 3,300 bytes: the limit falls inside a code

    response = api.session.post(
        api.url(f"/rewards/{reward['id']}/codes"),
        data=chunks(body),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )

    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    problem = assert_problem(response, 413, "payload_too_large")
    assert str(LIMIT) in problem["detail"]
    assert available(api, reward["id"]) == 1  # the connection still serves the next request


def test_a_chunked_upload_within_the_limit_is_stored_whole(small: tuple[Stack, Api]) -> None:
    _, api = small
    reward = api.create_reward()
    body = codes_csv(180)

    response = api.session.post(
        api.url(f"/rewards/{reward['id']}/codes"),
        data=chunks(body, 7),
        headers={"Content-Type": "text/csv; header=present"},
        timeout=30,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"added": 179, "duplicates": 0, "available_codes": 179}


def test_every_chunked_json_body_over_the_limit_is_413_and_changes_nothing(
    small: tuple[Stack, Api],
) -> None:
    _, api = small
    reward = api.create_reward(name="Before")
    rewards_before = api.get("/rewards").json()["total"]
    participant, key = new_id(), uuid.uuid4().hex
    credit_path = f"/participants/{participant}/points"
    json_type = {"Content-Type": "application/json"}

    def over(body: dict[str, Any]) -> Iterator[bytes]:
        raw = json.dumps(body).encode()
        return chunks(raw + b" " * (LIMIT + 1 - len(raw)))

    def send(method: str, path: str, body: dict[str, Any], **headers: str) -> requests.Response:
        return api.session.request(
            method, api.url(path), data=over(body), headers={**json_type, **headers}, timeout=30
        )

    refused = [
        send("POST", f"/rewards/{reward['id']}/codes", {"codes": ["C-1"]}),
        send("POST", "/rewards", {"name": "New", "type": "coupon"}),
        send("PATCH", f"/rewards/{reward['id']}", {"name": "After"}),
        send("POST", credit_path, {"amount": 5}, **{"Idempotency-Key": key}),
        send("POST", f"/rewards/{reward['id']}/claim", {"participant_id": participant},
             **{"Idempotency-Key": key + "c", "Prefer": "respond-async"}),
    ]  # fmt: skip

    for response in refused:
        assert_problem(response, 413, "payload_too_large")
    assert available(api, reward["id"]) == 0
    assert api.get("/rewards").json()["total"] == rewards_before
    assert api.get(f"/rewards/{reward['id']}").json()["name"] == "Before"
    assert balance(api, participant) == 0
    again = api.post(credit_path, {"amount": 5}, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


def test_a_repeated_json_member_is_refused_through_gunicorn(small: tuple[Stack, Api]) -> None:
    _, api = small
    reward = api.create_reward()
    response = api.session.post(
        api.url(f"/rewards/{reward['id']}/claim"),
        data=b'{"participant_id": "alice", "participant_id": "mallory"}',
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
            "Prefer": "respond-async",
        },
        timeout=30,
    )
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"][0]["field"] == "participant_id"


@pytest.mark.parametrize("prefer", ["respond-async, wait=1", "wait=1, respond-async"])
def test_prefer_in_either_order_waits_then_answers_202(
    small: tuple[Stack, Api], prefer: str
) -> None:
    _, api = small  # no worker: the claim stays pending
    reward = api.create_reward()

    started = time.monotonic()
    response = api.claim(reward["id"], new_id(), prefer=prefer)
    elapsed = time.monotonic() - started

    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == "respond-async, wait=1"
    assert 0.9 <= elapsed < 4


# `coffer serve`: waitress, with the worker in-process and outcomes polled from the database.


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with fresh_database("serve") as url:
        upgrade(url)
        db = Database(url, pool_size=2)
        tenant = make_tenant(db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
        env.update(
            COFFER_DATABASE_URL=url,
            COFFER_MAX_BODY_BYTES=str(LIMIT),
            COFFER_RATE_LIMIT="100000/second",
            COFFER_LOG_LEVEL="WARNING",
        )
        port = free_port()
        log = tmp_path_factory.mktemp("serve") / "serve.log"
        with open(log, "wb") as out:
            server = subprocess.Popen(
                [str(BIN / "coffer"), "serve", "--port", str(port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl
            )  # fmt: skip
        api = Api(f"http://127.0.0.1:{port}", tenant.key("live", "admin"), tenant.id)
        try:
            wait_until_serving(api, server, log)
            yield api
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            db.dispose()


def embedded_key(api: Api) -> str:
    return str(api.session.headers["Authorization"]).removeprefix("Bearer ")


def wait_until_serving(api: Api, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"coffer serve exited: {log.read_text()}")
        try:
            if api.get("/rewards").ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"coffer serve did not answer: {log.read_text()}")


def test_coffer_serve_answers_respond_async_with_202_every_time(embedded: Api) -> None:
    """Sequential and concurrent: while the in-process worker decides a batch, a request
    that read the outcome right after recording its claim could find it decided (201)."""
    reward = embedded.create_reward(code_generation={"prefix": "E-", "length": 6})

    def claim(_: int) -> requests.Response:
        return Api(embedded.base_url, embedded_key(embedded)).claim(
            reward["id"], new_id(), prefer="respond-async"
        )

    answers = [claim(n) for n in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers += list(pool.map(claim, range(40)))

    assert [answer.status_code for answer in answers] == [202] * 60
    assert {answer.headers["Preference-Applied"] for answer in answers} == {"respond-async"}
    for answer in answers:  # and the in-process worker did decide each one
        deadline = time.monotonic() + 30
        while (state := embedded.get(answer.headers["Location"].removeprefix(GAMIFY)).json())[
            "status"
        ] == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state["status"] == "succeeded"


def test_coffer_serve_refuses_a_chunked_upload_over_the_limit(embedded: Api) -> None:
    reward = embedded.create_reward()
    embedded.upload(reward["id"], ["FIRST"])

    over = embedded.session.post(
        embedded.url(f"/rewards/{reward['id']}/codes"),
        data=chunks(codes_csv(300)),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )
    within = embedded.session.post(
        embedded.url(f"/rewards/{reward['id']}/codes"),
        data=chunks(b"A-1\rA-2\r\nA-3\n"),
        headers={"Content-Type": "text/csv"},
        timeout=30,
    )

    assert_problem(over, 413, "payload_too_large")
    assert within.status_code == 200 and within.json()["added"] == 3
    assert available(embedded, reward["id"]) == 4


def test_coffer_serve_addresses_slashed_participants_exactly(embedded: Api) -> None:
    plain = new_id()
    embedded.credit(plain, 10)
    embedded.credit(f"/{plain}", 3)
    response = embedded.get(f"/participants//{plain}/points", allow_redirects=False)
    assert response.status_code == 200 and response.json()["participant_id"] == f"/{plain}"
    assert (balance(embedded, plain), response.json()["balance"]) == (10, 3)


def test_coffer_serve_answers_204_without_content_type(embedded: Api) -> None:
    reward = embedded.create_reward()
    response = embedded.session.delete(embedded.url(f"/rewards/{reward['id']}"), timeout=30)
    assert response.status_code == 204 and response.content == b""
    assert "Content-Type" not in response.headers


def test_two_prefer_headers_read_as_one_list_through_gunicorn(small: tuple[Stack, Api]) -> None:
    stack, api = small
    reward = api.create_reward()
    host, port = stack.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    body = json.dumps({"participant_id": new_id()}).encode()
    try:
        connection.putrequest("POST", f"{GAMIFY}/rewards/{reward['id']}/claim")
        for name, value in [
            ("Authorization", str(api.session.headers["Authorization"])),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Idempotency-Key", uuid.uuid4().hex),
            ("Prefer", "wait=1"),
            ("Prefer", "respond-async"),
        ]:
            connection.putheader(name, value)
        connection.endheaders(body)
        started = time.monotonic()
        response = connection.getresponse()
        elapsed = time.monotonic() - started
        response.read()
    finally:
        connection.close()

    assert response.status == 202
    assert response.getheader("Preference-Applied") == "respond-async, wait=1"
    assert 0.9 <= elapsed < 4
