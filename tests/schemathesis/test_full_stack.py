"""schemathesis against Coffer as deployed: gunicorn, a Celery worker and beat, PostgreSQL, Redis.

Issue 10 item 4. The schemathesis command line runs every operation of
GET /api/v1/openapi.json over real HTTP (phases examples, coverage, fuzzing and
stateful; valid and invalid requests) with an admin key, and the build fails on:

- any 5xx (not_a_server_error);
- any response the document does not describe: status, media type, headers, body
  (the *_conformance checks);
- any accepted invalid input (negative_data_rejection, missing_required_header,
  unsupported_method), and any operation that answers without a key (ignored_auth);
- stateful runs that find a deleted object still served or a created one missing
  (use_after_free, ensure_resource_availability).

Identifiers of real objects (rewards with codes, a decided claim, a participant with
points, a campaign, a webhook endpoint and one of its deliveries) are seeded first and
given to schemathesis as dictionaries, so most generated requests reach the rules in
core/ instead of stopping at a 404. Afterwards `coffer check` must find every invariant
held and no process of the stack may have logged a traceback.

Not run: positive_data_acceptance ("valid by the document, yet refused"). Rules that
span fields or need server state cannot be stated in JSON Schema: expires_at after
starts_at, a multiplier for points_multiplier rewards only, query parameters only with
a text/csv campaign, a cursor Coffer issued, an Idempotency-Key reused for another
body (422). What that check found that a document can state was fixed (see
tests/schemathesis/test_document_findings.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from api.openapi import DOCUMENT_PATH
from core.db import Database
from core.migrate import upgrade
from tests.support.client import Api
from tests.support.contract import REPO
from tests.support.processes import die_with_parent
from tests.support.services import fresh_database, private_redis_db
from tests.support.stack import BIN, Stack
from tests.support.tenants import TestTenant, make_tenant

pytestmark = pytest.mark.slow

# Deterministic: the same seed draws the same requests on every run.
SEED = 20261130
# Per operation and phase; the whole run stays near a minute on the 2-core CI machine
# (issue 10 budget: <= 3 minutes). Raise it locally to search harder.
MAX_EXAMPLES = int(os.environ.get("COFFER_SCHEMATHESIS_EXAMPLES", "15"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
)
# Registration accepts it (COFFER_WEBHOOK_ALLOW_PRIVATE); nothing listens there, so the
# worker's deliveries fail and wait for their retries: nothing leaves the host.
HOOK_URL = "http://127.0.0.1:9/hooks"


@dataclass
class Seeded:
    """Real identifiers, by path parameter name, that schemathesis draws from."""

    tenant: TestTenant
    ids: dict[str, list[str]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Database]]:
    with fresh_database("schemathesis") as url, private_redis_db() as redis_url:
        upgrade(url)
        db = Database(url, pool_size=2)
        running = Stack(
            database_url=url,
            redis_url=redis_url,
            logs=tmp_path_factory.mktemp("schemathesis-stack"),
            sweep_interval_s="2",
            webhook_allow_private="1",
            claim_wait_ms="2000",
        )
        try:
            running.start_api()
            running.start_worker()
            running.start_beat()
            yield running, db
        finally:
            running.stop()
            db.dispose()


def wait_for(what: str, probe: object, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout} s")


@pytest.fixture(scope="module")
def seeded(stack: tuple[Stack, Database]) -> Seeded:
    running, db = stack
    tenant = make_tenant(db)
    api = Api(running.base_url, tenant.key("live", "admin"))
    hook = api.post("/webhook-endpoints", {"url": HOOK_URL, "event_types": ["*"]})
    assert hook.status_code == 201, hook.text
    endpoint_id = hook.json()["id"]

    rewards = [api.create_reward(name=f"Seeded {n}")["id"] for n in range(3)]
    for reward_id in rewards:
        api.upload(reward_id, [f"ST-{uuid.uuid4().hex}" for _ in range(200)])
    paid = api.create_reward(name="Paid", points_cost=10, code_generation={"prefix": "P-"})
    participant = "seeded-participant"
    api.credit(participant, 100_000)
    claim = api.claim(rewards[0], participant)
    assert claim.status_code == 201, claim.text
    campaign = api.post(
        "/campaigns",
        {"reward_id": rewards[1], "participant_ids": ["gift-1", "gift-2"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert campaign.status_code == 202, campaign.text

    def delivery() -> str | None:
        page = api.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()
        return page["deliveries"][0]["id"] if page["deliveries"] else None

    delivery_id = wait_for("webhook delivery", delivery)
    return Seeded(
        tenant,
        {
            "reward_id": [*rewards, paid["id"]],
            "claim_id": [claim.json()["claim_id"]],
            "participant_id": [participant],
            "campaign_id": [campaign.json()["campaign_id"]],
            "endpoint_id": [endpoint_id],
            "delivery_id": [str(delivery_id)],
        },
    )


def config_file(seeded: Seeded, path: Path) -> Path:
    """schemathesis.toml: each path parameter drawn from the seeded ids most of the time."""
    lines = []
    for name, values in seeded.ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name in seeded.ids:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.8 }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def operation_count(base_url: str) -> int:
    """Operations in the served document, less GET of the document itself (schemathesis
    leaves out the operation that serves the schema it runs from)."""
    document = requests.get(f"{base_url}{DOCUMENT_PATH}", timeout=10).json()
    methods = {"get", "post", "put", "patch", "delete"}
    return sum(len(methods & set(item)) for item in document["paths"].values()) - 1


def test_schemathesis_finds_no_5xx_no_undocumented_response_and_no_accepted_bad_input(
    stack: tuple[Stack, Database], seeded: Seeded, tmp_path: Path
) -> None:
    running, _ = stack
    junit, dropped_file = tmp_path / "junit.xml", tmp_path / "dropped.jsonl"
    args = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config_file(seeded, tmp_path / "schemathesis.toml")),
        "run",
        f"{running.base_url}{DOCUMENT_PATH}",
        "--header",
        f"Authorization: Bearer {seeded.tenant.key('live', 'admin')}",
        "--checks",
        ",".join(CHECKS),
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: generation in threads trips CPython 3.11.7's "AST constructor
        # recursion depth mismatch" inside hypothesis (seen once with two).
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        "--report",
        os.environ.get("COFFER_SCHEMATHESIS_REPORTS", "junit"),
        "--report-junit-path",
        str(junit),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks",
        "COFFER_SCHEMATHESIS_DROPPED": str(dropped_file),
        "NO_COLOR": "1",
    }
    started = time.monotonic()
    result = subprocess.run(
        args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    report = result.stdout[-20000:] + result.stderr[-5000:]
    (tmp_path / "schemathesis.log").write_text(result.stdout + result.stderr)

    assert result.returncode == 0, report
    # Every operation of the document was exercised, none errored.
    suites = ET.parse(junit).getroot()  # noqa: S314 - the report schemathesis just wrote
    assert not suites.findall(".//failure") and not suites.findall(".//error"), report
    names = {case.get("name", "") for case in suites.iter("testcase")}
    operations = {name for name in names if re.match(r"^(GET|POST|PUT|PATCH|DELETE) /", name)}
    assert len(operations) == operation_count(running.base_url), sorted(names)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) == len(operations), report
    # The hook dropped only accepted text/csv bodies of the two operations that take one.
    dropped = (
        [json.loads(line) for line in dropped_file.read_text().splitlines()]
        if dropped_file.exists()
        else []
    )
    csv_operations = {
        "POST /api/v1/gamify/rewards/{reward_id}/codes",
        "POST /api/v1/gamify/campaigns",
    }
    assert {item["operation"] for item in dropped} <= csv_operations, dropped
    print(f"schemathesis: {len(operations)} operations in {elapsed:.0f} s, {len(dropped)} dropped")


def test_the_stack_survived_with_every_invariant_held(
    stack: tuple[Stack, Database],
    seeded: Seeded,
) -> None:
    """After the run (this test comes second): every process is up, none logged a
    traceback, and `coffer check` finds nothing wrong in what the requests wrote."""
    running, _ = stack
    for name, process in running.processes.items():
        assert process.poll() is None, f"{name} died"
    for log in running.logs.glob("*.log"):
        assert "Traceback" not in log.read_text(errors="replace"), log
    check = subprocess.run(
        [str(BIN / "coffer"), "check", "--max-pending-age", "60"],
        env=running.env, capture_output=True, text=True, timeout=120, check=False,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all invariants hold" in check.stdout
    # The seeded objects are still there for the tenant (schemathesis used this key).
    api = Api(running.base_url, seeded.tenant.key("live", "admin"))
    assert api.get(f"/claims/{seeded.ids['claim_id'][0]}").status_code == 200
