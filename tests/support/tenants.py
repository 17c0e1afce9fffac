"""Test tenants with their keys, made through core against the test database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.db import Database
from core.tenants import Principal, create_tenant


@dataclass(frozen=True)
class TestTenant:
    __test__ = False  # a fixture value, not a test class
    id: str
    keys: dict[str, dict[str, str]]

    def key(self, mode: str = "live", scope: str = "admin") -> str:
        return self.keys[mode][scope]

    def auth(self, mode: str = "live", scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(mode, scope)}"}

    def principal(self, mode: str = "live", scope: str = "admin") -> Principal:
        return Principal(key_id=f"test-{scope}", tenant_id=self.id, mode=mode, scope=scope)  # type: ignore[arg-type]


def make_tenant(db: Database) -> TestTenant:
    with db.transaction() as session:
        tenant, keys = create_tenant(session, name=f"tenant-{uuid.uuid4().hex[:8]}")
    return TestTenant(tenant.id, keys)
