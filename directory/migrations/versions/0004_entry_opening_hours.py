"""entries.opening_hours: OpenStreetMap opening hours of a place

A nullable text column, so existing rows need no value and the upgrade is instant on
both backends (no table rewrite on PostgreSQL; SQLite's ADD COLUMN only edits the schema).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("opening_hours", sa.String(length=255), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop ``entries`` and, with
    # foreign keys on, cascade to the recommendations and index rows
    op.drop_column("entries", "opening_hours")
