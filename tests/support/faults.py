"""Injected faults on PostgreSQL: a trigger that makes one participant's fact insert fail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from core.db import Database


@contextmanager
def facts_refused_for(db: Database, participant_id: str) -> Iterator[None]:
    """Inside the block, inserting a fact about `participant_id` raises (a fault, not a rule),
    so whatever transaction writes one rolls back; the trigger is dropped afterwards."""
    trigger = f"refuse_{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        session.execute(text(f"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.data->>'participant_id' = '{participant_id}' THEN
                RAISE EXCEPTION 'injected failure';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT ON facts
              FOR EACH ROW EXECUTE FUNCTION {trigger}();
        """))  # fmt: skip
    try:
        yield
    finally:
        with db.transaction() as session:
            session.execute(text(f"DROP TRIGGER {trigger} ON facts; DROP FUNCTION {trigger}();"))
