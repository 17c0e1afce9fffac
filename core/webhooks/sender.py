"""HTTP attempts of deliveries: to the checked address, no redirects, within the timeout.

The request goes to the IP literal that `ssrf.resolve` approved, with the
original host in the Host header and (for https) as the TLS SNI name, which
httpx also verifies the certificate against. Nothing is resolved again
between the check and the connection. Only a 2xx within the timeout counts;
a 3xx is a failure and is not followed. At most RESPONSE_BODY_CAP bytes of
the answer are read and kept.

Connections are pooled per process (`Sender`), which is what makes an attempt
cheap: building an httpx client loads the CA bundle (about 10 ms of CPU) and a
new connection costs a TCP (and TLS) handshake. A pooled client is keyed by
(scheme, host, port, checked address), so a kept-alive connection is reused
only for the very address that was checked for this attempt: when a name's
DNS answer changes, the next attempt checks the new address and connects to
it through another client; it can never ride a connection opened to the old
one, and no answer can point a connection at an address that was not checked.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from core.clock import utcnow
from core.webhooks.lanes import LANES
from core.webhooks.ssrf import Resolver, Target, UnsafeUrl, resolve

RESPONSE_BODY_CAP = 1024
ERROR_CAP = 500  # characters: the width of webhook_attempts.error
USER_AGENT = "Coffer-Webhooks/1"
MAX_CLIENTS = 64  # pooled clients per process (one per endpoint address), least recent evicted
CONNECTIONS = 16  # kept-alive connections per client; also the threads sending a round
KEEPALIVE_S = 30.0  # an idle pooled connection is closed after this
WINDOW_SLACK_S = 0.25  # a request may start this late in a round's window (still fits a lease)


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str | None = None
    retry_after_s: float | None = None  # from a 429/503 answer

    def __post_init__(self) -> None:
        # Every error is kept whole up to the column's width: a refusal quotes the URL's
        # host, which may be longer than the column (a 2,048-character URL).
        if self.error is not None and len(self.error) > ERROR_CAP:
            object.__setattr__(self, "error", self.error[: ERROR_CAP - 3] + "...")

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Request:
    """One POST of a round: the exact bytes and the signed headers."""

    body: bytes
    headers: dict[str, str]


class Sender:
    """This process's pooled HTTP clients and the threads that send a round at once.

    Thread-safe. `getaddrinfo` is the resolver seam (socket.getaddrinfo when None).
    """

    def __init__(
        self,
        *,
        getaddrinfo: Resolver | None = None,
        max_clients: int = MAX_CLIENTS,
        connections: int = CONNECTIONS,
    ) -> None:
        self.getaddrinfo = getaddrinfo
        self.max_clients = max_clients
        self.connections = connections
        self._clients: OrderedDict[tuple[str, str, int, str], httpx.Client] = OrderedDict()
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None  # one CA bundle load per process, on first https
        self._threads: ThreadPoolExecutor | None = None

    def resolve(self, url: str, *, allow_private: bool) -> Target:
        """ssrf.resolve through this sender's resolver (UnsafeUrl on a refusal)."""
        return resolve(url, allow_private=allow_private, getaddrinfo=self.getaddrinfo)

    def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: dict[str, str],
        timeout_s: float,
        allow_private: bool,
    ) -> AttemptResult:
        """Check `url`, then POST `body` to it once; never raises for the network or receiver."""
        started = time.monotonic()
        try:
            target = self.resolve(url, allow_private=allow_private)
        except UnsafeUrl as refusal:
            return refused(refusal, started)
        return self.exchange(target, Request(body, headers), timeout_s=timeout_s, started=started)

    def post_round(
        self,
        target: Target,
        requests: Sequence[Request],
        *,
        timeout_s: float,
        connections: int | None = None,
    ) -> list[AttemptResult | None]:
        """POST the requests to the checked `target`, `connections` at a time (at most this
        sender's), within one timeout: a request starts only while its whole timeout
        still fits in the round's window (`timeout_s` from the start), else it is
        None (not attempted).

        A fast receiver so takes a whole round over a few kept-alive connections;
        a slow one gets one request per connection, and no attempt is ever cut
        short by the round. Results come back in the order of `requests`.
        """
        window_end = time.monotonic() + timeout_s
        results: list[AttemptResult | None] = [None] * len(requests)
        upcoming = iter(range(len(requests)))
        taking = threading.Lock()

        def lane() -> None:  # one connection's worth: the next request, while it fits
            while True:
                with taking:
                    index = next(upcoming, None)
                if index is None:
                    return
                begun = time.monotonic()
                if begun + timeout_s > window_end + WINDOW_SLACK_S:
                    return  # this and every later one: not attempted
                results[index] = self.exchange(
                    target, requests[index], timeout_s=timeout_s, started=begun
                )

        lanes = min(connections or self.connections, self.connections, len(requests))
        if lanes <= 1:
            lane()
        else:
            for future in [self._pool().submit(lane) for _ in range(lanes)]:
                future.result()
        return results

    def exchange(
        self, target: Target, request: Request, *, timeout_s: float, started: float
    ) -> AttemptResult:
        """One POST to the first of the checked addresses that accepts a connection."""
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:  # every one was checked; the next if one refuses
            try:
                return self._exchange(
                    target, address, request, timeout_s=timeout_s, started=started
                )
            except httpx.ConnectError as error:
                last_error = error
            except httpx.TimeoutException:
                return AttemptResult(None, f"timed out after {timeout_s:g} s", _ms(started))
            except httpx.HTTPError as error:
                return AttemptResult(None, f"{type(error).__name__}: {error}"[:500], _ms(started))
        return AttemptResult(None, f"ConnectError: {last_error}"[:500], _ms(started))

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
            threads, self._threads = self._threads, None
        for client in clients:
            client.close()
        if threads is not None:
            threads.shutdown(wait=False)

    def pooled(self) -> int:
        """How many clients (checked addresses) this sender keeps."""
        return len(self._clients)

    def _exchange(
        self, target: Target, address: str, request: Request, *, timeout_s: float, started: float
    ) -> AttemptResult:
        sent_headers = {
            **request.headers,
            "Host": target.url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        https = target.url.scheme == "https"
        extensions = {"sni_hostname": target.url.host} if https else {}
        client = self._client(target, address)
        with client.stream(
            "POST",
            target.url.copy_with(host=address),
            content=request.body,
            headers=sent_headers,
            extensions=extensions,
            timeout=timeout_s,
        ) as response:
            excerpt = _read_capped(response, deadline=started + timeout_s)
        return _judge(response, excerpt, started, timeout_s)

    def _client(self, target: Target, address: str) -> httpx.Client:
        """The pooled client of (scheme, host, port, address): its connections go only there."""
        url = target.url
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port, address)
        evicted: httpx.Client | None = None
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            verify: ssl.SSLContext | bool = False  # plain http: no CA bundle to load
            if url.scheme == "https":
                self._tls = self._tls or ssl.create_default_context()
                verify = self._tls
            client = httpx.Client(
                verify=verify,
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: the checked address or nothing
                limits=httpx.Limits(
                    max_connections=self.connections,
                    max_keepalive_connections=self.connections,
                    keepalive_expiry=KEEPALIVE_S,
                ),
            )
            self._clients[key] = client
            if len(self._clients) > self.max_clients:
                _, evicted = self._clients.popitem(last=False)
        if evicted is not None:
            evicted.close()
        return client

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._threads is None:
                # Enough for every lane's round at once: one slow round starves no other.
                self._threads = ThreadPoolExecutor(self.connections * LANES, "coffer-webhook")
            return self._threads


class _PerProcess:
    """The process's sender; a forked child (Celery prefork) builds its own, as pooled
    connections and threads must not cross a fork."""

    lock = threading.Lock()
    sender: Sender | None = None
    pid: int | None = None


def process_sender() -> Sender:
    """This process's pooled sender, built on first use."""
    with _PerProcess.lock:
        if _PerProcess.sender is None or _PerProcess.pid != os.getpid():
            _PerProcess.sender, _PerProcess.pid = Sender(), os.getpid()
        return _PerProcess.sender


def post(
    url: str, *, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool
) -> AttemptResult:
    """POST `body` to `url` once through this process's sender; never raises for the network."""
    return process_sender().post(
        url, body=body, headers=headers, timeout_s=timeout_s, allow_private=allow_private
    )


def refused(refusal: UnsafeUrl, started: float) -> AttemptResult:
    """The result of an attempt the SSRF rule stopped before any connection."""
    return AttemptResult(None, f"refused: url {refusal}", _ms(started))


def _judge(
    response: httpx.Response, excerpt: str, started: float, timeout_s: float
) -> AttemptResult:
    elapsed = _ms(started)
    status = response.status_code
    error = None
    if elapsed > timeout_s * 1000:
        error = f"answered after the {timeout_s:g} s timeout"
    elif 300 <= status < 400:
        error = f"redirect to {response.headers.get('location', '?')[:200]} (not followed)"
    elif not 200 <= status < 300:
        error = f"HTTP {status}"
    retry_after = _retry_after(response) if status in (429, 503) else None
    return AttemptResult(status, error, elapsed, excerpt, retry_after)


def _read_capped(response: httpx.Response, *, deadline: float) -> str:
    """Up to RESPONSE_BODY_CAP bytes, and no reading past the attempt's deadline."""
    kept = b""
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) >= RESPONSE_BODY_CAP or time.monotonic() > deadline:
            break
    return kept[:RESPONSE_BODY_CAP].decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    raw = response.headers.get("retry-after", "").strip()
    if raw.isascii() and raw.isdigit():
        return float(raw)
    try:
        return max((parsedate_to_datetime(raw) - utcnow()).total_seconds(), 0.0)
    except (TypeError, ValueError, IndexError):
        return None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
