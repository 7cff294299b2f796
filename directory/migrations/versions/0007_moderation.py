"""Moderation: verified entries, report details, commune moderators, the audit log, and
messages per account and day (the admin statistics)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN with a constant default: instant on both backends, no table rebuild
    op.add_column("entries", sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("reports", sa.Column("details", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "commune_moderators",
        sa.Column("account", sa.String(length=280), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=False),
        sa.Column("granted_by", sa.String(length=280), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "commune_insee"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=280), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("commune_insee", sa.String(length=5), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_commune_created", "audit_log", ["commune_insee", "created_at"])
    op.create_table(
        "activity",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("activity")
    op.drop_index("ix_audit_log_commune_created", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("commune_moderators")
    op.drop_column("reports", "details")
    op.drop_column("entries", "verified")
