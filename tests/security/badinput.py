"""Helpers for sending bad input on purpose and proving it changed nothing (issue 10 item 5)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from core.models import Base
from core.runtime import Runtime
from tests.security.conftest import World

PROBLEM_JSON = "application/problem+json"


def tenant_rows(runtime: Runtime, tenant_id: str) -> dict[str, int]:
    """Rows per table the tenant owns: every table with a tenant_id column."""
    counts = {}
    with runtime.db.transaction() as session:
        for table in Base.metadata.sorted_tables:
            if "tenant_id" in table.c:
                query = select(func.count()).select_from(table)
                counts[table.name] = session.scalar(query.where(table.c.tenant_id == tenant_id))
    return counts  # type: ignore[return-value]


@contextmanager
def nothing_changes(app: Flask, runtime: Runtime, world: World) -> Iterator[None]:
    """The owner's rows in every table, and all it can read (balances included), unchanged."""
    rows, reads = tenant_rows(runtime, world.owner.id), world.snapshot(app)
    yield
    assert tenant_rows(runtime, world.owner.id) == rows
    assert world.snapshot(app) == reads


def refused(response: TestResponse, status: int = 400, code: str = "validation_error") -> Any:
    """A clear problem+json refusal that names what was wrong; returns the document."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:500]
    assert response.mimetype == PROBLEM_JSON, text[:200]
    problem = response.get_json()
    assert problem["code"] == problem["type"] == code and problem["status"] == status
    assert problem["title"] and problem["detail"]
    assert "Traceback" not in text and "sqlalchemy" not in text.lower()
    assert "sys.set_int_max_str_digits" not in text  # Python's own words are not an answer
    if code == "validation_error":
        assert problem["errors"] and all(e["field"] and e["message"] for e in problem["errors"])
    return problem


def fields(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem["errors"]}
