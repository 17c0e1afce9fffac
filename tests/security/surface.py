"""The API's attack surface, read from the served OpenAPI document.

Every operation of `/api/v1/openapi.json` becomes a `Call` with its path ids
filled from objects a tenant owns and, when it takes a body, a valid body from
`BODIES`. The authorization tests iterate over these calls, so an operation
added to the document is tested without anyone writing a new test; an
operation that takes a body nobody listed fails the tests until it is listed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

DOCUMENT = "/api/v1/openapi.json"
PARAM = re.compile(r"\{([a-z_]+)\}")


def _bodies(ids: dict[str, str]) -> dict[str, Any]:
    """A valid body per operationId taking one: the request must fail for who asks, not what."""
    return {
        "createReward": {"name": "Intruder's reward", "type": "coupon"},
        "updateReward": {"name": "Hijacked"},
        "uploadCodes": {"codes": [f"HIJACK-{uuid.uuid4().hex[:8]}"]},
        "claimReward": {"participant_id": "intruder"},
        "reverseClaim": {"reason": "hijack", "restock": True},
        "reportFulfillment": {"status": "failed", "reference": "hijack"},
        "creditPoints": {"amount": 1_000, "reason": "hijack"},
        "createCampaign": {"reward_id": ids["reward_id"], "participant_ids": ["intruder"]},
        "createWebhookEndpoint": {"url": "https://93.184.215.14/steal", "event_types": ["*"]},
        "updateWebhookEndpoint": {"url": "https://93.184.215.14/steal"},
    }


@dataclass(frozen=True)
class Call:
    """One operation of the document, ready to send."""

    method: str
    template: str  # the document's path, e.g. /api/v1/gamify/rewards/{reward_id}
    operation_id: str
    access: str  # public, server or admin (x-coffer-access)
    path_ids: tuple[str, ...]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def path(self, ids: dict[str, str]) -> str:
        return PARAM.sub(lambda match: ids[match.group(1)], self.template)

    def send(self, client: FlaskClient, ids: dict[str, str], auth: dict[str, str]) -> TestResponse:
        headers = {**self.headers, **auth, "Idempotency-Key": f"sec-{uuid.uuid4().hex}"}
        return client.open(self.path(ids), method=self.method, json=self.body, headers=headers)


def calls(client: FlaskClient, ids: dict[str, str]) -> list[Call]:
    """Every operation the served document lists, bodies filled for the ids given."""
    document = client.get(DOCUMENT).get_json()
    bodies = _bodies(ids)
    found = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            op_id = operation["operationId"]
            takes_body = operation.get("requestBody", {}).get("required", False)
            assert not takes_body or op_id in bodies, (
                f"{op_id} takes a body: add a valid one to tests/security/surface.py BODIES"
            )
            found.append(
                Call(
                    method=method.upper(),
                    template=template,
                    operation_id=op_id,
                    access=operation["x-coffer-access"],
                    path_ids=tuple(PARAM.findall(template)),
                    body=bodies.get(op_id),
                )
            )
    return found
