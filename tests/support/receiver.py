"""A real webhook receiver on 127.0.0.1 that verifies every delivery with `standardwebhooks`.

It answers from a script (`plan`: status codes, headers, delays, taken in
order; 204 once the script is used up) and records each request with the
secrets it verified against, so tests assert on what a fulfillment team's
receiver would really have seen.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from core.clock import utcnow
from core.db import Database
from core.facts import append, fact
from core.models import Fact, WebhookDelivery
from core.webhooks.endpoints import create_endpoint
from core.webhooks.inputs import EndpointCreate
from core.webhooks.relay import relay
from tests.support.tenants import TestTenant


@dataclass(frozen=True)
class Answer:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_by: tuple[int, ...]  # indexes into the receiver's secrets that verified it
    payload: Any
    answered: int

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.plan: deque[Answer] = deque()
        self.default = Answer()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, *answers: Answer) -> None:
        with self.lock:
            self.plan.extend(answers)

    def _next(self) -> Answer:
        with self.lock:
            return self.plan.popleft() if self.plan else self.default

    def _verify(self, body: bytes, headers: dict[str, str]) -> tuple[tuple[int, ...], Any]:
        verified, payload = [], None
        for index, secret in enumerate(self.secrets):
            try:
                payload = Webhook(secret).verify(body, headers)
                verified.append(index)
            except WebhookVerificationError:
                continue
        return tuple(verified), payload

    def delivered(self) -> dict[str, Received]:
        """Verified requests answered 2xx, deduplicated on webhook-id as a receiver should."""
        with self.lock:
            return {
                r.webhook_id: r for r in self.received if r.verified_by and 200 <= r.answered < 300
            }

    def wait_for(self, count: int, timeout_s: float = 30.0) -> dict[str, Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self.delivered()
            if len(done) >= count:
                return done
            time.sleep(0.05)
        raise AssertionError(f"{len(self.delivered())} of {count} deliveries arrived in time")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = receiver._next()
            verified, payload = receiver._verify(body, headers)
            time.sleep(answer.delay_s)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, headers, body, verified, payload, answer.status)
                )
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *_: object) -> None:  # quiet
            return

    return Handler


def register(db: Database, tenant: TestTenant, url: str, receiver: Receiver | None = None) -> str:
    body = EndpointCreate(url=url, event_types=["*"])
    with db.transaction() as session:
        made = create_endpoint(session, principal=tenant.principal(), body=body, allow_private=True)
    if receiver is not None:
        receiver.secrets.append(made["secret"])
    return made["id"]


def new_delivery(db: Database, tenant: TestTenant, data: dict[str, Any] | None = None) -> int:
    """A fact of this tenant relayed into deliveries; the pk of the newest delivery."""
    row = fact(
        tenant_id=tenant.id,
        mode="live",
        type_="reward.reward_claimed",
        data=data or {"claim_id": "clm_x"},
        at=utcnow(),
    )
    with db.transaction() as session:
        append(session, [row])
    created: list[int] = []
    relay(db, on_committed=created.extend)
    with db.transaction() as session:
        return session.scalars(
            select(WebhookDelivery.id)
            .join(Fact, Fact.id == WebhookDelivery.fact_id)
            .where(Fact.event_id == row["event_id"])
        ).one()
