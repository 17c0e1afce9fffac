"""A real Coffer for the client's tests: `coffer serve` (embedded SQLite, in-process worker)
on a free port, a tenant with its keys, and a TCP proxy in front of it that can drop
connections or answer as a failing gateway."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from proxy_faults import FaultyProxy

# tests/support lives at the repository's root, two folders up.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from core.db import Database
from tests.support.processes import die_with_parent
from tests.support.tenants import make_tenant

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base_url: str
    env: dict[str, str]
    admin_key: str
    server_key: str

    def admin(self) -> httpx.Client:
        """Plain HTTP as the tenant's admin, for what the client does not do (the catalog)."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.admin_key}"}
        )

    def create_reward(self, **fields: Any) -> dict[str, Any]:
        with self.admin() as admin:
            body = {"name": "10% Off", "type": "coupon", **fields}
            response = admin.post("/api/v1/gamify/rewards", json=body)
            assert response.status_code == 201, response.text
            return response.json()  # type: ignore[no-any-return]

    def upload(self, reward_id: str, codes: list[str]) -> None:
        with self.admin() as admin:
            response = admin.post(
                f"/api/v1/gamify/rewards/{reward_id}/codes", json={"codes": codes}
            )
            assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("coffer")
    env = {name: value for name, value in os.environ.items() if not name.startswith("COFFER_")}
    env |= {
        "COFFER_DATABASE_URL": f"sqlite:///{folder / 'coffer.db'}",
        "COFFER_RATE_LIMIT": "100000/second",
        "COFFER_LOG_LEVEL": "WARNING",
        "COFFER_SWEEP_INTERVAL_S": "1",
    }
    port = free_port()
    with open(folder / "serve.log", "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "coffer"), "serve", "--port", str(port), "--threads", "8"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
        )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, folder / "serve.log")
        # Made in-process (as `coffer tenants create` does) once serve has migrated the file.
        db = Database(env["COFFER_DATABASE_URL"])
        tenant = make_tenant(db)
        db.dispose()
        yield Server(base_url, env, tenant.key("live", "admin"), tenant.key("live", "server"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"coffer serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"coffer serve did not come up: {log.read_text()[-2000:]}")


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultyProxy]:
    """A TCP proxy to the server on its own port; faults are armed per test."""
    upstream = int(server.base_url.rsplit(":", 1)[1])
    with FaultyProxy(upstream) as running:
        yield running


@pytest.fixture
def participant() -> str:
    return f"shopper/{uuid.uuid4().hex[:12]}"
