"""A steady claim load, as a storefront sends it, that records every answer.

Each claim carries its own Idempotency-Key. A storefront that gets no answer (the
connection refused or cut) or a 503 sends the same request again with the same key
after Retry-After, until it gets a definite answer; that is what makes "exactly once"
a promise a client can use, and what these tests hold Coffer to.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

CLAIM_PATH = "/api/v1/gamify/rewards/{}/claim"
UNDECIDED = (None, 503)  # no answer at all, or "try again": the storefront retries


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange (or a failed attempt at one) for one key."""

    key: str
    sent: float  # time.monotonic() when the request was sent
    at: float  # time.monotonic() when the answer (or the error) arrived
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    code: str | None = None  # the problem's code, for problem+json answers
    content_type: str = ""
    retry_after: str | None = None
    claim_id: str | None = None
    error: str | None = None  # the client exception, when there was no answer
    body: str = ""


class ClaimLoad:
    """`threads` storefront threads claiming `reward_id` for random participants."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        reward_id: str,
        participants: list[str],
        *,
        threads: int = 4,
        pause_s: float = 0.05,
    ) -> None:
        self.url = base_url + CLAIM_PATH.format(reward_id)
        self.api_key = api_key
        self.participants = participants
        self.pause_s = pause_s
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.unsettled: list[tuple[str, str]] = []  # (key, participant) still undecided
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> ClaimLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self, settle_s: float = 60) -> None:
        """Stop sending new claims, then retry every undecided one until it is decided."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=120)
        session = self._session()
        deadline = time.monotonic() + settle_s
        for key, participant in self.unsettled:
            while self._send(session, key, participant).status in UNDECIDED:
                assert time.monotonic() < deadline, f"key {key} never got a definite answer"
                time.sleep(0.5)

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.api_key}"
        return session

    def _run(self) -> None:
        session = self._session()
        while not self.stopping.is_set():
            key, participant = f"chaos-{uuid.uuid4().hex}", random.choice(self.participants)
            while True:
                answer = self._send(session, key, participant)
                if answer.status not in UNDECIDED:
                    break
                if self.stopping.is_set():
                    with self.lock:
                        self.unsettled.append((key, participant))
                    return
                given = answer.retry_after or ""
                wait = int(given) if given.isdigit() else 0.2
                self.stopping.wait(min(wait, 1.0))  # honour Retry-After, capped to keep pace
            time.sleep(self.pause_s)

    def probe(self) -> Answer:
        """One more claim with a fresh key, now, beside the steady threads (which may all be
        inside a claim wait that outlasts an outage); like a storefront, its key is sent
        again at stop() until it gets a definite answer."""
        key, participant = f"chaos-{uuid.uuid4().hex}", random.choice(self.participants)
        answer = self._send(self._session(), key, participant)
        if answer.status in UNDECIDED:
            with self.lock:
                self.unsettled.append((key, participant))
        return answer

    def burst(self, count: int) -> None:
        """`count` more claims at once with `Prefer: respond-async` (a backlog for the
        worker), recorded like the steady ones; each must be answered 202."""

        def one(_: int) -> Answer:
            key, participant = f"chaos-{uuid.uuid4().hex}", random.choice(self.participants)
            return self._send(self._session(), key, participant, prefer="respond-async")

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, range(count)))
        assert {answer.status for answer in answers} == {202}, answers[:3]

    def _send(
        self, session: requests.Session, key: str, participant: str, prefer: str | None = None
    ) -> Answer:
        body: dict[str, Any] = {"participant_id": participant, "points_deduction": True}
        headers = {"Idempotency-Key": key, **({"Prefer": prefer} if prefer else {})}
        sent = time.monotonic()
        try:
            response = session.post(self.url, json=body, headers=headers, timeout=30)
        except requests.RequestException as error:
            answer = Answer(key, sent, time.monotonic(), None, error=type(error).__name__)
        else:
            answer = _answer(key, sent, response)
        with self.lock:
            self.answers.append(answer)
        return answer

    # What happened, for the assertions.

    def statuses_between(self, start: float, end: float = float("inf")) -> list[int | None]:
        with self.lock:
            return [a.status for a in self.answers if start <= a.at < end]

    def decided_since(self, start: float, status: int = 201) -> int:
        return sum(1 for s in self.statuses_between(start) if s == status)

    def wait_for_decided(
        self,
        start: float,
        count: int = 10,
        timeout_s: float = 60,
        explain: Callable[[], str] | None = None,
    ) -> None:
        """Block until `count` claims were answered 201 after `start` (recovery); on a
        timeout, the failure carries `explain()` (what the stack was doing)."""
        deadline = time.monotonic() + timeout_s
        while self.decided_since(start) < count:
            if time.monotonic() >= deadline:
                why = explain() if explain else ""
                raise AssertionError(f"no recovery: {self.summary(start)}\n{why}")
            time.sleep(0.2)

    def summary(self, start: float = 0.0) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for status in self.statuses_between(start):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def final(self) -> dict[str, Answer]:
        """The last answer each key got (after stop(), a definite one)."""
        with self.lock:
            return {answer.key: answer for answer in self.answers}

    def all(self) -> Iterator[Answer]:
        with self.lock:
            yield from list(self.answers)


def _answer(key: str, sent: float, response: requests.Response) -> Answer:
    content_type = response.headers.get("Content-Type", "")
    code = claim_id = None
    if content_type.startswith(("application/json", "application/problem+json")):
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        code, claim_id = payload.get("code"), payload.get("claim_id")
    return Answer(
        key,
        sent,
        time.monotonic(),
        response.status_code,
        code=code,
        content_type=content_type,
        retry_after=response.headers.get("Retry-After"),
        claim_id=claim_id,
        body=response.text[:500],
    )
