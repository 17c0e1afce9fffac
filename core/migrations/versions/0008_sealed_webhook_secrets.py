"""sealed webhook secrets: endpoint secrets encrypted at rest (AES-GCM)

Each endpoint's `secret` and `previous_secret` (plaintext until now) become
`sealed_secret` and `sealed_previous_secret`, sealed by core/webhooks/secret_box.py
with the key derived from the instance secret: COFFER_SECRET_KEY when set in the
environment `coffer db upgrade` runs in (the same one the API and worker must
use), else the secret stored in `instance_secrets` (created here if no process
has made it yet). The downgrade opens them again into plaintext columns.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.webhooks import secret_box

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ENDPOINTS = "webhook_endpoints"


def _rewrite(old: tuple[str, str], new: tuple[str, str], convert: object) -> None:
    """Copy each endpoint's two secrets from the `old` columns to the `new` ones, converted."""
    connection = op.get_bind()
    table = sa.table(ENDPOINTS, sa.column("endpoint_id"), *(sa.column(c) for c in (*old, *new)))
    rows = connection.execute(sa.select(table.c.endpoint_id, table.c[old[0]], table.c[old[1]]))
    for endpoint_id, current, previous in list(rows):
        values = {
            new[0]: convert(connection, current, endpoint_id=endpoint_id),  # type: ignore[operator]
            new[1]: None
            if previous is None
            else convert(connection, previous, endpoint_id=endpoint_id),  # type: ignore[operator]
        }
        connection.execute(
            sa.update(table).where(table.c.endpoint_id == endpoint_id).values(**values)
        )


def _swap(old: tuple[str, str], new: tuple[str, str], convert: object, size: int) -> None:
    with op.batch_alter_table(ENDPOINTS) as batch:
        for name in new:
            batch.add_column(sa.Column(name, sa.String(size), nullable=True))
    _rewrite(old, new, convert)
    with op.batch_alter_table(ENDPOINTS) as batch:
        for name in old:
            batch.drop_column(name)
        batch.alter_column(new[0], existing_type=sa.String(size), nullable=False)


def upgrade() -> None:
    _swap(("secret", "previous_secret"), ("sealed_secret", "sealed_previous_secret"),
          secret_box.seal, 255)  # fmt: skip


def downgrade() -> None:
    _swap(("sealed_secret", "sealed_previous_secret"), ("secret", "previous_secret"),
          secret_box.unseal, 100)  # fmt: skip
